//! Rendering end to end: one combined snapshot per valid fixture, plus properties every rendered
//! tree must have (trust never wider than the spec, YAML/JSON parse, determinism). Scripts are
//! shellchecked by the interop suite, which brings its own shellcheck.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crossfed::pipeline::{SpecText, render_files};
use crossfed::render::{FilePlan, yaml};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn plan_of(path: &Path) -> (crossfed::model::Spec, FilePlan) {
    let name = relative(path);
    let source = std::fs::read_to_string(path).unwrap();
    let plan =
        crossfed::validate::validate(&name, &source).unwrap_or_else(|r| panic!("{}", r.to_text()));
    let files = render_files(SpecText {
        file: &name,
        name: &name,
        source: &source,
    })
    .unwrap();
    (plan.spec, files)
}

fn valid_fixtures() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures/valid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

fn combined(plan: &FilePlan) -> String {
    let mut out = String::new();
    for (path, file) in plan {
        out.push_str("==== ");
        out.push_str(path);
        out.push_str(" ====\n");
        out.push_str(&file.content);
    }
    out
}

#[test]
fn rendered_trees() {
    common::snapshot_settings().bind(|| {
        insta::glob!("../fixtures/valid", "*.yaml", |path| {
            let (_, plan) = plan_of(path);
            insta::assert_snapshot!(combined(&plan));
        });
    });
}

#[test]
fn rendering_is_deterministic() {
    for path in valid_fixtures() {
        let (_, a) = plan_of(&path);
        let (_, b) = plan_of(&path);
        assert_eq!(a, b, "{}", path.display());
        for (file, planned) in &a {
            let content = &planned.content;
            assert!(
                content.ends_with('\n') && !content.ends_with("\n\n"),
                "{file}: exactly one trailing newline"
            );
            assert!(!content.contains('\r'), "{file}: LF only");
        }
    }
}

/// The values of a `StringEquals` condition: one string, or a list of them.
fn values(value: &serde_json::Value) -> Vec<&str> {
    match value {
        serde_json::Value::Array(items) => items.iter().map(|v| v.as_str().unwrap()).collect(),
        other => vec![other.as_str().unwrap()],
    }
}

/// Every trust policy admits only identities the spec names, pinned by audience and subject.
#[test]
fn trust_policies_are_never_wider_than_the_spec() {
    for path in valid_fixtures() {
        let (spec, plan) = plan_of(&path);
        let unique_ids: BTreeSet<String> = spec
            .service_accounts
            .values()
            .filter_map(|s| s.unique_id.clone())
            .collect();
        let subjects: BTreeSet<String> = spec
            .federations
            .iter()
            .filter_map(|f| f.source.kubernetes_subject().map(str::to_owned))
            .collect();
        for (file, planned) in plan
            .iter()
            .filter(|(f, _)| f.ends_with("trust-policy.json"))
        {
            let policy: serde_json::Value = serde_json::from_str(&planned.content).unwrap();
            assert_eq!(policy["Version"], "2012-10-17");
            for statement in policy["Statement"].as_array().unwrap() {
                assert_eq!(statement["Effect"], "Allow");
                if statement["Principal"].get("Service").is_some() {
                    assert_eq!(
                        statement["Principal"]["Service"], "ec2.amazonaws.com",
                        "{file}"
                    );
                    assert_eq!(statement["Action"], "sts:AssumeRole", "{file}");
                    continue;
                }
                assert_eq!(
                    statement["Action"], "sts:AssumeRoleWithWebIdentity",
                    "{file}"
                );
                let condition = statement["Condition"].as_object().unwrap();
                assert_eq!(
                    condition.keys().collect::<Vec<_>>(),
                    ["StringEquals"],
                    "{file}: exact matches only"
                );
                let equals = condition["StringEquals"].as_object().unwrap();
                let principal = statement["Principal"]["Federated"].as_str().unwrap();
                for value in equals.values() {
                    assert!(
                        values(value).iter().all(|v| !v.contains('*')),
                        "{file}: no wildcards"
                    );
                }
                if principal == "accounts.google.com" {
                    // Only the audience may list several values: aud and sub pin one account.
                    let aud = equals["accounts.google.com:aud"].as_str().unwrap();
                    assert!(
                        unique_ids.contains(aud),
                        "{file}: aud is a declared unique id"
                    );
                    assert_eq!(
                        equals["accounts.google.com:sub"], aud,
                        "{file}: sub pins the same account"
                    );
                    assert!(
                        equals.contains_key("accounts.google.com:oaud"),
                        "{file}: the token audience is pinned"
                    );
                    assert_eq!(equals.len(), 3);
                } else {
                    let issuer = principal.split_once(":oidc-provider/").unwrap().1;
                    assert_eq!(equals.len(), 2, "{file}");
                    assert!(equals.contains_key(&format!("{issuer}:aud")), "{file}");
                    assert!(
                        equals[&format!("{issuer}:aud")].is_string(),
                        "{file}: one audience per statement"
                    );
                    for sub in values(&equals[&format!("{issuer}:sub")]) {
                        assert!(
                            subjects.contains(sub),
                            "{file}: {sub} is a declared service account"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn structured_files_parse() {
    for path in valid_fixtures() {
        let (_, plan) = plan_of(&path);
        for (file, planned) in &plan {
            let content = &planned.content;
            if Path::new(file).extension().is_some_and(|e| e == "json") {
                serde_json::from_str::<serde_json::Value>(content)
                    .unwrap_or_else(|e| panic!("{file}: {e}"));
            }
            if Path::new(file).extension().is_some_and(|e| e == "yaml") {
                let docs: Vec<serde_json::Value> =
                    serde_saphyr::from_multiple(content).unwrap_or_else(|e| panic!("{file}: {e}"));
                assert!(!docs.is_empty(), "{file}");
            }
        }
    }
}

/// The fast YAML emitter formats every scalar crossfed writes itself (handing none to
/// serde-saphyr, which would be correct but slow), and the YAML files read back as documents that
/// serde-saphyr writes to the same bytes. When this fails on a new kind of value, extend the fast
/// path in `render/yaml.rs` (its property test checks the extension) rather than relax this test.
#[test]
fn yaml_files_take_the_fast_path() {
    for path in valid_fixtures() {
        let (_, plan) = plan_of(&path);
        for (file, planned) in &plan {
            if Path::new(file).extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            // Past the header comments.
            let body: String = planned
                .content
                .split_inclusive('\n')
                .skip_while(|line| line.starts_with('#'))
                .collect();
            let docs: Vec<serde_json::Value> =
                serde_saphyr::from_multiple(&body).unwrap_or_else(|e| panic!("{file}: {e}"));
            let written: Vec<String> = docs
                .iter()
                .map(|doc| serde_saphyr::to_string(doc).unwrap())
                .collect();
            assert_eq!(written.join("---\n"), body, "{file}");
            // `id-shapes` holds ids chosen for the shapes the fast path hands to serde-saphyr
            // (digit-led strings such as `0-ksa-2`): byte-identical above, not fast.
            if path.ends_with("id-shapes.yaml") {
                continue;
            }
            for doc in &docs {
                assert_eq!(yaml::coverage(doc).delegated, 0, "{file}");
            }
        }
    }
}

#[test]
fn render_command_writes_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_crossfed"))
        .args(["render", "fixtures/valid/gke-to-aws-walkthrough.yaml", "-o"])
        .arg(dir.path())
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The CLI names the spec relative to the output directory.
    let spec = root().join("fixtures/valid/gke-to-aws-walkthrough.yaml");
    let name = crossfed::pipeline::spec_name(&spec, dir.path());
    assert!(name.starts_with("../"), "{name}");
    let source = std::fs::read_to_string(&spec).unwrap();
    let plan = render_files(SpecText {
        file: &name,
        name: &name,
        source: &source,
    })
    .unwrap();
    for (file, planned) in &plan {
        assert_eq!(
            std::fs::read_to_string(dir.path().join(file)).unwrap(),
            planned.content
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("aws/281031839323/apply.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}

#[test]
fn render_refuses_an_invalid_spec_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_crossfed"))
        .args(["render", "fixtures/invalid/dangling-role.yaml", "-o"])
        .arg(dir.path().join("out"))
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.path().join("out").exists());
}

/// The words a POSIX shell (`sh -c`, as aws-sdk-go-v2 runs it) makes of a command line, with
/// the helper replaced by `printf` so nothing runs.
fn sh_words(line: &str, helper: &str) -> Vec<String> {
    let line = line.replacen(helper, "printf '%s\\n'", 1);
    let out = Command::new("sh").args(["-c", &line]).output().unwrap();
    assert!(out.status.success(), "sh -c {line}: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The words Python's `shlex.split` (botocore's reader of `credential_process`) makes of a line.
fn shlex_words(line: &str) -> Vec<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, shlex, sys; print(json.dumps(shlex.split(sys.argv[1])))",
            line,
        ])
        .output()
        .expect("python3 runs the shlex check");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn credential_process_lines_are_inert_under_sh_and_shlex() {
    let audience = "https://x/aud;touch${IFS}pwned;echo'\"`id`";
    let path = "/team$(touch${IFS}pwned)/";
    let source = format!(
        r#"version: 1
gcp:
  projects: [{{id: acme-prod, number: "123456789012"}}]
  serviceAccounts: [{{email: vm-runner@acme-prod.iam.gserviceaccount.com, uniqueId: "100000000000000000001"}}]
aws:
  accounts: [{{id: "281031839323"}}]
  roles: [{{name: reader, account: "281031839323", path: '{path}'}}]
federations:
  - name: vm-reader
    from: {{gce: vm-runner@acme-prod.iam.gserviceaccount.com}}
    to: {{awsRole: reader}}
    via: {{googleServiceAccount: vm-runner@acme-prod.iam.gserviceaccount.com, audience: '{yaml_audience}', tokenDelivery: credentialProcess}}
"#,
        yaml_audience = audience.replace('\'', "''")
    );
    let files = render_files(SpecText {
        file: "hostile.yaml",
        name: "hostile.yaml",
        source: &source,
    })
    .unwrap_or_else(|e| panic!("{e:?}"));
    let config = &files["hosts/gce/vm-reader/aws-config"].content;
    let line = config
        .lines()
        .find_map(|l| l.strip_prefix("credential_process = "))
        .unwrap();
    let helper = "/usr/local/libexec/crossfed/aws-credential-process";
    let expected = vec![
        helper.to_owned(),
        format!("arn:aws:iam::281031839323:role{path}reader"),
        "crossfed-vm-reader".to_owned(),
        audience.to_owned(),
        "https://sts.us-east-1.amazonaws.com".to_owned(),
    ];
    assert_eq!(shlex_words(line), expected, "{line}");
    assert_eq!(sh_words(line, helper), expected[1..], "{line}");
}

/// The reason of an accepted rule reaches the rendered README as written, so validation limits it
/// to an alphabet Markdown does not interpret: hostile reasons are refused through the real YAML
/// reader, and the most punctuated allowed one stays one plain table cell.
#[test]
fn accepted_risk_reasons_cannot_inject_markdown() {
    let source =
        std::fs::read_to_string(root().join("fixtures/valid/accepted-long-session.yaml")).unwrap();
    let original = "the export tool (s3 multipart upload of a 2 TB dump) cannot refresh credentials mid-run; tracked in SEC-142";
    assert!(source.contains(original));
    let with_reason = |reason: &str| source.replace(original, reason);
    for hostile in [
        r"ok | injected cell",
        r"see [the runbook](https://evil.example)",
        r"<img src=x onerror=alert(1)>",
        r"**bold** claim",
        r"`code`",
        r"line one\nline two",
        r"ok &lt; entity",
        r"back\\slash",
        "   ",
        "- a list item",
    ] {
        let spec = with_reason(hostile);
        let report = crossfed::validate::validate("spec.yaml", &spec)
            .err()
            .unwrap_or_else(|| panic!("{hostile:?} was accepted as a reason"));
        assert!(
            report
                .items
                .iter()
                .all(|i| i.path == "federations[0].accept[0].rule"
                    || i.path == "federations[0].accept[0].reason"),
            "{hostile:?}: {}",
            report.to_text()
        );
    }
    // Written inside YAML double quotes: `"` is the one allowed character spelt `\"` there.
    let allowed = r#"ok: 100% (see SEC-1/2), \"why\"? 'because' = +more @team #ops!"#;
    let spec = with_reason(allowed);
    let files = render_files(SpecText {
        file: "spec.yaml",
        name: "spec.yaml",
        source: &spec,
    })
    .unwrap_or_else(|e| panic!("{e:?}"));
    let readme = &files["README.md"].content;
    let row = format!(
        "| `warehouse-export` | `long-session` | {} |",
        allowed.replace("\\\"", "\"")
    );
    assert_eq!(readme.lines().filter(|l| *l == row).count(), 1, "{readme}");
}

/// The files of `source` rendered after a render that recorded `previous`.
fn render_after(
    source: &str,
    previous: &crossfed::pipeline::Previous,
) -> (FilePlan, crossfed::output::Manifest) {
    let spec = SpecText {
        file: "spec.yaml",
        name: "spec.yaml",
        source,
    };
    let plan = crossfed::pipeline::plan(spec).unwrap_or_else(|e| panic!("{e:?}"));
    let files = crossfed::pipeline::files_of(&plan, spec, previous, &|_| {}).unwrap();
    let manifest = serde_json::from_str(&files[".crossfed/manifest.json"].content).unwrap();
    (files, manifest)
}

/// `source` without its federation `name`.
fn without_federation(source: &str, name: &str) -> String {
    let mut value: serde_json::Value = serde_saphyr::from_str(source).unwrap();
    let federations = value["federations"].as_array_mut().unwrap();
    federations.retain(|f| f["name"] != name);
    serde_saphyr::to_string(&value).unwrap()
}

fn previous_of(manifest: &crossfed::output::Manifest) -> crossfed::pipeline::Previous {
    crossfed::pipeline::Previous {
        grants: manifest.grants.clone(),
        pending: manifest.revocations.clone(),
    }
}

#[test]
fn dropping_a_federation_revokes_exactly_its_grants() {
    use std::fmt::Write as _;
    let source =
        std::fs::read_to_string(root().join("fixtures/valid/both-directions.yaml")).unwrap();
    let (files, before) = render_after(&source, &crossfed::pipeline::Previous::default());
    assert!(!before.grants.is_empty());
    assert!(before.revocations.is_empty());
    assert!(!files.keys().any(|p| p.ends_with("revoke.sh")));

    let names: Vec<String> =
        serde_saphyr::from_str::<serde_json::Value>(&source).unwrap()["federations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect();
    let mut snapshot = String::new();
    for name in &names {
        let smaller = without_federation(&source, name);
        let (files, after) = render_after(&smaller, &previous_of(&before));
        // Exactly what the full spec granted and the smaller one does not, never a grant held.
        assert_eq!(
            after.revocations,
            before.grants.minus(&after.grants),
            "{name}"
        );
        assert_eq!(
            after.revocations.minus(&after.grants),
            after.revocations,
            "{name}"
        );
        let _ = writeln!(snapshot, "######## without {name}");
        for (path, file) in files.iter().filter(|(p, _)| p.ends_with("revoke.sh")) {
            let _ = write!(snapshot, "==== {path} ====\n{}", file.content);
        }
        // Carried by the next render of the same spec, byte for byte.
        let (again, carried) = render_after(&smaller, &previous_of(&after));
        assert_eq!(carried.revocations, after.revocations, "{name}");
        assert_eq!(combined(&again), combined(&files), "{name}");
        // Granted again: nothing is left to revoke.
        let (_, back) = render_after(&source, &previous_of(&after));
        assert!(
            back.revocations.is_empty(),
            "{name}: {:?}",
            back.revocations
        );
    }
    insta::assert_snapshot!(snapshot);
}

/// Every file of the fixture at `path` rendered with `outputs`.
fn rendered_with(path: &Path, outputs: crossfed::model::Outputs) -> FilePlan {
    let name = relative(path);
    let source = std::fs::read_to_string(path).unwrap();
    let mut plan =
        crossfed::validate::validate(&name, &source).unwrap_or_else(|r| panic!("{}", r.to_text()));
    plan.spec.outputs = outputs;
    crossfed::render::render(
        &plan,
        &crossfed::render::RenderOptions {
            spec_name: name,
            ..Default::default()
        },
    )
    .unwrap()
}

const BOTH: crossfed::model::Outputs = crossfed::model::Outputs {
    scripts: true,
    terraform: true,
};

#[test]
fn terraform_modules() {
    common::snapshot_settings().bind(|| {
        insta::glob!("../fixtures/valid", "*.yaml", |path| {
            let mut files = rendered_with(path, BOTH);
            files.retain(|p, _| p.starts_with("terraform/"));
            insta::assert_snapshot!(combined(&files));
        });
    });
}

/// A string of a Terraform JSON file as the provider receives it (`$${` is a literal `${`).
fn terraform_string(value: &serde_json::Value) -> String {
    value
        .as_str()
        .unwrap()
        .replace("$${", "${")
        .replace("%%{", "%{")
}

#[test]
fn terraform_policies_are_the_standalone_documents() {
    let mut roles = 0;
    for path in valid_fixtures() {
        let files = rendered_with(&path, BOTH);
        for (file, planned) in &files {
            let Some(account) = file
                .strip_prefix("terraform/aws/")
                .and_then(|f| f.strip_suffix("/main.tf.json"))
            else {
                continue;
            };
            let module: serde_json::Value = serde_json::from_str(&planned.content).unwrap();
            let resources = &module["resource"];
            for role in resources["aws_iam_role"].as_object().unwrap().values() {
                roles += 1;
                let name = role["name"].as_str().unwrap();
                let standalone = &files[&format!("aws/{account}/roles/{name}/trust-policy.json")];
                let from_terraform: serde_json::Value =
                    serde_json::from_str(&terraform_string(&role["assume_role_policy"])).unwrap();
                let from_file: serde_json::Value =
                    serde_json::from_str(&standalone.content).unwrap();
                assert_eq!(from_terraform, from_file, "{file}: role {name}");
            }
            if let Some(inline) = resources.get("aws_iam_role_policy") {
                for (address, policies) in inline.as_object().unwrap() {
                    let role = &resources["aws_iam_role"][address]["name"];
                    for (policy, document) in policies["for_each"].as_object().unwrap() {
                        let standalone = &files[&format!(
                            "aws/{account}/roles/{}/inline-policy-{policy}.json",
                            role.as_str().unwrap()
                        )];
                        let a: serde_json::Value =
                            serde_json::from_str(&terraform_string(document)).unwrap();
                        let b: serde_json::Value =
                            serde_json::from_str(&standalone.content).unwrap();
                        assert_eq!(a, b, "{file}: {policy}");
                    }
                }
            }
        }
    }
    assert!(roles > 10, "only {roles} roles compared");
}

#[test]
fn terraform_without_scripts_writes_no_cloud_script() {
    let path = root().join("fixtures/valid/both-directions.yaml");
    let only = rendered_with(
        &path,
        crossfed::model::Outputs {
            scripts: false,
            terraform: true,
        },
    );
    let both = rendered_with(&path, BOTH);
    let cloud = |p: &str| {
        p.starts_with("aws/")
            || (p.starts_with("gcp/")
                && std::path::Path::new(p)
                    .extension()
                    .is_some_and(|e| e == "sh"))
    };
    assert!(both.keys().any(|p| cloud(p)));
    assert!(!only.keys().any(|p| cloud(p)), "{:?}", only.keys());
    // The workloads' side is the same either way.
    for (path, file) in &both {
        if !cloud(path) && path != "README.md" {
            assert_eq!(only[path].content, file.content, "{path}");
        }
    }
    assert!(only.contains_key("terraform/main.tf.json"));
    assert!(only["README.md"].content.contains("**Terraform**"));
    assert!(!only["README.md"].content.contains("bash aws/"));
}

/// Every rendered file whose format has comments carries the "generated by" header in its first
/// lines (under a shebang, or as a Markdown comment): checked over every file of every fixture,
/// scripts and Terraform both, by format rather than from a list of paths. JSON has no comments.
#[test]
fn every_file_whose_format_has_comments_carries_the_header() {
    let mut checked = 0;
    for path in valid_fixtures() {
        let files = rendered_with(&path, BOTH);
        assert!(!files.is_empty());
        for (file, planned) in &files {
            if std::path::Path::new(file)
                .extension()
                .is_some_and(|e| e == "json")
            {
                assert!(
                    serde_json::from_str::<serde_json::Value>(&planned.content).is_ok(),
                    "{file}"
                );
                continue;
            }
            let head: Vec<&str> = planned.content.lines().take(3).collect();
            assert!(
                head.iter()
                    .any(|line| line.contains("Generated by crossfed from ")),
                "{}: {file} has no header in its first lines: {head:?}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}
