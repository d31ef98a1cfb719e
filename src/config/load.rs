//! Reading a spec file: YAML text to a JSON value, and, when the text is in the plain subset that
//! specs are written in, the span index that locates diagnostics, from the same parse (see
//! [`span_index::load`]). Other text is parsed by serde-saphyr, and its index is built later,
//! only if there is something to report.
//!
//! Every YAML parse in crossfed goes through [`parse_yaml`], which owns the parser options:
//! YAML 1.2 core booleans only (`yes`/`on` stay strings and fail the schema, rather than
//! silently becoming `true`), duplicate keys are errors, and serde-saphyr's default budgets guard
//! against alias bombs and deep nesting. The value is untyped on purpose: the JSON Schema check
//! runs on it first, so users get schema-quality messages, and only then is it deserialized into
//! [`crate::config::RawSpec`].

use serde_json::Value;

use crate::config::span_index::{self, SpanIndex};
use crate::diag::{Code, Diagnostic};

/// A parsed spec: its value, and its span index when the parse could build it.
#[derive(Debug)]
pub struct Loaded {
    /// The document.
    pub value: Value,
    /// The index, when the one-pass loader took the text.
    pub spans: Option<SpanIndex>,
}

/// Parses `source` as one YAML document; with `spans`, also its span index when the one-pass
/// loader takes the text (callers that only locate errors skip it and build the index on
/// failure).
///
/// # Errors
/// As [`parse_yaml`].
pub fn load(source: &str, spans: bool) -> Result<Loaded, SyntaxError> {
    if let Some((value, index)) = span_index::load(source, spans) {
        return Ok(Loaded {
            value,
            spans: spans.then_some(index),
        });
    }
    parse_yaml(source).map(|value| Loaded { value, spans: None })
}

/// Parses `source` as one YAML document.
///
/// # Errors
/// A [`Code::YamlSyntax`] diagnostic (with its position folded into the message's pointer-less
/// form, see [`SyntaxError`]) when the text is not YAML, or [`Code::EmptySpec`] when it holds
/// nothing.
pub fn parse_yaml(source: &str) -> Result<Value, SyntaxError> {
    // The binary refuses a malformed setting before it reads a spec; here it counts as unset.
    let factor = expansion().unwrap_or(1);
    let options = serde_saphyr::options! {
        strict_booleans: true,
        budget: Some(budget(source.len(), factor)),
    };
    match serde_saphyr::from_str_with_options::<Value>(source, options) {
        Ok(Value::Null) => Err(SyntaxError {
            line: 1,
            column: 1,
            diagnostic: Diagnostic::error(Code::EmptySpec, "", "the spec is empty")
                .help("start from `crossfed init`, which writes a commented example spec"),
        }),
        Ok(value) => Ok(value),
        Err(error) => {
            let (line, column) = error.location().map_or((1, 1), |l| {
                (
                    usize::try_from(l.line()).unwrap_or(1),
                    usize::try_from(l.column()).unwrap_or(1),
                )
            });
            let raw = error.without_snippet().to_string();
            let message = strip_location(&raw);
            let (message, help) = humanize(message, factor);
            Err(SyntaxError {
                line: line.max(1),
                column: column.max(1),
                diagnostic: Diagnostic::error(Code::YamlSyntax, "", message).help(help),
            })
        }
    }
}

/// The environment variable that raises the parser's budgets by a whole factor (see [`budget`]),
/// for a spec whose aliases legitimately expand past its text.
pub const EXPANSION_VAR: &str = "CROSSFED_YAML_EXPANSION";

/// The largest factor [`EXPANSION_VAR`] takes: enough for any spec written with aliases, while an
/// alias bomb still stops within bounded memory.
pub const MAX_EXPANSION: usize = 100;

/// The factor [`EXPANSION_VAR`] sets: 1 when unset.
///
/// # Errors
/// When it is set to anything but a whole number from 1 to [`MAX_EXPANSION`], a message that says
/// so.
pub fn expansion() -> Result<usize, String> {
    let Some(raw) = std::env::var_os(EXPANSION_VAR) else {
        return Ok(1);
    };
    raw.to_str()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|n| (1..=MAX_EXPANSION).contains(n))
        .ok_or_else(|| {
            format!(
                "{EXPANSION_VAR} must be a whole number from 1 to {MAX_EXPANSION}, not `{}`",
                raw.to_string_lossy()
            )
        })
}

/// serde-saphyr's budgets, scaled to the input and then by `factor` ([`EXPANSION_VAR`]). Text
/// without aliases yields at most about one node per byte (`[a,b]` is three nodes in five bytes)
/// and two events per node, so budgets proportional to the length admit any honest spec however
/// large (an organisation's spec of 50,000 federations is about 18 MB), while an alias bomb,
/// whose expansion dwarfs its text, still breaches them. The defaults stay the floor.
fn budget(bytes: usize, factor: usize) -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    let scaled = bytes.saturating_mul(factor);
    budget.max_nodes = budget.max_nodes.saturating_mul(factor).max(scaled);
    budget.max_events = budget
        .max_events
        .saturating_mul(factor)
        .max(scaled.saturating_mul(2));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(scaled);
    budget.max_aliases = budget.max_aliases.saturating_mul(factor);
    budget.alias_anchor_ratio_multiplier =
        budget.alias_anchor_ratio_multiplier.saturating_mul(factor);
    budget
}

/// A YAML error: it has a position but no pointer, since there is no tree to point into.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The diagnostic (its pointer is the root).
    pub diagnostic: Diagnostic,
}

/// serde-saphyr appends " at line L, column C"; we print the position ourselves.
fn strip_location(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    }
}

fn humanize(message: &str, factor: usize) -> (String, String) {
    if let Some(breach) = message.strip_prefix("budget breached: ") {
        // `Nodes { nodes: 250001 } at line …`: the budget's name and its figure.
        let kind = match breach.split([' ', '{']).next().unwrap_or("") {
            "Nodes" => "nodes".to_owned(),
            "Events" => "parser events".to_owned(),
            "Aliases" => "aliases".to_owned(),
            "AliasAnchorRatio" => "aliases per anchor".to_owned(),
            "ScalarBytes" => "bytes of scalars".to_owned(),
            "Depth" => "nesting depth".to_owned(),
            other => other.to_lowercase(),
        };
        let figure: String = breach
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(char::is_ascii_digit)
            .collect();
        let raised = (factor * 4).min(MAX_EXPANSION);
        let help = if factor >= MAX_EXPANSION {
            format!(
                "the limits grow with the file's size, and {EXPANSION_VAR} is at its most ({MAX_EXPANSION}): aliases (`*name`) expand far beyond the text; write the values out instead of repeating aliases"
            )
        } else {
            format!(
                "the limits grow with the file's size, so only aliases (`*name`) that expand far beyond the text reach them: write the values out instead of repeating aliases, or, if the expansion is intended, raise the limits {raised}-fold with `{EXPANSION_VAR}={raised}` (now {factor})"
            )
        };
        return (
            format!("the YAML expands past the parser's limit on {kind} ({figure})"),
            help,
        );
    }
    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.split(',').next().unwrap_or(key).trim();
        return (
            format!("duplicate key `{key}`"),
            "each key may appear once per mapping; delete or merge the repeated entry".to_owned(),
        );
    }
    if message.starts_with("multiple YAML documents") {
        return (
            "the file holds more than one YAML document".to_owned(),
            "a spec is one document: remove the `---` separator and merge the documents".to_owned(),
        );
    }
    let help = if message.contains("tab") {
        "indent with spaces; YAML does not allow tabs for indentation"
    } else {
        "check the indentation and that brackets and quotes are closed on or before this line"
    };
    (message.to_owned(), help.to_owned())
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    #[test]
    fn yaml_11_booleans_stay_strings() {
        let value = parse_yaml("a: yes\nb: true\n").unwrap();
        assert_eq!(value["a"], "yes");
        assert_eq!(value["b"], true);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let error = parse_yaml("a: 1\na: 2\n").unwrap_err();
        assert_eq!((error.line, error.column), (2, 1));
        assert_eq!(error.diagnostic.message, "duplicate key `a`");
    }

    #[test]
    fn empty_is_an_error() {
        assert_eq!(
            parse_yaml("# nothing\n").unwrap_err().diagnostic.code,
            Code::EmptySpec
        );
    }

    #[test]
    fn budgets_grow_with_honest_input() {
        // 260,000 nodes: over serde-saphyr's default of 250,000, yet one node per few bytes.
        let mut text = String::from("items:\n");
        for i in 0..260_000 {
            let _ = writeln!(text, "  - {i}");
        }
        let value = parse_yaml(&text).unwrap();
        assert_eq!(value["items"].as_array().unwrap().len(), 260_000);
    }

    #[test]
    fn alias_bombs_are_still_refused() {
        // Nine levels of ten aliases each: 10^9 nodes from a few hundred bytes.
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..10 {
            let previous = format!("*a{}", level - 1);
            let items = [previous.as_str(); 10].join(", ");
            let _ = writeln!(text, "a{level}: &a{level} [{items}]");
        }
        let error = parse_yaml(&text).unwrap_err().diagnostic;
        assert_eq!(error.code, Code::YamlSyntax);
        assert!(
            error
                .message
                .starts_with("the YAML expands past the parser's limit on "),
            "{}",
            error.message
        );
        assert!(error.help.unwrap().contains("aliases (`*name`)"));
    }

    #[test]
    fn the_expansion_factor_raises_every_budget_that_aliases_reach() {
        let one = budget(1000, 1);
        let four = budget(1000, 4);
        assert_eq!(four.max_nodes, one.max_nodes * 4);
        assert_eq!(four.max_events, one.max_events * 4);
        assert_eq!(four.max_aliases, one.max_aliases * 4);
        assert_eq!(
            four.alias_anchor_ratio_multiplier,
            one.alias_anchor_ratio_multiplier * 4
        );
        // Large text: proportional to the bytes times the factor.
        let large = budget(20_000_000, 4);
        assert_eq!(large.max_nodes, 80_000_000);
        assert_eq!(large.max_events, 160_000_000);
        assert_eq!(large.max_total_scalar_bytes, 80_000_000);
    }

    #[test]
    fn an_honest_alias_heavy_spec_loads_once_the_limits_are_raised() {
        // One anchored list of 1,000 items, aliased 300 times: 300,000 nodes from 5 KB.
        let items = ["x"; 1000].join(", ");
        let mut text = format!("common: &c [{items}]\nall:\n");
        for _ in 0..300 {
            text.push_str("  - *c\n");
        }
        let refused = |factor| {
            let options = serde_saphyr::options! {
                strict_booleans: true,
                budget: Some(budget(text.len(), factor)),
            };
            serde_saphyr::from_str_with_options::<Value>(&text, options).is_err()
        };
        assert!(refused(1));
        assert!(!refused(30));
    }

    #[test]
    fn a_budget_error_names_the_setting_that_raises_it() {
        let (message, help) = humanize("budget breached: Nodes { nodes: 250001 }", 1);
        assert_eq!(
            message,
            "the YAML expands past the parser's limit on nodes (250001)"
        );
        assert!(
            help.contains("`CROSSFED_YAML_EXPANSION=4` (now 1)"),
            "{help}"
        );
        let (message, _) = humanize("budget breached: AliasAnchorRatio { aliases: 300 }", 1);
        assert_eq!(
            message,
            "the YAML expands past the parser's limit on aliases per anchor (300)"
        );
        let (_, help) = humanize("budget breached: Nodes { nodes: 250001 }", 40);
        assert!(
            help.contains("`CROSSFED_YAML_EXPANSION=100` (now 40)"),
            "{help}"
        );
        let (_, help) = humanize("budget breached: Nodes { nodes: 250001 }", 100);
        assert!(help.contains("at its most (100)"), "{help}");
    }
}
