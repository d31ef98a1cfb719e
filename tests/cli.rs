//! The binary end to end: exit codes, help texts, the checked-in schema, `init`.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crossfed"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).current_dir(root()).output().unwrap()
}

fn fixtures(kind: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join("fixtures").join(kind))
        .unwrap()
        .map(|e| {
            format!(
                "fixtures/{kind}/{}",
                e.unwrap().file_name().to_string_lossy()
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn checked_in_schema_matches_the_derived_one() {
    let out = run(&["schema"]);
    assert!(out.status.success());
    let checked_in = std::fs::read_to_string(root().join("schemas/crossfed.schema.json")).unwrap();
    assert!(
        String::from_utf8(out.stdout).unwrap() == checked_in,
        "schemas/crossfed.schema.json is stale: run `cargo run -- schema -o schemas/crossfed.schema.json`"
    );
}

#[test]
fn schema_snapshot() {
    common::snapshot_settings()
        .bind(|| insta::assert_snapshot!("schema", crossfed::validate::schema::json_schema_text()));
}

#[test]
fn valid_fixtures_exit_0() {
    for spec in fixtures("valid") {
        let out = run(&["validate", &spec]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{spec}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn invalid_fixtures_exit_1_with_a_position() {
    for spec in fixtures("invalid") {
        let out = run(&["validate", &spec]);
        assert_eq!(out.status.code(), Some(1), "{spec}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(&format!("--> {spec}:")), "{spec}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
}

#[test]
fn json_format_lists_diagnostics() {
    let out = run(&[
        "validate",
        "fixtures/invalid/several-mistakes.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::snapshot_settings().bind(|| insta::assert_json_snapshot!("validate-json", items));
    let out = run(&[
        "validate",
        "fixtures/valid/gke-to-aws-walkthrough.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "[]\n");
}

/// A note (here `impersonation-where-direct-access-would-do`) is printed in every format, but
/// the spec is valid: exit 0.
#[test]
fn notes_are_printed_and_exit_0() {
    let spec = "fixtures/valid/eks-oidc-impersonation.yaml";
    let out = run(&["validate", spec]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("note[impersonation-where-direct-access-would-do]: "),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(&format!("1 note in {spec}\n{spec}: ok\n")),
        "{stderr}"
    );

    let out = run(&["validate", spec, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(items[0]["severity"], "note");
    assert_eq!(
        items[0]["rule"],
        "impersonation-where-direct-access-would-do"
    );

    let out = run(&["validate", spec, "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(0));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["level"], "note");
}

#[test]
fn sarif_format_snapshot() {
    let spec = "fixtures/invalid/several-mistakes.yaml";
    let out = run(&["validate", spec, "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(1));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run0 = log["runs"][0].clone();
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(run0["tool"]["driver"]["name"], "crossfed");
    assert_eq!(run0["tool"]["driver"]["version"], env!("CARGO_PKG_VERSION"));
    // Every code and rule is described; every result points at one of them and at the spec.
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for code in crossfed::diag::Code::ALL {
        assert!(ids.contains(&code.as_str()), "{}", code.as_str());
    }
    for rule in crossfed::diag::Rule::ALL {
        assert!(ids.contains(&rule.as_str()), "{}", rule.as_str());
    }
    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for result in results {
        let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
        assert_eq!(rules[index]["id"], result["ruleId"]);
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], spec);
        assert!(location["region"]["startLine"].as_u64().unwrap() >= 1);
    }
    // The whole log, as code-scanning tools read it; the version is checked above, not pinned.
    let mut log = log;
    log["runs"][0]["tool"]["driver"]["version"] = serde_json::json!("[version]");
    common::snapshot_settings().bind(|| insta::assert_json_snapshot!("validate-sarif", log));
    // A valid spec: a log with no results, exit 0.
    let out = run(&[
        "validate",
        "fixtures/valid/gke-to-aws-walkthrough.yaml",
        "--format",
        "sarif",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(log["runs"][0]["results"], serde_json::json!([]));
}

#[test]
fn missing_spec_is_an_io_error() {
    let out = run(&["validate", "does-not-exist.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("cannot read spec `does-not-exist.yaml`")
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(run(&["explain", "no-such-code"]).status.code(), Some(2));
}

#[test]
fn init_writes_a_valid_spec_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crossfed.yaml");
    let out = bin().arg("init").current_dir(dir.path()).output().unwrap();
    assert!(out.status.success());
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written, crossfed::STARTER_SPEC);
    let out = bin()
        .arg("validate")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    std::fs::write(&path, "mine\n").unwrap();
    let out = bin().arg("init").current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("already exists")
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine\n");
}

#[test]
fn explain_prints_every_code() {
    let out = run(&["explain"]);
    let list = String::from_utf8(out.stdout).unwrap();
    for code in crossfed::diag::Code::ALL {
        assert!(
            list.lines()
                .any(|l| l.split_whitespace().next() == Some(code.as_str()))
        );
        let out = run(&["explain", code.as_str()]);
        assert!(out.status.success());
    }
    for rule in crossfed::diag::Rule::ALL {
        assert!(list.lines().any(|l| l == rule.as_str()), "{list}");
        let out = run(&["explain", rule.as_str()]);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with(rule.as_str()) && text.contains(rule.explanation()));
    }
}

/// Every subcommand's `--help` is public API: snapshot them all.
#[test]
fn help_texts() {
    let top = String::from_utf8(run(&["--help"]).stdout).unwrap();
    let mut commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect();
    commands.sort();
    assert!(commands.len() >= 4, "{top}");
    common::snapshot_settings().bind(|| {
        insta::assert_snapshot!("help", top);
        for command in commands {
            let out = run(&[&command, "--help"]);
            assert!(out.status.success());
            insta::assert_snapshot!(
                format!("help-{command}"),
                String::from_utf8(out.stdout).unwrap()
            );
        }
    });
}

/// `explain` never claims less than the effective access: every Kubernetes service account bound
/// to a shared Google service account is named, not only the federation's own.
#[test]
fn explain_names_every_member_of_a_shared_google_service_account() {
    let out = run(&[
        "explain",
        "ingest-api",
        "--spec",
        "fixtures/valid/gke-many-pods-one-role.yaml",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("serviceAccount:acme-prod.svc.id.goog[ingest/api], serviceAccount:acme-prod.svc.id.goog[ingest/worker] may act as"),
        "{text}"
    );
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_output_quietly() {
    use std::process::Stdio;
    for args in [
        &["completions", "bash"][..],
        &["schema"],
        &["explain", "security"],
    ] {
        let mut child = bin()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the first write, as `| head -c 0` would: every write
        // fails with a broken pipe.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn terraform_output_warns_when_a_pool_id_changes() {
    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(root().join("fixtures/valid/both-directions.yaml"))
        .unwrap()
        .replace(
            "# yaml-language-server",
            "output: {terraform: true}\n# yaml-language-server",
        );
    let spec = dir.path().join("crossfed.yaml");
    let out = dir.path().join("out");
    std::fs::write(&spec, &source).unwrap();
    let render = |spec: &std::path::Path| {
        bin()
            .args(["render", "-q", "-o"])
            .arg(&out)
            .arg(spec)
            .output()
            .unwrap()
    };
    let first = render(&spec);
    assert!(first.status.success(), "{first:?}");
    assert!(out.join("terraform/gcp/acme-prod/main.tf.json").is_file());
    assert!(
        String::from_utf8_lossy(&first.stderr).is_empty(),
        "{first:?}"
    );
    // The same spec again: nothing to warn about.
    let again = render(&spec);
    assert!(
        String::from_utf8_lossy(&again.stderr).is_empty(),
        "{again:?}"
    );
    std::fs::write(&spec, source.replace("aws-workloads", "aws-workloads-2")).unwrap();
    let renamed = render(&spec);
    assert!(renamed.status.success(), "{renamed:?}");
    let stderr = String::from_utf8_lossy(&renamed.stderr);
    common::snapshot_settings().bind(|| insta::assert_snapshot!(stderr));
}

/// `CROSSFED_YAML_EXPANSION` raises the parser's limits: the alias bomb fixture, refused with
/// the setting named in the help, is still refused at the largest factor (bounded), and a
/// malformed setting is a usage error before any spec is read.
#[test]
fn the_yaml_expansion_setting_is_named_bounded_and_checked() {
    let bomb = "fixtures/invalid/alias-bomb.yaml";
    let run_with = |value: &str| {
        bin()
            .args(["validate", bomb])
            .env("CROSSFED_YAML_EXPANSION", value)
            .output()
            .unwrap()
    };
    let default = run(&["validate", bomb]);
    assert_eq!(default.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&default.stderr).contains("`CROSSFED_YAML_EXPANSION=4` (now 1)")
    );
    let most = run_with("100");
    assert_eq!(most.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&most.stderr).contains("is at its most (100)"));
    for bad in ["0", "101", "four", ""] {
        let refused = run_with(bad);
        assert_eq!(refused.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&refused.stderr)
                .contains("CROSSFED_YAML_EXPANSION must be a whole number from 1 to 100"),
            "{bad:?}"
        );
    }
}

/// An organisation's spec: `n` federations from two GKE clusters into 150 roles of four AWS
/// accounts, half through Google service accounts and half through the clusters' issuer, so
/// every role trusts several sources of both kinds.
fn organisation_spec(n: usize) -> String {
    use std::fmt::Write as _;
    let accounts = [
        "281031839320",
        "281031839321",
        "281031839322",
        "281031839323",
    ];
    let roles = 150;
    let mut out = String::from(
        "version: 1\ngcp:\n  projects: [{id: acme-prod, number: \"123456789012\"}]\n  serviceAccounts:\n",
    );
    for i in (0..n).step_by(2) {
        let _ = writeln!(
            out,
            "    - {{email: sa-{i:03}@acme-prod.iam.gserviceaccount.com, uniqueId: \"{}\"}}",
            100_000_000_000_000_000_000_u128 + i as u128
        );
    }
    out.push_str(
        "  gkeClusters:\n    - {name: prod, project: acme-prod, location: us-central1}\n    - {name: batch, project: acme-prod, location: europe-west4}\naws:\n  accounts:\n",
    );
    for account in accounts {
        let _ = writeln!(out, "    - {{id: \"{account}\", region: us-east-1}}");
    }
    out.push_str("  roles:\n");
    for r in 0..roles {
        let _ = writeln!(
            out,
            "    - {{arn: \"arn:aws:iam::{}:role/reader-{r:03}\"}}",
            accounts[r % accounts.len()]
        );
    }
    out.push_str("federations:\n");
    for i in 0..n {
        let via = if i % 2 == 0 {
            format!("{{googleServiceAccount: sa-{i:03}@acme-prod.iam.gserviceaccount.com}}")
        } else {
            "{awsOidcProvider: {}}".to_owned()
        };
        let cluster = if i % 3 == 0 { "batch" } else { "prod" };
        let _ = writeln!(
            out,
            "  - {{name: f-{i:03}, from: {{gke: {cluster}, namespace: team-{:02}, serviceAccount: app-{i:03}}}, to: {{awsRole: reader-{:03}}}, via: {via}}}",
            i % 20,
            i % roles
        );
    }
    out
}

/// Every file under `dir`, by path relative to it.
fn tree(dir: &std::path::Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(next) = todo.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.insert(path.strip_prefix(dir).unwrap().to_owned(), bytes);
            }
        }
    }
    files
}

/// An organisation's spec is planned and rendered in parts side by side (accounts, namespaces,
/// summary pages, checks): the tree is byte for byte the same on one core as on all of them (on
/// a one-core machine both runs take one core, and the test only shows that rendering twice
/// gives one tree).
#[test]
fn an_organisation_renders_the_same_on_one_core_and_on_all() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("org.yaml");
    std::fs::write(&spec, organisation_spec(600)).unwrap();
    let mut trees = Vec::new();
    for (name, one_core) in [("one", true), ("all", false)] {
        let out = dir.path().join(name);
        let mut command = if one_core {
            // `taskset` ships with util-linux: one CPU in the affinity mask is one core to
            // `available_parallelism`.
            let mut command = Command::new("taskset");
            command.args(["-c", "0", env!("CARGO_BIN_EXE_crossfed")]);
            command
        } else {
            bin()
        };
        let status = command
            .args(["render", "-q"])
            .arg(&spec)
            .arg("-o")
            .arg(&out)
            .status()
            .expect("taskset (util-linux) runs the binary on one core");
        assert!(status.success(), "render on {name} core(s)");
        trees.push(tree(&out));
    }
    assert!(trees[0].len() > 1000, "{} files", trees[0].len());
    assert!(
        trees[0] == trees[1],
        "the trees differ in {:?}",
        trees[0]
            .iter()
            .filter(|(path, bytes)| trees[1].get(*path) != Some(*bytes))
            .map(|(path, _)| path)
            .take(5)
            .collect::<Vec<_>>()
    );
}
