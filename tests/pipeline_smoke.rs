//! The fuzz target's path (`fuzz/fuzz_targets/pipeline.rs`), as a short property-based smoke that
//! `cargo test` runs: every fixture, cut short, with characters replaced by ones that matter to
//! YAML and with lines of another fixture spliced in, goes through load → validate → plan →
//! render in memory. crossfed must answer with files or with located diagnostics, never panic;
//! a render error on a spec that validated is a crossfed bug and fails the test too.
//!
//! The long run is `fuzz/run.sh` (cargo-fuzz, at least ten minutes before a release). More cases
//! here: `PROPTEST_CASES=5000 cargo test --release --test pipeline_smoke`.

use std::path::Path;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crossfed::pipeline::{PipelineError, SpecText, plan_files};

/// Characters that change how YAML reads a document, and a few plain ones.
const YAML_CHARS: &[char] = &[
    ':', '-', '{', '}', '[', ']', '"', '\'', '&', '*', '!', '|', '>', '#', '%', '@', ',', '?',
    '\n', ' ', '\t', '0', '9', 'a', 'Z', '.', '/', '\u{feff}', 'é', '\u{202e}',
];

fn fixtures() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut texts = Vec::new();
    for kind in ["valid", "invalid"] {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(kind))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for path in paths {
            texts.push(std::fs::read_to_string(path).unwrap());
        }
    }
    texts
}

/// What one mutated spec is made of.
#[derive(Debug, Clone)]
struct Mutation {
    fixture: Index,
    /// Characters replaced: (position, replacement).
    edits: Vec<(Index, Index)>,
    /// Lines of another fixture inserted at a line: (other fixture, its first line, count, at).
    splice: Option<(Index, Index, usize, Index)>,
    /// Where to cut the text short, if at all.
    cut: Option<Index>,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (
        any::<Index>(),
        prop::collection::vec((any::<Index>(), any::<Index>()), 0..6),
        prop::option::of((any::<Index>(), any::<Index>(), 1..8usize, any::<Index>())),
        prop::option::weighted(0.2, any::<Index>()),
    )
        .prop_map(|(fixture, edits, splice, cut)| Mutation {
            fixture,
            edits,
            splice,
            cut,
        })
}

fn apply(fixtures: &[String], m: &Mutation) -> String {
    let mut lines: Vec<String> = fixtures[m.fixture.index(fixtures.len())]
        .lines()
        .map(str::to_owned)
        .collect();
    if let Some((other, first, count, at)) = &m.splice {
        let other: Vec<&str> = fixtures[other.index(fixtures.len())].lines().collect();
        let first = first.index(other.len());
        let taken: Vec<String> = other[first..(first + count).min(other.len())]
            .iter()
            .map(|l| (*l).to_owned())
            .collect();
        let at = at.index(lines.len() + 1);
        lines.splice(at..at, taken);
    }
    let mut chars: Vec<char> = (lines.join("\n") + "\n").chars().collect();
    for (position, replacement) in &m.edits {
        let position = position.index(chars.len());
        chars[position] = YAML_CHARS[replacement.index(YAML_CHARS.len())];
    }
    if let Some(cut) = &m.cut {
        chars.truncate(cut.index(chars.len() + 1));
    }
    chars.into_iter().collect()
}

/// One spec through the pipeline, as the fuzz target runs it.
fn run(source: &str) -> Result<bool, String> {
    let spec = SpecText {
        file: "mutated.yaml",
        name: "mutated.yaml",
        source,
    };
    match plan_files(spec) {
        Ok(files) if files.is_empty() => Err("a valid spec rendered no files".to_owned()),
        Ok(_) => Ok(true),
        Err(PipelineError::Invalid(report)) => {
            if report.items.is_empty() || report.to_text().is_empty() {
                return Err("an invalid spec got no diagnostic".to_owned());
            }
            for item in &report.items {
                if item.line < 1 || item.column < 1 {
                    return Err(format!("a diagnostic without a place: {item:?}"));
                }
            }
            let _ = report.to_json();
            Ok(false)
        }
        Err(error) => Err(format!("render failed on a valid spec: {error}")),
    }
}

#[test]
fn mutated_fixtures_get_files_or_located_diagnostics() {
    let fixtures = fixtures();
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 512;
    }
    // A failure prints its shrunk input; nothing is written into the source tree.
    config.failure_persistence = None;
    let valid = std::sync::atomic::AtomicUsize::new(0);
    let result = TestRunner::new(config).run(&mutation(), |m| {
        let source = apply(&fixtures, &m);
        let outcome = std::panic::catch_unwind(|| run(&source));
        match outcome {
            Ok(Ok(rendered)) => {
                if rendered {
                    valid.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(())
            }
            Ok(Err(problem)) => Err(TestCaseError::fail(format!(
                "{problem}\n--- spec:\n{source}"
            ))),
            Err(_) => Err(TestCaseError::fail(format!(
                "crossfed panicked\n--- spec:\n{source}"
            ))),
        }
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // Some mutations must leave the spec valid, or the render half is never exercised.
    assert!(valid.into_inner() > 0, "no mutated spec rendered");
}
