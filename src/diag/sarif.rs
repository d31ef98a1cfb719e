//! The SARIF 2.1.0 form of a [`Report`], for code-scanning tools (GitHub code scanning, IDE
//! SARIF viewers): one run of the tool `crossfed`, whose `rules` list every diagnostic code and
//! security rule, and one result per diagnostic.
//!
//! Built as `serde_json` data, never as text, so every string is escaped by the serializer. A
//! result's `ruleId` is the id the text report shows ([`super::Located::id`]): the rule's id for a
//! security finding, else the code. Columns count characters, like the text report, so the run
//! declares `columnKind: unicodeCodePoints` rather than SARIF's default of UTF-16 code units.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{Code, Report, Rule, Severity};

/// The schema the output conforms to, as SARIF producers name it.
pub const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// One `reportingDescriptor` of `tool.driver.rules`.
fn descriptor(id: &str, short: &str, full: &str, level: Severity) -> Value {
    json!({
        "id": id,
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": format!("{full}\n\n`crossfed explain {id}` prints this text.")},
        "defaultConfiguration": {"level": level.as_str()},
    })
}

/// The first sentence of a code's explanation, its short description.
fn first_sentence(text: &str) -> String {
    match text.split_once(". ") {
        Some((first, _)) => format!("{first}."),
        None => text.to_owned(),
    }
}

/// Every code and rule, in a stable order (codes, then rules).
fn descriptors() -> Vec<Value> {
    let codes = Code::ALL.iter().map(|code| {
        descriptor(
            code.as_str(),
            &first_sentence(code.explanation()),
            code.explanation(),
            Severity::Error,
        )
    });
    let rules = Rule::ALL.iter().map(|rule| {
        descriptor(
            rule.as_str(),
            rule.description(),
            rule.explanation(),
            rule.severity(),
        )
    });
    codes.chain(rules).collect()
}

/// A path as a relative URI reference: every byte outside RFC 3986's unreserved set and `/` is
/// percent-encoded (a space, `#` or `?` in a file name would otherwise change the URI's meaning).
#[must_use]
pub fn path_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

impl Report {
    /// The SARIF 2.1.0 log of this report.
    #[must_use]
    pub fn to_sarif_value(&self) -> Value {
        let rules = descriptors();
        let index: BTreeMap<&str, usize> = rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((r["id"].as_str()?, i)))
            .collect();
        let results: Vec<Value> = self
            .items
            .iter()
            .map(|item| {
                let text = match &item.help {
                    Some(help) => format!("{}\nhelp: {help}", item.message),
                    None => item.message.clone(),
                };
                json!({
                    "ruleId": item.id(),
                    // Every code and rule has a descriptor (tested).
                    "ruleIndex": index.get(item.id()),
                    "level": item.severity.as_str(),
                    "message": {"text": text},
                    "locations": [{
                        "physicalLocation": {
                            "artifactLocation": {"uri": path_uri(&item.file)},
                            "region": {"startLine": item.line, "startColumn": item.column},
                        },
                        "logicalLocations": [{"fullyQualifiedName": item.path}],
                    }],
                })
            })
            .collect();
        json!({
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "crossfed",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }],
        })
    }

    /// The SARIF 2.1.0 log of this report, pretty-printed, with one trailing newline.
    #[must_use]
    pub fn to_sarif(&self) -> String {
        // `{:#}` is serde_json's pretty printer, as `to_string_pretty`, without its `Result`.
        format!(
            "{:#}
",
            self.to_sarif_value()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_relative_uri_references() {
        assert_eq!(
            path_uri("fixtures/invalid/a-b_c.yaml"),
            "fixtures/invalid/a-b_c.yaml"
        );
        assert_eq!(path_uri("my spec#1?.yaml"), "my%20spec%231%3F.yaml");
        assert_eq!(path_uri("é.yaml"), "%C3%A9.yaml");
    }

    #[test]
    fn every_code_and_rule_is_described_once() {
        let rules = descriptors();
        assert_eq!(rules.len(), Code::ALL.len() + Rule::ALL.len());
        let mut ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), rules.len());
    }
}
