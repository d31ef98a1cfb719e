//! Any text as a spec: crossfed must answer with files or with located diagnostics, never panic,
//! and a render error (a crossfed bug by definition) is a crash too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Spec files are read as UTF-8 (`read_to_string`); other bytes never reach the pipeline.
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let spec = crossfed::pipeline::SpecText {
        file: "fuzz.yaml",
        name: "fuzz.yaml",
        source,
    };
    match crossfed::pipeline::plan_files(spec) {
        Ok(files) => assert!(!files.is_empty()),
        Err(crossfed::pipeline::PipelineError::Invalid(report)) => {
            // The diagnostics are printed as users see them: spans, snippets and all.
            assert!(!report.to_text().is_empty());
            let _ = report.to_json();
        }
        Err(error) => panic!("render failed on a valid spec: {error}"),
    }
});
