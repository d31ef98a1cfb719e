//! `crossfed explain`.

use std::path::PathBuf;

use clap::Args;

use crossfed::diag::{Code, Rule};

use super::{DEFAULT_SPEC, Failure, Outcome};

/// Arguments of `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A federation name from the spec, a diagnostic code such as `unknown-field`, or a security
    /// rule id such as `long-session`; omit to list the codes and rules.
    pub topic: Option<String>,
    /// The spec that declares the federation.
    #[arg(long, default_value = DEFAULT_SPEC)]
    pub spec: PathBuf,
}

/// Explains a federation's trust chain, a diagnostic code or a security rule.
///
/// # Errors
/// When the topic is neither, or the spec is invalid.
pub fn run(args: &ExplainArgs) -> Result<Outcome, Failure> {
    let Some(topic) = &args.topic else {
        for code in Code::ALL {
            super::out_line(format_args!(
                "{:<24} {}",
                code.as_str(),
                first_sentence(code.explanation())
            ));
        }
        super::out_line(format_args!(
            "\nSecurity rules (accept one per federation with `accept: [{{rule: ID, reason: ...}}]`):"
        ));
        for rule in Rule::ALL {
            super::out_line(format_args!(
                "{}\n    {}",
                rule.as_str(),
                rule.description()
            ));
        }
        return Ok(Outcome::Success);
    };
    let known = |topic: &str| {
        Code::ALL.iter().any(|c| c.as_str() == topic) || Rule::from_id(topic).is_some()
    };
    // A federation of the spec wins over a code of the same name: it is what the user is looking at.
    let mut federations: Vec<String> = Vec::new();
    let spec_found = match std::fs::read_to_string(&args.spec) {
        Ok(source) => {
            let file = args.spec.display().to_string();
            match crossfed::validate::validate(&file, &source) {
                Ok(plan) => {
                    if let Some(text) = crossfed::render::summary::explain(&plan, topic) {
                        super::out(format_args!("{text}"));
                        return Ok(Outcome::Success);
                    }
                    federations = plan.by_name.into_keys().collect();
                }
                Err(report) if !known(topic) => {
                    eprint!("{}", report.to_text());
                    return Ok(Outcome::Findings);
                }
                Err(_) => {}
            }
            true
        }
        Err(_) => false,
    };
    if let Some(rule) = Rule::from_id(topic) {
        let severity = rule.severity().as_str();
        super::out_line(format_args!(
            "{} (security rule, {severity} unless accepted)\n\n{}\n\n{}",
            rule.as_str(),
            rule.description(),
            rule.explanation()
        ));
        return Ok(Outcome::Success);
    }
    match Code::ALL.iter().find(|c| c.as_str() == topic) {
        Some(code) => {
            super::out_line(format_args!("{}\n\n{}", code.as_str(), code.explanation()));
            Ok(Outcome::Success)
        }
        None if !spec_found => Err(Failure::Refused(format!(
            "`{topic}` is not a diagnostic code or a security rule, and there is no spec at `{}` to find a federation of that name in; pass the spec with `--spec PATH` (`crossfed explain` lists the codes and rules)",
            args.spec.display()
        ))),
        None => {
            let candidates = federations
                .iter()
                .map(String::as_str)
                .chain(Code::ALL.iter().map(|c| c.as_str()))
                .chain(Rule::ALL.iter().map(|r| r.as_str()));
            let hint = crossfed::validate::schema::closest(topic, candidates)
                .map(|best| format!("did you mean `{best}`? "))
                .unwrap_or_default();
            Err(Failure::Refused(format!(
                "`{topic}` is neither a federation in `{}`, a diagnostic code nor a security rule; {hint}`crossfed explain` lists the codes and rules",
                args.spec.display()
            )))
        }
    }
}

fn first_sentence(text: &str) -> &str {
    // The first ". " that ends a sentence: not the one of an abbreviation ("e.g. ", "i.e. ").
    let mut from = 0;
    while let Some(at) = text[from..].find(". ").map(|i| from + i) {
        let before = &text[..at];
        if !(before.ends_with("e.g") || before.ends_with("i.e") || before.ends_with("etc")) {
            return before;
        }
        from = at + 2;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::first_sentence;

    #[test]
    fn a_summary_is_a_whole_sentence() {
        assert_eq!(
            first_sentence("Parts that must fit together, e.g. a source and a method. More."),
            "Parts that must fit together, e.g. a source and a method"
        );
        assert_eq!(first_sentence("One. Two."), "One");
        assert_eq!(first_sentence("No full stop"), "No full stop");
    }
}
