//! Diagnostics: every problem found in a spec, with a stable code, a location and a fix.
//!
//! Schema errors and semantic errors share one [`Diagnostic`] type that carries a JSON Pointer;
//! the [`crate::config::span_index::SpanIndex`] turns the pointer into `file:line:column` only
//! when a [`Report`] is rendered. Checks therefore never deal with positions, and every check
//! reports into one list so a user sees all problems in one run.
//!
//! The text format imitates rustc (`error[code]: message`, `--> file:line:col`, a source line
//! with a caret, `= help:`), which editors and CI log viewers already link. It is rendered by hand
//! rather than through a graphical reporter so that it is byte-stable across terminals. The
//! SARIF format ([`sarif`]) carries the same items for code-scanning tools.
//!
//! Findings of a security [`Rule`] carry the rule's id, which reports show in place of the code;
//! a rule may be a [`Severity::Note`], which is reported but does not fail validation.

mod rule;
pub mod sarif;

use std::fmt::Write as _;

use serde::Serialize;

use crate::config::span_index::{Pos, SpanIndex};

pub use rule::{MAX_QUIET_AWS_SESSION, MAX_QUIET_TOKEN_LIFETIME, Rule};

/// A stable identifier for a kind of problem. `crossfed explain CODE` prints its explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// The file is not valid YAML.
    YamlSyntax,
    /// The file holds no spec.
    EmptySpec,
    /// A key the spec format does not know.
    UnknownField,
    /// A required key is absent.
    MissingField,
    /// A value has the wrong type.
    WrongType,
    /// A string does not have the required format.
    InvalidFormat,
    /// A value is not one of the allowed choices.
    InvalidChoice,
    /// A number or length is outside its allowed range.
    OutOfRange,
    /// A list holds the same item twice.
    DuplicateItem,
    /// A reference names something the spec does not declare.
    UnknownReference,
    /// Two items share a name that must be unique.
    DuplicateName,
    /// Keys that must not be combined, or a choice of which none or several were made.
    ConflictingFields,
    /// A federation's source, target and method do not fit together.
    UnsupportedCombination,
    /// A value breaks a limit of the cloud that will receive it.
    CloudLimit,
    /// A setting would make trust wider than the spec says, or could not be verified.
    Security,
    /// Two declarations disagree with each other.
    Inconsistent,
    /// A federation accepts a security rule that does not fire for it.
    UnusedAcceptance,
}

impl Code {
    /// All codes, in a stable order.
    pub const ALL: &'static [Code] = &[
        Code::YamlSyntax,
        Code::EmptySpec,
        Code::UnknownField,
        Code::MissingField,
        Code::WrongType,
        Code::InvalidFormat,
        Code::InvalidChoice,
        Code::OutOfRange,
        Code::DuplicateItem,
        Code::UnknownReference,
        Code::DuplicateName,
        Code::ConflictingFields,
        Code::UnsupportedCombination,
        Code::CloudLimit,
        Code::Security,
        Code::Inconsistent,
        Code::UnusedAcceptance,
    ];

    /// The kebab-case name shown in messages.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Code::YamlSyntax => "yaml-syntax",
            Code::EmptySpec => "empty-spec",
            Code::UnknownField => "unknown-field",
            Code::MissingField => "missing-field",
            Code::WrongType => "wrong-type",
            Code::InvalidFormat => "invalid-format",
            Code::InvalidChoice => "invalid-choice",
            Code::OutOfRange => "out-of-range",
            Code::DuplicateItem => "duplicate-item",
            Code::UnknownReference => "unknown-reference",
            Code::DuplicateName => "duplicate-name",
            Code::ConflictingFields => "conflicting-fields",
            Code::UnsupportedCombination => "unsupported-combination",
            Code::CloudLimit => "cloud-limit",
            Code::Security => "security",
            Code::Inconsistent => "inconsistent",
            Code::UnusedAcceptance => "unused-acceptance",
        }
    }

    /// A longer explanation, printed by `crossfed explain CODE`.
    #[must_use]
    pub fn explanation(self) -> &'static str {
        match self {
            Code::YamlSyntax => {
                "The spec could not be read as YAML. Check indentation (spaces, not tabs), unclosed brackets and quotes, and that every key appears once per mapping."
            }
            Code::EmptySpec => {
                "The file is empty or holds only comments. Run `crossfed init` for a commented starter spec."
            }
            Code::UnknownField => {
                "The key is not part of the spec format, usually a typo. Unknown keys are errors rather than being ignored, because an ignored security setting is worse than a failed run. The JSON Schema (`crossfed schema`) lists every key; editors with the schema underline the key as you type."
            }
            Code::MissingField => {
                "A key that has no sensible default is absent. The message names it; the schema describes it."
            }
            Code::WrongType => {
                "The value has the wrong type. Identifiers made of digits (AWS account ids, project numbers, unique ids) must be quoted, or YAML reads them as numbers and drops leading zeros."
            }
            Code::InvalidFormat => {
                "The value does not have the format of what it names (an ARN, an account id, a Kubernetes name, ...). The help says what the format is and where to copy the value from."
            }
            Code::InvalidChoice => {
                "The value must be one of a fixed set of words; the message lists them."
            }
            Code::OutOfRange => {
                "A number or length is outside the range the receiving cloud accepts."
            }
            Code::DuplicateItem => "A list holds the same item twice.",
            Code::UnknownReference => {
                "A federation (or a cluster, pool, ...) refers to something by name that the spec does not declare. Declare it, or fix the name; the help suggests the closest declared one."
            }
            Code::DuplicateName => {
                "Names are how the spec refers to things and how output files are named, so they must be unique."
            }
            Code::ConflictingFields => {
                "Some keys choose between alternatives (`from.gke` or `from.eks` or ...). Exactly one alternative must be given, and keys that belong to another alternative must be left out."
            }
            Code::UnsupportedCombination => {
                "The federation's source, target and method do not fit together, e.g. an EKS pod through a GCP AWS provider (Google's AWS credential source cannot read IRSA tokens and would silently use the node's role)."
            }
            Code::CloudLimit => {
                "A value breaks a documented limit of AWS IAM/STS, GCP IAM or Kubernetes, so the cloud would reject it at apply time. Catching it here keeps a half-applied setup from happening."
            }
            Code::Security => {
                "The spec asks for trust that crossfed will not emit: a policy, binding or provider that would admit identities the spec did not name, or an endpoint that is not the real cloud endpoint."
            }
            Code::Inconsistent => {
                "Two parts of the spec disagree (an issuer URL for another region, a role ARN in another partition, ...)."
            }
            Code::UnusedAcceptance => {
                "A federation's `accept` list names a security rule that does not fire for that federation, so there is nothing to accept. Remove the entry: acceptances that no longer match anything would otherwise rot, and silently cover the risk if it came back for another reason."
            }
        }
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The spec cannot be rendered.
    Error,
    /// Worth knowing; the spec still validates and renders.
    Note,
}

impl Severity {
    /// The word reports use: `error`, `note` (also SARIF's `level`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Note => "note",
        }
    }
}

/// Which part of a mapping entry a diagnostic points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The key (for unknown or misplaced keys).
    Key,
    /// The value.
    Value,
}

/// One problem in a spec.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// What kind of problem.
    pub code: Code,
    /// How bad.
    pub severity: Severity,
    /// JSON Pointer to the offending node.
    pub pointer: String,
    /// Whether to point at the key or the value.
    pub anchor: Anchor,
    /// What is wrong, lower-case, naming values in backticks.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// The security rule that found it, if any.
    pub rule: Option<Rule>,
}

impl Diagnostic {
    /// An error about the value at `pointer`.
    pub fn error(code: Code, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            pointer: pointer.into(),
            anchor: Anchor::Value,
            message: message.into(),
            help: None,
            rule: None,
        }
    }

    /// A finding of security rule `rule`, with the rule's severity and the code `security`.
    pub fn rule(rule: Rule, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: rule.severity(),
            rule: Some(rule),
            ..Diagnostic::error(Code::Security, pointer, message)
        }
    }

    /// Adds the fix.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Points at the key rather than the value.
    #[must_use]
    pub fn at_key(mut self) -> Self {
        self.anchor = Anchor::Key;
        self
    }
}

/// Turns `/federations/1/from/namespace` into `federations[1].from.namespace`.
#[must_use]
pub fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            let _ = write!(out, "[{token}]");
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    if out.is_empty() {
        "(root)".to_owned()
    } else {
        out
    }
}

/// A diagnostic placed in its file.
#[derive(Debug, Clone, Serialize)]
pub struct Located {
    /// The spec file, as given on the command line.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The field path, e.g. `federations[1].from.namespace`.
    pub path: String,
    /// The stable code.
    pub code: Code,
    /// The severity.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The security rule that found it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
    #[serde(skip)]
    width: usize,
}

impl Located {
    /// The id reports show: the rule's id for a rule's finding, else the code.
    #[must_use]
    pub fn id(&self) -> &'static str {
        self.rule.map_or_else(|| self.code.as_str(), Rule::as_str)
    }
}

/// The characters of a source line shown around the column a diagnostic points at.
const SNIPPET_CHARS: usize = 240;

/// The source line as printed (unprintable characters escaped, and at most about
/// [`SNIPPET_CHARS`] characters around `column`, cut with `…`), and the blanks that put a caret
/// under `column`.
fn snippet(line: &str, column: usize) -> (String, String) {
    let chars: Vec<char> = line.chars().collect();
    let at = column.saturating_sub(1).min(chars.len());
    // The whole line when it fits; else a window with the column in its middle.
    let start = if chars.len() <= SNIPPET_CHARS {
        0
    } else {
        at.saturating_sub(SNIPPET_CHARS / 2)
            .min(chars.len() - SNIPPET_CHARS)
    };
    let end = (start + SNIPPET_CHARS).min(chars.len());
    let (mut text, mut caret) = (String::new(), String::new());
    if start > 0 {
        text.push('…');
        caret.push(' ');
    }
    for (i, &c) in chars.iter().enumerate().take(end).skip(start) {
        let shown: String = if unprintable(c) && c != '\t' {
            c.escape_unicode().collect()
        } else {
            c.to_string()
        };
        if i < at {
            caret.extend(shown.chars().map(|c| if c == '\t' { '\t' } else { ' ' }));
        }
        text.push_str(&shown);
    }
    if end < chars.len() {
        text.push('…');
    }
    (text, caret)
}

/// The longest spec value a message quotes in full; longer ones are cut with an ellipsis.
const MAX_QUOTED_CHARS: usize = 256;

/// Whether printing `c` could move the cursor, change colours or reorder text on a terminal:
/// control characters, line and paragraph separators, and bidirectional overrides.
pub(crate) fn unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` safe to print on a terminal or in a CI log: messages quote spec values between
/// backticks, and a spec is anybody's input, so each unprintable character is shown as its
/// escape (`\u{1b}`) and a quoted value longer than [`MAX_QUOTED_CHARS`] is cut with `…`.
#[must_use]
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        let quoted = i % 2 == 1;
        for (n, c) in part.chars().enumerate() {
            if quoted && n == MAX_QUOTED_CHARS - 1 && part.chars().nth(MAX_QUOTED_CHARS).is_some() {
                out.push('…');
                break;
            }
            if unprintable(c) {
                out.extend(c.escape_unicode());
            } else {
                out.push(c);
            }
        }
    }
    // A value with a stray backtick turns the quoting inside out: cap the whole text too.
    if let Some((cut, _)) = out.char_indices().nth(MAX_TEXT_CHARS) {
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// The longest message or help text printed in full.
const MAX_TEXT_CHARS: usize = 2_000;

/// All diagnostics of one spec file, placed and sorted, ready to print.
#[derive(Debug, Clone)]
pub struct Report {
    source: String,
    /// The placed diagnostics, sorted by position.
    pub items: Vec<Located>,
}

impl Located {
    /// Diagnostic `d` of `file`, at `pos`, `width` characters wide, its texts made printable.
    fn of(file: &str, d: &Diagnostic, pos: Pos, width: usize) -> Self {
        Located {
            file: printable(file),
            line: pos.line,
            column: pos.column,
            path: display_path(&d.pointer),
            code: d.code,
            severity: d.severity,
            message: printable(&d.message),
            help: d.help.as_deref().map(printable),
            rule: d.rule,
            width,
        }
    }
}

impl Report {
    /// Places `diagnostics` in `file` and sorts them by position (then code, then message).
    #[must_use]
    pub fn new(file: &str, source: &str, index: &SpanIndex, diagnostics: &[Diagnostic]) -> Self {
        // An organisation's spec has thousands of notes, each looked up and made printable
        // on its own: side by side.
        let mut items: Vec<Located> = crate::par::map(diagnostics, 500, |d| {
            let (pos, width) = match index.lookup(&d.pointer) {
                Some((found, span)) => match (d.anchor, span.key) {
                    // Point at the key when asked, or when the exact node is missing and we
                    // fell back to an ancestor (a missing field is reported on its parent).
                    (Anchor::Key, Some(key)) => key,
                    _ if found != d.pointer && span.key.is_some() => span.key.unwrap_or(span.value),
                    _ => span.value,
                },
                None => (Pos { line: 1, column: 1 }, 1),
            };
            Located::of(file, d, pos, width)
        });
        items.sort_by(|a, b| {
            (a.line, a.column, a.code, &a.message).cmp(&(b.line, b.column, b.code, &b.message))
        });
        items.dedup_by(|a, b| a.line == b.line && a.column == b.column && a.message == b.message);
        Report {
            source: source.to_owned(),
            items,
        }
    }

    /// A report of one diagnostic at a known position (YAML syntax errors have no pointer).
    #[must_use]
    pub fn at(file: &str, source: &str, line: usize, column: usize, d: &Diagnostic) -> Self {
        let item = Located::of(file, d, Pos { line, column }, 1);
        Report {
            source: source.to_owned(),
            items: vec![item],
        }
    }

    /// Whether any error was found.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|i| i.severity == Severity::Error)
    }

    /// The human format: one rustc-style block per diagnostic and a count.
    #[must_use]
    pub fn to_text(&self) -> String {
        /// Notes shown in full; past this, an organisation's spec would bury its errors.
        const MAX_NOTES_SHOWN: usize = 20;
        let mut out = String::new();
        // Indexed once: looking each item's line up from the top is quadratic on a large spec.
        let lines: Vec<&str> = self.source.lines().collect();
        let mut notes_shown = 0;
        for item in &self.items {
            if item.severity == Severity::Note {
                notes_shown += 1;
                if notes_shown > MAX_NOTES_SHOWN {
                    continue;
                }
            }
            let _ = writeln!(
                out,
                "{}[{}]: {}",
                item.severity.as_str(),
                item.id(),
                item.message
            );
            let line_no = item.line.to_string();
            let pad = " ".repeat(line_no.len());
            let _ = writeln!(out, "{pad}--> {}:{}:{}", item.file, item.line, item.column);
            if let Some(text) = lines.get(item.line - 1) {
                let (text, caret_at) = snippet(text.trim_end(), item.column);
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{line_no} | {text}");
                let _ = writeln!(
                    out,
                    "{pad} | {caret_at}{}",
                    "^".repeat(item.width.clamp(1, SNIPPET_CHARS / 2))
                );
            }
            let _ = writeln!(out, "{pad} = at: {}", item.path);
            if let Some(help) = &item.help {
                let _ = writeln!(out, "{pad} = help: {help}");
            }
            out.push('\n');
        }
        let count = |severity: Severity| {
            let n = self.items.iter().filter(|i| i.severity == severity).count();
            let word = severity.as_str();
            (n > 0).then(|| format!("{n} {word}{}", if n == 1 { "" } else { "s" }))
        };
        let counts: Vec<String> = [count(Severity::Error), count(Severity::Note)]
            .into_iter()
            .flatten()
            .collect();
        let counts = if counts.is_empty() {
            "0 errors".to_owned()
        } else {
            counts.join(" and ")
        };
        if notes_shown > MAX_NOTES_SHOWN {
            let _ = writeln!(
                out,
                "({} more notes not shown: `--format json` or `--format sarif` lists every finding)",
                notes_shown - MAX_NOTES_SHOWN
            );
        }
        let _ = writeln!(out, "{counts} in {}", self.file_name());
        out
    }

    fn file_name(&self) -> &str {
        self.items.first().map_or("spec", |i| i.file.as_str())
    }

    /// Whether nothing was found.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The machine format for CI tools: a JSON array.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.items).unwrap_or_else(|_| "[]".to_owned());
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::{printable, snippet};

    #[test]
    fn printed_text_escapes_what_a_terminal_would_act_on() {
        assert_eq!(
            printable("`\u{1b}[2Jok\u{2028}\u{202E}` is wrong"),
            "`\\u{1b}[2Jok\\u{2028}\\u{202e}` is wrong"
        );
        let long = format!("value `{}` is wrong", "x".repeat(500));
        let shown = printable(&long);
        assert!(shown.ends_with("…` is wrong"), "{shown}");
        assert_eq!(shown.chars().filter(|c| *c == 'x').count(), 255);
        // Text outside backticks is capped too (a stray backtick in a value turns the quoting
        // inside out).
        let stray = format!("`a` b {}", "y".repeat(5000));
        assert_eq!(printable(&stray).chars().count(), 2_001);
    }

    #[test]
    fn long_lines_are_shown_around_the_column() {
        let line = format!("key: {}", "z".repeat(1000));
        let (text, caret) = snippet(&line, 500);
        assert!(text.starts_with('…') && text.ends_with('…'));
        assert_eq!(text.chars().count(), 242);
        // The caret sits under the 500th character of the line.
        let under = text.chars().nth(caret.chars().count()).unwrap();
        assert_eq!(under, line.chars().nth(499).unwrap());
        let (text, caret) = snippet("a\u{1b}b", 3);
        assert_eq!(text, "a\\u{1b}b");
        assert_eq!(caret.len(), "a\\u{1b}".len());
    }

    use super::*;

    #[test]
    fn codes_are_unique_and_listed_once() {
        let mut names: Vec<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
        for code in Code::ALL {
            assert!(!code.explanation().is_empty());
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }

    #[test]
    fn paths_read_like_code() {
        assert_eq!(
            display_path("/federations/1/from/namespace"),
            "federations[1].from.namespace"
        );
        assert_eq!(display_path(""), "(root)");
        assert_eq!(display_path("/a~1b"), "a/b");
    }
}
