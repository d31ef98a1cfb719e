//! The interop suite: every valid fixture's rendered output fed to the software that consumes it
//! in production (google-auth, botocore and the AWS CLI against moto, kubernetes-validate and
//! kustomize, shellcheck, yaml-language-server, check-jsonschema, Terraform). The suite itself is Python,
//! in `tests/interop/`; this test bootstraps its pinned tools and runs it, so `cargo test` is
//! the one command that runs everything.
//!
//! Bootstrap, all under the target directory (never in the source tree): a virtual environment
//! in `target/interop-venv` from `tests/interop/requirements.txt`, and `npm ci` of
//! `tests/interop/package-lock.json` in `target/interop-node`, and the wheels of
//! `tests/interop/provider-schemas.txt` (downloaded, not installed) in
//! `target/interop-provider-schemas`. Each is redone only when its
//! lock file (or the interpreter) changes, and a file lock keeps concurrent `cargo test` runs
//! from building them at once. A missing tool fails with a message naming it: nothing is skipped.
//!
//! `CROSSFED_PYTHON` picks the interpreter (default `python3`); `CROSSFED_INTEROP_PYTEST_ARGS`
//! adds pytest arguments (e.g. `-k editor`) when working on the suite.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The whole suite, bootstrap excluded, must finish well inside CI's budget.
const SUITE_DEADLINE: Duration = Duration::from_secs(15 * 60);

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_crossfed"))
}

/// `target/` (or `$CARGO_TARGET_DIR`): the binary lives in `<target>/<profile>/crossfed`.
fn target_dir() -> PathBuf {
    binary()
        .parent()
        .and_then(Path::parent)
        .expect("the crossfed binary lives in <target>/<profile>/")
        .to_path_buf()
}

fn say(message: &str) {
    // Straight to stderr, not through the test harness's capture: progress of a long bootstrap.
    let _ = writeln!(std::io::stderr(), "interop: {message}");
}

/// Runs a bootstrap command; on failure, panics with its output and `hint`.
fn run(command: &mut Command, what: &str, hint: &str) -> String {
    let output = match command.output() {
        Ok(output) => output,
        Err(e) => panic!("interop: cannot run {what} ({e}). {hint}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "interop: {what} failed ({}). {hint}\n{text}",
        output.status
    );
    text
}

/// Whether `dir` was built from exactly `stamp` (the lock file's content plus tool versions).
fn up_to_date(dir: &Path, stamp: &str) -> bool {
    fs::read_to_string(dir.join(".crossfed-stamp")).is_ok_and(|s| s == stamp)
}

fn write_stamp(dir: &Path, stamp: &str) {
    fs::write(dir.join(".crossfed-stamp"), stamp).expect("write the bootstrap stamp");
}

fn python_venv(target: &Path, suite: &Path) -> PathBuf {
    let python = std::env::var("CROSSFED_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let version = run(
        Command::new(&python).args([
            "-c",
            "import sys; assert sys.version_info >= (3, 10), sys.version; print(sys.version)",
        ]),
        &format!("`{python}` (Python 3.10 or newer)"),
        "The interop tests need Python 3.10+ with venv and pip: install python3 and python3-venv, or set CROSSFED_PYTHON.",
    );
    let requirements = fs::read_to_string(suite.join("requirements.txt"))
        .expect("read tests/interop/requirements.txt");
    let stamp = format!("{version}\n{requirements}");
    let venv = target.join("interop-venv");
    if !up_to_date(&venv, &stamp) {
        say(&format!(
            "creating {} from tests/interop/requirements.txt",
            venv.display()
        ));
        if venv.exists() {
            fs::remove_dir_all(&venv).expect("remove the stale interop venv");
        }
        run(
            Command::new(&python).args(["-m", "venv"]).arg(&venv),
            "`python3 -m venv`",
            "Install the venv module (Debian: apt-get install python3-venv).",
        );
        run(
            Command::new(venv.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "--quiet",
                    "-r",
                ])
                .arg(suite.join("requirements.txt")),
            "`pip install -r tests/interop/requirements.txt`",
            "The pinned packages come from PyPI; check the network and the pins.",
        );
        write_stamp(&venv, &stamp);
    }
    venv
}

fn node_modules(target: &Path, suite: &Path) -> PathBuf {
    let hint = "The editor tests run yaml-language-server: install Node.js 20 and npm.";
    let node = run(Command::new("node").arg("--version"), "`node`", hint);
    let npm = run(Command::new("npm").arg("--version"), "`npm`", hint);
    let lock = fs::read_to_string(suite.join("package-lock.json"))
        .expect("read tests/interop/package-lock.json");
    let stamp = format!("{node}{npm}{lock}");
    let dir = target.join("interop-node");
    if !up_to_date(&dir, &stamp) {
        say(&format!(
            "installing tests/interop/package-lock.json into {}",
            dir.display()
        ));
        if dir.exists() {
            fs::remove_dir_all(&dir).expect("remove the stale interop node_modules");
        }
        fs::create_dir_all(&dir).expect("create target/interop-node");
        for file in ["package.json", "package-lock.json"] {
            fs::copy(suite.join(file), dir.join(file)).expect("copy the npm manifest");
        }
        run(
            Command::new("npm")
                .args([
                    "ci",
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--loglevel=error",
                ])
                .current_dir(&dir),
            "`npm ci` of tests/interop/package-lock.json",
            "The pinned packages come from the npm registry; check the network and the lock file.",
        );
        write_stamp(&dir, &stamp);
    }
    dir.join("node_modules")
}

/// The provider schemas of `tests/interop/provider-schemas.txt`, downloaded (not installed).
fn provider_schemas(target: &Path, suite: &Path, venv: &Path) -> PathBuf {
    let pins = fs::read_to_string(suite.join("provider-schemas.txt"))
        .expect("read tests/interop/provider-schemas.txt");
    let dir = target.join("interop-provider-schemas");
    if !up_to_date(&dir, &pins) {
        say(&format!(
            "downloading tests/interop/provider-schemas.txt into {}",
            dir.display()
        ));
        if dir.exists() {
            fs::remove_dir_all(&dir).expect("remove the stale provider schemas");
        }
        run(
            Command::new(venv.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--disable-pip-version-check",
                    "--no-input",
                    "--quiet",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--require-hashes",
                    "--dest",
                ])
                .arg(&dir)
                .arg("-r")
                .arg(suite.join("provider-schemas.txt")),
            "`pip download -r tests/interop/provider-schemas.txt`",
            "The pinned wheels come from PyPI; check the network and the hashes.",
        );
        write_stamp(&dir, &pins);
    }
    dir
}

#[test]
fn interop_suite() {
    let root = manifest_dir();
    let suite = root.join("tests/interop");
    let target = target_dir();
    fs::create_dir_all(&target).expect("create the target directory");

    // One bootstrap at a time, across concurrent `cargo test` runs sharing this target dir.
    let lock = File::create(target.join("interop.lock")).expect("create target/interop.lock");
    lock.lock().expect("lock target/interop.lock");
    let venv = python_venv(&target, &suite);
    let modules = node_modules(&target, &suite);
    let schemas = provider_schemas(&target, &suite, &venv);
    lock.unlock().expect("unlock target/interop.lock");

    let log_path = target.join("interop-pytest.log");
    let log = File::create(&log_path).expect("create target/interop-pytest.log");
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let extra = std::env::var("CROSSFED_INTEROP_PYTEST_ARGS").unwrap_or_default();
    say(&format!(
        "running pytest on tests/interop (log: {})",
        log_path.display()
    ));
    let started = Instant::now();
    let mut child = Command::new(venv.join("bin/python"))
        .args(["-m", "pytest", "-c"])
        .arg(suite.join("pytest.ini"))
        .arg(&suite)
        .args(["-q", "--color=no"])
        .args(extra.split_whitespace())
        .current_dir(&root)
        .env("CROSSFED_BIN", binary())
        .env("CROSSFED_NODE_MODULES", &modules)
        .env("CROSSFED_PROVIDER_SCHEMAS", &schemas)
        .env("CROSSFED_TARGET_DIR", &target)
        .env("PATH", path)
        // Keep the source tree clean: no __pycache__ next to the tests.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log handle"))
        .stderr(log)
        .spawn()
        .expect("start pytest from target/interop-venv");

    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for pytest") {
            break status;
        }
        if started.elapsed() > SUITE_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            let output = fs::read_to_string(&log_path).unwrap_or_default();
            panic!(
                "interop: pytest did not finish within {SUITE_DEADLINE:?}; killed it.\n{output}"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = fs::read_to_string(&log_path).unwrap_or_default();
    let summary = output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_owned();
    say(&format!("pytest: {summary} ({:.0?})", started.elapsed()));
    assert!(
        status.success(),
        "interop: pytest failed ({status}); its output (also in {}):\n\n{output}",
        log_path.display()
    );
}
