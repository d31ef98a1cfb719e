//! The output directory end to end, on the binary: ownership, atomic commits, recovery, pruning,
//! and `check`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn crossfed(args: &[&str], out: &Path, fault: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crossfed"));
    command.args(args).arg("-o").arg(out).current_dir(root());
    if let Some(fault) = fault {
        command.env("CROSSFED_TEST_FAULT", fault);
    }
    command.output().unwrap()
}

fn render(spec: &str, out: &Path) -> Output {
    crossfed(&["render", spec], out, None)
}

fn check(spec: &str, out: &Path) -> Output {
    crossfed(&["check", spec], out, None)
}

/// Every file under `dir` (relative path → bytes), hidden state included.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.insert(
                    path.strip_prefix(base).unwrap().display().to_string(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A spec file in `dir`, derived from a fixture with text replacements.
fn spec_from(dir: &Path, fixture: &str, replacements: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(root().join("fixtures/valid").join(fixture)).unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    let path = dir.join(format!("spec-{}.yaml", replacements.len()));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const SPEC: &str = "fixtures/valid/gke-many-pods-one-role.yaml";

#[test]
fn check_is_clean_right_after_render_and_catches_any_byte() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert!(render(SPEC, &out).status.success());
    let clean = check(SPEC, &out);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );

    let file = out.join("aws/281031839323/roles/shared-data-reader/trust-policy.json");
    let original = std::fs::read(&file).unwrap();
    let mut edits: Vec<Vec<u8>> = Vec::new();
    let mut changed = original.clone();
    changed[10] ^= 0x01;
    edits.push(changed);
    edits.push(original[1..].to_vec());
    let mut added = original.clone();
    added.push(b' ');
    edits.push(added);
    for edit in edits {
        std::fs::write(&file, &edit).unwrap();
        let out_ = check(SPEC, &out);
        assert_eq!(out_.status.code(), Some(1));
        // The diff on stdout, the verdict on stderr.
        let stdout = String::from_utf8(out_.stdout).unwrap();
        assert!(
            stdout.contains("trust-policy.json: changed (edited by hand)"),
            "{stdout}"
        );
        assert!(
            stdout.contains("--- a/aws/281031839323/roles/shared-data-reader/trust-policy.json"),
            "{stdout}"
        );
        let stderr = String::from_utf8(out_.stderr).unwrap();
        assert!(
            stderr.starts_with("1 file differs from what `crossfed render` would write"),
            "{stderr}"
        );
    }
    std::fs::remove_file(&file).unwrap();
    let missing = check(SPEC, &out);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8(missing.stdout)
            .unwrap()
            .contains("missing (render would add it)")
    );

    let json = crossfed(&["check", SPEC, "--format", "json"], &out, None);
    assert_eq!(json.status.code(), Some(1));
    let listed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(listed[0]["kind"], "added");
    assert_eq!(
        listed[0]["path"],
        "aws/281031839323/roles/shared-data-reader/trust-policy.json"
    );

    assert!(render(SPEC, &out).status.success());
    assert_eq!(check(SPEC, &out).status.code(), Some(0));
}

#[test]
fn a_failure_while_staging_leaves_the_previous_tree_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert!(render(SPEC, &out).status.success());
    let before = tree(&out);
    let changed = spec_from(
        dir.path(),
        "gke-many-pods-one-role.yaml",
        &[("namespace: ingest", "namespace: ingest2")],
    );
    for n in [0, 1, 3] {
        let failed = crossfed(&["render", &changed], &out, Some(&format!("stage:{n}")));
        assert_eq!(
            failed.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&failed.stderr)
        );
        assert_eq!(tree(&out), before, "stage:{n}");
    }
    // And an invalid spec writes nothing at all.
    let broken = spec_from(
        dir.path(),
        "gke-many-pods-one-role.yaml",
        &[("to: {awsRole: shared-data-reader}", "to: {awsRole: nope}")],
    );
    assert_eq!(render(&broken, &out).status.code(), Some(1));
    assert_eq!(tree(&out), before);
}

#[test]
fn a_commit_interrupted_midway_is_finished_by_the_next_render_and_check_touches_nothing() {
    for next in ["render", "check"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let expected = dir.path().join("expected");
        assert!(render(SPEC, &out).status.success());
        let changed = spec_from(
            dir.path(),
            "gke-many-pods-one-role.yaml",
            &[
                ("namespace: ingest", "namespace: ingest2"),
                ("shared-data-reader", "shared-reader"),
            ],
        );
        // The same history as `out`: its revocations included.
        assert!(render(SPEC, &expected).status.success());
        assert!(render(&changed, &expected).status.success());

        let crashed = crossfed(&["render", &changed], &out, Some("commit:2"));
        assert_eq!(crashed.status.code(), Some(2));
        assert!(
            out.join(".crossfed/journal.json").exists(),
            "the journal survives the crash"
        );

        if next == "check" {
            // Read-only: it names the state file and leaves the tree as the crash did.
            let crashed_tree = tree(&out);
            let checked = crossfed(&["check", &changed], &out, None);
            assert_eq!(checked.status.code(), Some(1));
            let stderr = String::from_utf8(checked.stderr).unwrap();
            assert!(
                stderr.contains("left `.crossfed/journal.json`; run `crossfed render`"),
                "{stderr}"
            );
            assert_eq!(tree(&out), crashed_tree, "check wrote nothing");
            assert!(out.join(".crossfed/journal.json").exists());
        }
        let repaired = crossfed(&["render", &changed], &out, None);
        assert_eq!(
            repaired.status.code(),
            Some(0),
            "{next}: {}",
            String::from_utf8_lossy(&repaired.stderr)
        );
        assert_eq!(tree(&out), tree(&expected), "render finished the commit");
        assert_eq!(check(&changed, &out).status.code(), Some(0));
    }
}

#[test]
fn user_files_survive_and_renames_prune_only_owned_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert!(render(SPEC, &out).status.success());
    std::fs::write(out.join("NOTES.md"), "mine\n").unwrap();
    std::fs::write(
        out.join("kubernetes/prod/ingest/my-deployment.yaml"),
        "kind: Deployment\n",
    )
    .unwrap();
    let before = tree(&out);

    let renamed = spec_from(
        dir.path(),
        "gke-many-pods-one-role.yaml",
        &[("name: ingest-worker", "name: ingest-worker-v2")],
    );
    let out_ = render(&renamed, &out);
    assert!(
        out_.status.success(),
        "{}",
        String::from_utf8_lossy(&out_.stderr)
    );
    let after = tree(&out);
    assert_eq!(after["NOTES.md"], b"mine\n");
    assert_eq!(
        after["kubernetes/prod/ingest/my-deployment.yaml"],
        b"kind: Deployment\n"
    );
    assert!(
        !after.contains_key("kubernetes/prod/ingest/patch-ingest-worker.yaml"),
        "the old federation's file is gone"
    );
    assert!(after.contains_key("kubernetes/prod/ingest/patch-ingest-worker-v2.yaml"));
    let gone: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    assert_eq!(
        gone,
        [
            "kubernetes/prod/ingest/components/ingest-worker/kustomization.yaml",
            "kubernetes/prod/ingest/components/ingest-worker/patch-daemonset-ingest-node-agent.yaml",
            "kubernetes/prod/ingest/components/ingest-worker/patch-statefulset-ingest-queue.yaml",
            "kubernetes/prod/ingest/cronjob/patch-ingest-worker.yaml",
            "kubernetes/prod/ingest/patch-ingest-worker.yaml"
        ],
        "only the renamed federation's files were removed"
    );
    assert_eq!(check(&renamed, &out).status.code(), Some(0));
}

#[test]
fn render_never_overwrites_a_file_it_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("aws/281031839323")).unwrap();
    std::fs::write(
        out.join("aws/281031839323/apply.sh"),
        "#!/bin/sh\necho mine\n",
    )
    .unwrap();
    let refused = render(SPEC, &out);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(
        stderr.contains("refusing to overwrite") && stderr.contains("aws/281031839323/apply.sh"),
        "{stderr}"
    );
    assert_eq!(tree(&out).len(), 1, "nothing was written");
    assert_eq!(
        std::fs::read_to_string(out.join("aws/281031839323/apply.sh")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
}

#[test]
fn reordering_the_spec_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(
        root()
            .join("fixtures/valid")
            .join("gke-many-pods-one-role.yaml"),
    )
    .unwrap();
    // Move the first federation to the end and swap the two service accounts.
    let (head, federations) = text.split_once("federations:\n").unwrap();
    let items: Vec<&str> = federations
        .split("  - name: ")
        .filter(|s| !s.is_empty())
        .collect();
    let mut reordered: Vec<&str> = items[1..].to_vec();
    reordered.push(items[0]);
    let head = head.replace(
        "    - {email: ingest-aws@acme-prod.iam.gserviceaccount.com, uniqueId: \"100000000000000000001\"}\n    - {email: report-aws@acme-prod.iam.gserviceaccount.com, uniqueId: \"100000000000000000002\"}\n",
        "    - {email: report-aws@acme-prod.iam.gserviceaccount.com, uniqueId: \"100000000000000000002\"}\n    - {email: ingest-aws@acme-prod.iam.gserviceaccount.com, uniqueId: \"100000000000000000001\"}\n",
    );
    let shuffled = format!(
        "{head}federations:\n{}",
        reordered.iter().fold(String::new(), |mut acc, item| {
            acc.push_str("  - name: ");
            acc.push_str(item);
            acc
        })
    );
    assert_ne!(shuffled, text);
    let path = dir.path().join("shuffled.yaml");
    std::fs::write(&path, &shuffled).unwrap();
    let files = |source: &str| {
        crossfed::pipeline::render_files(crossfed::pipeline::SpecText {
            file: "spec.yaml",
            name: "spec.yaml",
            source,
        })
        .unwrap()
    };
    assert_eq!(files(&text), files(&shuffled));
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_crossfed"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(
            String::from_utf8(out.stdout).unwrap().contains("render"),
            "{shell}"
        );
    }
}

#[test]
fn explain_describes_a_federation_chain() {
    let out = Command::new(env!("CARGO_BIN_EXE_crossfed"))
        .args([
            "explain",
            "eks-uploader",
            "--spec",
            "fixtures/valid/eks-oidc-impersonation.yaml",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::snapshot_settings().bind(|| {
        insta::assert_snapshot!(
            "explain-eks-uploader",
            String::from_utf8(out.stdout).unwrap()
        );
    });
}

/// (mtime, inode) of `path`: equal before and after only if nothing rewrote or replaced it.
#[cfg(unix)]
fn stamp(path: &Path) -> (std::time::SystemTime, u64) {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::symlink_metadata(path).unwrap();
    (meta.modified().unwrap(), meta.ino())
}

#[cfg(unix)]
#[test]
fn an_up_to_date_render_writes_nothing_and_a_same_length_edit_is_still_caught() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert!(render(SPEC, &out).status.success());
    let watched = [
        out.clone(),
        out.join(".crossfed"),
        out.join(".crossfed/manifest.json"),
        out.join("aws/281031839323/roles/shared-data-reader"),
        out.join("aws/281031839323/roles/shared-data-reader/trust-policy.json"),
    ];
    let before: Vec<_> = watched.iter().map(|p| stamp(p)).collect();
    let files = tree(&out);
    // Coarse filesystem clocks: make sure a rewrite would show in the mtime.
    std::thread::sleep(std::time::Duration::from_millis(50));

    let again = render(SPEC, &out);
    assert!(again.status.success());
    let stderr = String::from_utf8(again.stderr).unwrap();
    assert!(stderr.contains(": 0 written, 0 removed,"), "{stderr}");
    let after: Vec<_> = watched.iter().map(|p| stamp(p)).collect();
    assert_eq!(before, after, "nothing was rewritten, created or removed");
    assert_eq!(tree(&out), files);

    // A hand edit that keeps the length: found by reading, not by size, and (forced) rewritten.
    let file = &watched[4];
    let mut edited = std::fs::read(file).unwrap();
    edited[20] ^= 0x01;
    std::fs::write(file, &edited).unwrap();
    assert_eq!(
        render(SPEC, &out).status.code(),
        Some(2),
        "a hand edit is kept"
    );
    let repaired = crossfed(&["render", SPEC, "--force"], &out, None);
    let stderr = String::from_utf8(repaired.stderr).unwrap();
    assert!(stderr.contains(": 1 written, 0 removed,"), "{stderr}");
    assert!(
        stderr.starts_with("wrote   aws/281031839323/roles/shared-data-reader/trust-policy.json\n"),
        "every written file is listed: {stderr}"
    );
    let quiet = crossfed(&["render", SPEC, "--quiet"], &out, None);
    assert!(quiet.status.success());
    assert!(quiet.stderr.is_empty() && quiet.stdout.is_empty());
    assert_eq!(tree(&out), files);
    assert_eq!(
        stamp(&watched[2]),
        before[2],
        "the manifest already held the planned bytes"
    );
}

#[test]
fn a_failed_staging_leaves_no_new_directory_and_the_next_render_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert!(render(SPEC, &out).status.success());
    let changed = spec_from(
        dir.path(),
        "gke-many-pods-one-role.yaml",
        &[("namespace: ingest", "namespace: ingest2")],
    );
    // Fail on the last file to stage, so that every directory it needs exists by then.
    let expected = dir.path().join("expected");
    assert!(render(&changed, &expected).status.success());
    let (old, new) = (tree(&out), tree(&expected));
    let to_write = new
        .iter()
        .filter(|(path, bytes)| *path != ".crossfed/manifest.json" && old.get(*path) != Some(bytes))
        .count();
    assert!(to_write > 3);
    let failed = crossfed(
        &["render", &changed],
        &out,
        Some(&format!("stage:{}", to_write - 1)),
    );
    assert_eq!(failed.status.code(), Some(2));
    assert!(
        String::from_utf8(failed.stderr)
            .unwrap()
            .contains("injected fault")
    );
    assert_eq!(tree(&out), old);
    assert!(
        !out.join("kubernetes/prod/ingest2").exists(),
        "the directory created for staging is gone"
    );
    assert!(!out.join(".crossfed/staging.json").exists());
    assert!(!out.join(".crossfed/journal.json").exists());
    let rendered = render(&changed, &out);
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    assert_eq!(check(&changed, &out).status.code(), Some(0));
}

#[test]
fn a_commit_stopped_before_any_rename_is_reported_by_check_and_finished_by_render() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let expected = dir.path().join("expected");
    assert!(render(SPEC, &out).status.success());
    let changed = spec_from(
        dir.path(),
        "gke-many-pods-one-role.yaml",
        &[("name: ingest-worker", "name: ingest-worker-v2")],
    );
    // The same history as `out`: its revocations included.
    assert!(render(SPEC, &expected).status.success());
    assert!(render(&changed, &expected).status.success());
    let crashed = crossfed(&["render", &changed], &out, Some("commit:0"));
    assert_eq!(crashed.status.code(), Some(2));
    let crashed_tree = tree(&out);
    let checked = check(&changed, &out);
    let stderr = String::from_utf8(checked.stderr).unwrap();
    assert_eq!(checked.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("a render was interrupted"), "{stderr}");
    assert_eq!(tree(&out), crashed_tree, "check wrote nothing");
    let repaired = render(&changed, &out);
    assert!(
        repaired.status.success(),
        "{}",
        String::from_utf8_lossy(&repaired.stderr)
    );
    assert_eq!(tree(&out), tree(&expected));
}

/// `n` small files in a few hundred directories, two in five of them scripts.
fn large_plan(n: usize, salt: &str) -> crossfed::render::FilePlan {
    (0..n)
        .map(|i| {
            let path = match i % 5 {
                0 | 1 => format!("group-{:03}/item-{i:05}/apply.sh", i % 300),
                2 => format!("group-{:03}/item-{i:05}/policy.json", i % 300),
                _ => format!("group-{:03}/flat-{i:05}.yaml", i % 300),
            };
            let content = format!("# file {i}{salt}\n");
            let none = std::collections::BTreeSet::new();
            let file = if std::path::Path::new(&path)
                .extension()
                .is_some_and(|e| e == "sh")
            {
                crossfed::render::PlannedFile::program(content, &none)
            } else {
                crossfed::render::PlannedFile::data(content, &none)
            };
            (path, file)
        })
        .collect()
}

#[test]
fn a_large_plan_round_trips() {
    use crossfed::output::{self, Fault};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let plan = output::with_manifest(large_plan(5_000, ""), "large.yaml", "large");
    let summary = output::write(&out, &plan, Fault::None, false).unwrap();
    assert_eq!(summary.written.len(), 5_000);
    let on_disk = tree(&out);
    assert_eq!(on_disk.len(), plan.len(), "the plan and nothing else");
    for (path, file) in &plan {
        assert_eq!(on_disk[path], file.content.as_bytes(), "{path}");
    }
    #[cfg(unix)]
    for (path, file) in plan.iter().filter(|(p, _)| !p.starts_with(".crossfed")) {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(out.join(path))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        let expected = if file.mode == crossfed::render::Mode::Executable {
            0o755
        } else {
            0o644
        };
        assert_eq!(mode, expected, "{path}");
    }
    assert!(output::diff(&out, &plan).unwrap().is_empty());
    let again = output::write(&out, &plan, Fault::None, false).unwrap();
    assert!(again.written.is_empty() && again.removed.is_empty());
    assert_eq!(again.unchanged, 5_000);

    // Change every 7th file, keeping its length, and drop the last 100.
    let mut next = large_plan(4_900, "");
    let mut changed = 0;
    for content in next.values_mut().step_by(7) {
        content.content = content.content.replacen("# file", "# File", 1);
        changed += 1;
    }
    let next = output::with_manifest(next, "large.yaml", "large");
    let summary = output::write(&out, &next, Fault::None, false).unwrap();
    assert_eq!(summary.written.len(), changed);
    assert_eq!(summary.removed.len(), 100);
    assert_eq!(summary.unchanged, 4_900 - changed);
    assert!(output::diff(&out, &next).unwrap().is_empty());
    assert_eq!(tree(&out).len(), next.len());
    assert!(
        !out.join("group-100/item-04900").exists(),
        "a directory left empty is removed"
    );
}

#[test]
fn settling_releases_only_what_the_directory_holds_and_changes_nothing_else() {
    settles_only_what_the_directory_holds(false);
}

#[test]
fn settling_after_a_survey_releases_the_same() {
    settles_only_what_the_directory_holds(true);
}

/// Settling a plan against a tree edited after it was written; with `survey`, the tree is hashed
/// first ([`Held::survey`]), as `render` does while validating.
fn settles_only_what_the_directory_holds(survey: bool) {
    use crossfed::output::{self, Fault, Held};
    use crossfed::render::{FilePlan, RenderError, Settled};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let plan = output::with_manifest(large_plan(500, ""), "large.yaml", "large");
    output::write(&out, &plan, Fault::None, false).unwrap();

    // Next: every 7th file edited (same length), one file swapped for a link to a file holding
    // the planned bytes, one removed.
    let mut next = large_plan(500, "");
    let mut edited = Vec::new();
    for (path, file) in next.iter_mut().step_by(7) {
        file.content = file.content.replacen("# file", "# File", 1);
        edited.push(path.clone());
    }
    let linked = "group-001/item-00001/apply.sh";
    let decoy = dir.path().join("decoy.sh");
    std::fs::write(&decoy, &next[linked].content).unwrap();
    std::fs::remove_file(out.join(linked)).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&decoy, out.join(linked)).unwrap();
    let removed = "group-002/item-00002/policy.json";
    std::fs::remove_file(out.join(removed)).unwrap();

    let differ =
        |path: &String| edited.contains(path) || path == removed || (cfg!(unix) && path == linked);
    settling_for_reading_keeps_what_differs(&out, &next, &differ);

    let unsettled = output::with_manifest(next.clone(), "large.yaml", "large");
    let held = if survey {
        // Hashed by three threads at once, as the CLI's validating thread helps the survey.
        let never = std::sync::atomic::AtomicBool::new(false);
        let survey = output::Survey::open(&out, true).expect("a rendered tree is surveyed");
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| survey.work(&never));
            }
        });
        survey
            .finish()
            .expect("every chunk was hashed")
            .for_writing_after_survey()
            .unwrap()
    } else {
        Held::for_writing(&out).unwrap()
    };
    let rendered = next.clone();
    // Every file of `large_plan` is in part 0.
    let rerender = |which: &[usize]| -> Result<Vec<FilePlan>, RenderError> {
        assert_eq!(
            which,
            [0],
            "only the part of the files to write is rendered again"
        );
        Ok(vec![rendered.clone()])
    };

    held.settle(&mut next);
    let settled = output::with_manifest(next.clone(), "large.yaml", "large");
    assert_eq!(
        settled[".crossfed/manifest.json"], unsettled[".crossfed/manifest.json"],
        "the manifest hashes what was released"
    );
    for (path, file) in &next {
        let expected = if differ(path) {
            Settled::Released
        } else {
            Settled::Held
        };
        assert_eq!(file.settled, expected, "{path}");
        assert!(file.content.is_empty(), "{path}");
        assert!(file.digest.is_some(), "{path}");
    }
    // Settled or not, the diff and the write are the same.
    let diff = |plan| {
        held.diff(plan, &rerender)
            .unwrap()
            .into_iter()
            .map(|c| (c.path, c.kind, c.diff))
            .collect::<Vec<_>>()
    };
    assert_eq!(diff(&settled), diff(&unsettled));
    assert_eq!(
        diff(&settled).len(),
        edited.len() + 2 + usize::from(cfg!(unix))
    );
    let one = held.diff_of(&settled, &edited[..1], &rerender).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].path, edited[0]);
    assert!(
        one[0].diff.contains("-# file") && one[0].diff.contains("+# File"),
        "{}",
        one[0].diff
    );
    let summary = held.write(&settled, &rerender, Fault::None, true).unwrap();
    assert_eq!(
        summary.unchanged,
        500 - edited.len() - 1 - usize::from(cfg!(unix))
    );
    drop(held);
    assert!(output::diff(&out, &unsettled).unwrap().is_empty());
    assert_eq!(
        std::fs::read(&decoy).unwrap(),
        unsettled[linked].content.as_bytes()
    );
}

/// Held for reading (`check`), the files the directory does not hold keep their content, to be
/// shown in a diff.
fn settling_for_reading_keeps_what_differs(
    out: &Path,
    plan: &crossfed::render::FilePlan,
    differ: &dyn Fn(&String) -> bool,
) {
    use crossfed::render::Settled;
    let reading = crossfed::output::Held::for_reading(out).unwrap();
    let mut kept = plan.clone();
    reading.settle(&mut kept);
    for (path, file) in &kept {
        let expected = if differ(path) {
            Settled::Kept
        } else {
            Settled::Held
        };
        assert_eq!(file.settled, expected, "{path}");
        assert_eq!(file.content.is_empty(), !differ(path), "{path}");
    }
}

#[test]
fn released_files_are_written_from_their_part_rendered_again_and_checked() {
    use crossfed::output::{self, Fault, Held, OutputError};
    use crossfed::render::{FilePlan, RenderError, Settled};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut rendered = large_plan(300, "");
    // Two parts, as a render numbers them.
    for (n, file) in rendered.values_mut().enumerate() {
        file.part = n % 2 + 3;
    }
    let held = Held::for_writing(&out).unwrap();
    let mut plan = rendered.clone();
    held.settle(&mut plan);
    assert!(
        plan.values()
            .all(|f| f.settled == Settled::Released && f.content.is_empty())
    );
    let plan = output::with_manifest(plan, "large.yaml", "large");
    let part = |number: usize, salt: &str| -> FilePlan {
        rendered
            .iter()
            .filter(|(_, f)| f.part == number)
            .map(|(path, f)| {
                let mut f = f.clone();
                if path.ends_with("flat-00008.yaml") {
                    f.content.push_str(salt);
                }
                (path.clone(), f)
            })
            .collect()
    };

    // Rendering a part again gives other bytes, or loses a file: refused, nothing written.
    let before = tree(&out);
    let unstable = |which: &[usize]| -> Result<Vec<FilePlan>, RenderError> {
        Ok(which.iter().map(|&n| part(n, "# again\n")).collect())
    };
    let lossy = |which: &[usize]| -> Result<Vec<FilePlan>, RenderError> {
        Ok(which.iter().skip(1).map(|&n| part(n, "")).collect())
    };
    for rerender in [&unstable as &output::Rerender<'_>, &lossy] {
        let error = held.write(&plan, rerender, Fault::None, false).unwrap_err();
        assert!(matches!(error, OutputError::Rerendered { .. }), "{error}");
        assert!(error.to_string().contains("crossfed bug"), "{error}");
        assert_eq!(tree(&out), before, "nothing written");
    }

    // The same bytes: written, each part rendered once.
    let asked = std::sync::Mutex::new(Vec::new());
    let stable = |which: &[usize]| -> Result<Vec<FilePlan>, RenderError> {
        asked.lock().unwrap().extend_from_slice(which);
        Ok(which.iter().map(|&n| part(n, "")).collect())
    };
    let summary = held.write(&plan, &stable, Fault::None, false).unwrap();
    assert_eq!(summary.written.len(), 300);
    let mut asked = asked.into_inner().unwrap();
    asked.sort_unstable();
    assert_eq!(asked, [3, 4]);
    drop(held);
    let whole = output::with_manifest(rendered.clone(), "large.yaml", "large");
    assert!(output::diff(&out, &whole).unwrap().is_empty());
}

#[test]
fn a_survey_reads_only_a_finished_tree_and_writes_nothing() {
    use crossfed::output::{self, Fault, Held};
    use std::sync::atomic::AtomicBool;
    let never = AtomicBool::new(false);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Nothing there yet, or a directory that was never rendered into: nothing to survey.
    assert!(Held::survey(&out, true, &never).is_none());
    std::fs::create_dir_all(out.join(".crossfed")).unwrap();
    assert!(Held::survey(&out, true, &never).is_none());
    let plan = output::with_manifest(large_plan(20, ""), "large.yaml", "large");
    output::write(&out, &plan, Fault::None, false).unwrap();
    let before = tree(&out);
    assert!(Held::survey(&out, false, &never).is_some());
    // Asked to stop (the spec is invalid): gives up.
    assert!(Held::survey(&out, true, &AtomicBool::new(true)).is_none());
    // A survey that nobody worked on is not finished.
    assert!(
        output::Survey::open(&out, false)
            .unwrap()
            .finish()
            .is_none()
    );
    // A manifest whose files read well and whose rest does not (a version that is not a string)
    // is left to the usual path, which reports it.
    let manifest = out.join(".crossfed/manifest.json");
    let sound = std::fs::read_to_string(&manifest).unwrap();
    let version = format!("\"crossfed\": \"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(sound.contains(&version), "{sound}");
    std::fs::write(&manifest, sound.replacen(&version, "\"crossfed\": 5", 1)).unwrap();
    assert!(output::read_manifest(&out).is_err());
    assert!(output::Survey::open(&out, false).is_some());
    assert!(Held::survey(&out, false, &never).is_none());
    std::fs::write(&manifest, &sound).unwrap();
    // An interrupted render is left to `render`'s recovery, which writes.
    std::fs::write(
        out.join(".crossfed/staging.json"),
        r#"{"files":[],"dirs":[]}"#,
    )
    .unwrap();
    assert!(Held::survey(&out, true, &never).is_none());
    std::fs::remove_file(out.join(".crossfed/staging.json")).unwrap();
    assert_eq!(tree(&out), before);
}

/// Adds `path` (with any hash) to the manifest of `out`, as a malicious commit could.
fn own_in_manifest(out: &Path, path: &str) {
    let manifest = out.join(".crossfed/manifest.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    json["files"][path] = serde_json::Value::from("0".repeat(64));
    std::fs::write(&manifest, serde_json::to_string(&json).unwrap()).unwrap();
}

#[test]
fn paths_in_the_manifest_or_journal_never_leave_the_output_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "mine\n").unwrap();
    assert!(render(SPEC, &out).status.success());
    let manifest = std::fs::read(out.join(".crossfed/manifest.json")).unwrap();

    for owned in ["../victim.txt", &victim.display().to_string()] {
        own_in_manifest(&out, owned);
        for run in [render(SPEC, &out), check(SPEC, &out)] {
            assert_eq!(run.status.code(), Some(2));
            let stderr = String::from_utf8(run.stderr).unwrap();
            assert!(
                stderr.contains("is not a relative path inside the output directory"),
                "{stderr}"
            );
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "mine\n");
        std::fs::write(out.join(".crossfed/manifest.json"), &manifest).unwrap();
    }

    std::fs::write(
        out.join(".crossfed/journal.json"),
        r#"{"renames": [], "deletes": ["../victim.txt"], "manifest": ""}"#,
    )
    .unwrap();
    let refused = render(SPEC, &out);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8(refused.stderr)
            .unwrap()
            .contains("journal.json")
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "mine\n");
}

#[cfg(unix)]
#[test]
fn symlinked_directories_in_the_output_are_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("secret"), "s3cret\n").unwrap();
    assert!(render(SPEC, &out).status.success());

    // A stale owned file behind a symlinked directory: neither deleted by render nor shown by check.
    std::os::unix::fs::symlink(&elsewhere, out.join("linked")).unwrap();
    own_in_manifest(&out, "linked/secret");
    for run in [render(SPEC, &out), check(SPEC, &out)] {
        assert_eq!(run.status.code(), Some(2));
        let stderr = String::from_utf8(run.stderr).unwrap();
        assert!(stderr.contains("refusing to follow symlink"), "{stderr}");
        assert!(
            !stderr.contains("s3cret")
                && !String::from_utf8(run.stdout).unwrap().contains("s3cret")
        );
    }
    assert_eq!(
        std::fs::read_to_string(elsewhere.join("secret")).unwrap(),
        "s3cret\n"
    );
    std::fs::remove_file(out.join("linked")).unwrap();

    // A planned file's directory replaced by a symlink: nothing is written through it.
    let role = out.join("aws/281031839323/roles/shared-data-reader");
    std::fs::remove_dir_all(&role).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &role).unwrap();
    let refused = render(SPEC, &out);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8(refused.stderr)
            .unwrap()
            .contains("refusing to follow symlink")
    );
    let mut names: Vec<_> = std::fs::read_dir(&elsewhere)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["secret"], "nothing was written through the symlink");
}

#[test]
fn check_says_in_one_line_that_the_output_directory_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never-rendered");
    let checked = check(SPEC, &out);
    assert_eq!(checked.status.code(), Some(1));
    let stderr = String::from_utf8(checked.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("no such directory; run `crossfed render"),
        "{stderr}"
    );
    assert!(checked.stdout.is_empty());
    assert!(!out.exists(), "check created nothing");
}

#[test]
fn check_in_json_prints_json_for_an_invalid_spec_too() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let broken = spec_from(
        dir.path(),
        "gke-many-pods-one-role.yaml",
        &[("to: {awsRole: shared-data-reader}", "to: {awsRole: nope}")],
    );
    let checked = crossfed(&["check", &broken, "--format", "json"], &out, None);
    assert_eq!(checked.status.code(), Some(1));
    let listed: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(listed[0]["code"], "unknown-reference", "{listed}");
}

#[test]
fn render_refuses_to_undo_hand_edits_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert!(render(SPEC, &out).status.success());
    let file = out.join("aws/281031839323/roles/shared-data-reader/trust-policy.json");
    let original = std::fs::read_to_string(&file).unwrap();
    let edited = original.replace("\"Version\"", "\"Version\" ");
    std::fs::write(&file, &edited).unwrap();
    let before = tree(&out);

    let refused = render(SPEC, &out);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(
        stderr.contains("edited by hand since crossfed wrote them: aws/281031839323/roles/shared-data-reader/trust-policy.json"),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "{stderr}");
    let stdout = String::from_utf8(refused.stdout).unwrap();
    assert!(
        stdout.contains("-  \"Version\" : "),
        "the edit is shown: {stdout}"
    );
    assert_eq!(tree(&out), before, "nothing written");

    let forced = crossfed(&["render", SPEC, "--force"], &out, None);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);
    assert_eq!(check(SPEC, &out).status.code(), Some(0));
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn one_writer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert!(render(SPEC, &out).status.success());
    let changed = spec_from(
        dir.path(),
        "gke-many-pods-one-role.yaml",
        &[("namespace: ingest", "namespace: ingest2")],
    );
    let before = tree(&out);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_crossfed"))
            .args(args)
            .arg("-o")
            .arg(&out)
            .current_dir(root())
            .env("CROSSFED_TEST_LOCK_WAIT_MS", "300")
            .output()
            .unwrap()
    };
    {
        // Another render holds the directory: this one waits, then gives up having written
        // nothing; a check (a reader) waits for the writer too.
        let _held = crossfed::output::lock(&out, true).unwrap().unwrap();
        let busy = run(&["render", &changed]);
        assert_eq!(busy.status.code(), Some(2));
        let stderr = String::from_utf8(busy.stderr).unwrap();
        assert!(
            stderr.contains("is in use by another crossfed render"),
            "{stderr}"
        );
        assert_eq!(tree(&out), before);
        assert_eq!(run(&["check", SPEC]).status.code(), Some(2));
    }
    {
        // Readers share: a check holding the lock does not stop another check.
        let _reading = crossfed::output::lock(&out, false).unwrap().unwrap();
        assert_eq!(run(&["check", SPEC]).status.code(), Some(0));
        assert_eq!(run(&["render", &changed]).status.code(), Some(2));
    }
    // Released (or its holder died): the render goes through.
    assert!(run(&["render", &changed]).status.success());
}

#[test]
fn the_output_does_not_depend_on_how_the_spec_path_was_typed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert!(render(SPEC, &out).status.success());
    let absolute = root().join(SPEC).display().to_string();
    let dotted = format!("./fixtures/../{SPEC}");
    for spec in [absolute.as_str(), dotted.as_str()] {
        let checked = check(spec, &out);
        assert_eq!(
            checked.status.code(),
            Some(0),
            "{spec}: {}",
            String::from_utf8_lossy(&checked.stdout)
        );
    }
    // From another working directory, with the output given relatively.
    let elsewhere = Command::new(env!("CARGO_BIN_EXE_crossfed"))
        .args(["check", &absolute, "-o", "out"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(elsewhere.status.code(), Some(0));
    let manifest = std::fs::read_to_string(out.join(".crossfed/manifest.json")).unwrap();
    assert!(manifest.contains("\"spec\": \"../"), "{manifest}");
}

#[cfg(unix)]
#[test]
fn state_files_are_never_read_through_a_link_or_without_bound() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let secret = dir.path().join("secret.json");
    std::fs::write(&secret, "{\"files\": {}, \"token\": \"s3cret\"}\n").unwrap();
    assert!(render(SPEC, &out).status.success());
    let manifest = out.join(".crossfed/manifest.json");
    let saved = std::fs::read(&manifest).unwrap();

    // The manifest swapped for a link to a file elsewhere, or to an endless device.
    for target in [secret.as_path(), Path::new("/dev/zero")] {
        std::fs::remove_file(&manifest).unwrap();
        std::os::unix::fs::symlink(target, &manifest).unwrap();
        for run in [render(SPEC, &out), check(SPEC, &out)] {
            assert_eq!(run.status.code(), Some(2));
            let stderr = String::from_utf8(run.stderr).unwrap();
            assert!(stderr.contains("refusing to follow symlink"), "{stderr}");
            assert!(!stderr.contains("s3cret"));
        }
    }
    // A FIFO where the manifest goes: refused without opening it (an open would block).
    std::fs::remove_file(&manifest).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(&manifest)
            .status()
            .unwrap()
            .success()
    );
    let refused = check(SPEC, &out);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8(refused.stderr)
            .unwrap()
            .contains("not a regular file")
    );
    std::fs::remove_file(&manifest).unwrap();
    std::fs::write(&manifest, saved).unwrap();
    assert_eq!(check(SPEC, &out).status.code(), Some(0));
}

/// A FIFO where a rendered file goes: `check` and `render` see that it is not the file, without
/// waiting for a writer (the survey of the tree opens files non-blocking before it looks).
#[cfg(unix)]
#[test]
fn a_fifo_in_place_of_a_rendered_file_is_reported_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert!(render(SPEC, &out).status.success());
    let victim = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_file())
        .expect("a rendered file at the top of the tree");
    std::fs::remove_file(&victim).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(&victim)
            .status()
            .unwrap()
            .success()
    );
    let checked = check(SPEC, &out);
    assert_eq!(checked.status.code(), Some(1), "{checked:?}");
    let name = victim.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        String::from_utf8_lossy(&checked.stdout).contains(&name)
            || String::from_utf8_lossy(&checked.stderr).contains(&name),
        "{checked:?}"
    );
}

#[test]
fn explain_says_when_there_is_no_spec_and_suggests_a_near_name() {
    let explain = |topic: &str, spec: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_crossfed"))
            .args(["explain", topic, "--spec", spec])
            .current_dir(root())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8(out.stderr).unwrap()
    };
    let missing = explain("eks-uploader", "no/such/crossfed.yaml");
    assert!(
        missing.contains("there is no spec at `no/such/crossfed.yaml`"),
        "{missing}"
    );
    let typo = explain("eks-sync-to-gsc", "fixtures/valid/both-directions.yaml");
    assert!(typo.contains("did you mean `eks-sync-to-gcs`?"), "{typo}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_stricter_umask_is_respected() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let rendered = Command::new("sh")
        .arg("-c")
        .arg("umask 077 && exec \"$0\" render \"$1\" -o \"$2\" --quiet")
        .arg(env!("CARGO_BIN_EXE_crossfed"))
        .arg(SPEC)
        .arg(&out)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let mode = |path: &str| {
        std::fs::metadata(out.join(path))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("aws/281031839323/apply.sh"), 0o700);
    assert_eq!(
        mode("aws/281031839323/roles/shared-data-reader/trust-policy.json"),
        0o600
    );
}

#[cfg(unix)]
#[test]
fn links_at_staging_names_and_planned_paths_are_replaced_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let victim = dir.path().join("post-checkout");
    let secret = dir.path().join("secret");
    std::fs::write(&victim, "#!/bin/sh\necho mine\n").unwrap();
    std::fs::write(&secret, "s3cret\n").unwrap();
    assert!(render(SPEC, &out).status.success());
    let changed = spec_from(
        dir.path(),
        "gke-many-pods-one-role.yaml",
        &[("name: ingest-worker", "name: ingest-worker-v2")],
    );
    // A link where render stages the apply script it is about to change (as a pull request
    // could commit one), and a link in place of a planned file.
    let account = out.join("aws/281031839323");
    std::os::unix::fs::symlink(&victim, account.join(".apply.sh.crossfed-new")).unwrap();
    let policy = account.join("roles/shared-data-reader/trust-policy.json");
    std::fs::remove_file(&policy).unwrap();
    std::os::unix::fs::symlink(&secret, &policy).unwrap();

    let checked = check(&changed, &out);
    assert_eq!(checked.status.code(), Some(1));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(
        !printed.contains("s3cret"),
        "check printed a link's target: {printed}"
    );

    let rendered = crossfed(&["render", &changed, "--quiet"], &out, None);
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "s3cret\n");
    assert!(
        !std::fs::symlink_metadata(&policy)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(!account.join(".apply.sh.crossfed-new").exists());
    assert_eq!(check(&changed, &out).status.code(), Some(0));
}

#[test]
fn revocations_are_written_carried_and_forgotten_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let full = spec_from(dir.path(), "quickstart.yaml", &[]);
    assert!(render(&full, &out).status.success());
    // The EKS federation is dropped from the spec.
    let source = std::fs::read_to_string(&full).unwrap();
    let smaller = dir.path().join("smaller.yaml");
    std::fs::write(
        &smaller,
        &source[..source.find("  - name: eks-uploader").unwrap()],
    )
    .unwrap();
    let smaller = smaller.display().to_string();
    assert!(render(&smaller, &out).status.success());
    let revoke = out.join("gcp/acme-prod/revoke.sh");
    let text = std::fs::read_to_string(&revoke).unwrap();
    assert!(text.contains("remove-iam-policy-binding"), "{text}");
    assert!(out.join("kubernetes/data/revoke.sh").exists());
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        readme.contains("`bash gcp/acme-prod/revoke.sh`"),
        "{readme}"
    );
    // Up to date, and carried by the next render of the same spec.
    assert!(check(&smaller, &out).status.success());
    let before = tree(&out);
    assert!(render(&smaller, &out).status.success());
    assert_eq!(tree(&out), before);
    // Once run: forgotten, and `check` agrees.
    let forgot = crossfed(&["render", &smaller, "--forget-revocations"], &out, None);
    assert!(forgot.status.success());
    assert!(!revoke.exists());
    assert!(!out.join("kubernetes/data/revoke.sh").exists());
    assert!(check(&smaller, &out).status.success());
}

#[test]
fn grants_in_a_manifest_are_checked_before_use() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let spec = spec_from(dir.path(), "quickstart.yaml", &[]);
    assert!(render(&spec, &out).status.success());
    // A pull request slips a shell command into a recorded grant.
    let manifest = out.join(".crossfed/manifest.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    json["grants"]["kubernetes"]["data"]["configMaps"]["ingest"] =
        serde_json::json!(["x $(touch pwned)"]);
    std::fs::write(&manifest, serde_json::to_string(&json).unwrap()).unwrap();
    let before = tree(&out);
    for args in [
        &["render", spec.as_str()][..],
        &["check", spec.as_str()][..],
    ] {
        let result = crossfed(args, &out, None);
        assert_eq!(result.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(stderr.contains("manifest.json"), "{stderr}");
        assert!(stderr.contains("not a plain name"), "{stderr}");
    }
    assert_eq!(tree(&out), before);
}
