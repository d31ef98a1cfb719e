"""Rendered gcloud scripts -> the real gcloud, and their handling of gcloud's answers.

Every gcloud script of every fixture (`gcp/*/pools/*/*.sh` but the credential-config cross-check,
which test_gcloud.py runs for real, and `gcp/*/gke-workload-identity.sh`) runs under bash with
`gcloud` replaced by a stub that logs its arguments and answers `describe` as told:
- NOT_FOUND: the pool and each provider are created;
- found: each provider is updated, nothing is created;
- PERMISSION_DENIED (or any other error): the script stops with gcloud's message, before any
  create or update.

Then every command the stub saw is run by the real gcloud from the machine image, offline: gcloud
parses its arguments before it needs an account, so an unknown flag or a malformed value fails
the test (exit 2), and the expected "no active account" stop (exit 1) passes.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import require_tool

STUB = r"""#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if "describe" in args:
    answer = os.environ["STUB_DESCRIBE"]
    if answer == "found":
        sys.exit(0)
    sys.stderr.write(f"ERROR: (gcloud.{'.'.join(a for a in args if not a.startswith('-'))}) {answer}: stub answer\n")
    sys.exit(1)
"""

NO_ACCOUNT = "You do not currently have an active account selected"


def scripts(root: Path) -> list[Path]:
    found = [p for p in root.glob("gcp/*/pools/*/*.sh") if p.name != "create-cred-configs.sh"]
    found += root.glob("gcp/*/gke-workload-identity.sh")
    found += root.glob("gcp/*/service-account-grants.sh")
    return sorted(found)


def run(script: Path, describe: str, tmp: Path) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "gcloud"
    stub.write_text(STUB)
    stub.chmod(0o755)
    log = tmp / f"{script.parent.name}-{script.name}-{describe}.log"
    log.write_text("")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STUB_LOG": str(log), "STUB_DESCRIBE": describe}
    r = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60, env=env)
    return r, [json.loads(line) for line in log.read_text().splitlines()]


def writes(commands: list[list[str]]) -> list[list[str]]:
    """The commands that change something (everything but describe)."""
    return [c for c in commands if "describe" not in c]


def verb(command: list[str]) -> str:
    """`create`, `update-oidc`, `add-iam-policy-binding`…: the word after the resource group."""
    words = [a for a in command if not a.startswith("-")]
    return next(w for w in words if w.startswith(("create", "update", "add-", "remove-", "delete")))


_PARSED: dict[tuple[str, ...], str] = {}


def real_gcloud_problems(commands: list[list[str]], tmp: Path) -> list[str]:
    """Runs each command not seen yet with the real gcloud; the commands it refused."""
    require_tool("gcloud", "The Google Cloud CLI ships with the machine image.")
    env = {
        **os.environ,
        "CLOUDSDK_CONFIG": str(tmp / "gcloud-config"),
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "1",
    }
    todo = sorted({tuple(c) for c in commands} - set(_PARSED))

    def parse(command: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
        r = subprocess.run(["gcloud", *command], capture_output=True, text=True, timeout=120, env=env)
        if r.returncode == 1 and NO_ACCOUNT in r.stderr:
            return command, ""
        return command, f"gcloud {' '.join(command)}\n  exit {r.returncode}: {r.stderr.strip()}"

    with ThreadPoolExecutor(max_workers=4) as pool:
        _PARSED.update(pool.map(parse, todo))
    return [_PARSED[tuple(c)] for c in commands if _PARSED[tuple(c)]]


def test_gcloud_scripts_create_update_or_stop_and_every_command_parses(tree, tmp_path):
    found_any = False
    seen: list[list[str]] = []
    for script in scripts(tree.root):
        found_any = True
        name = script.relative_to(tree.root)
        is_pool = script.parent.parent.name == "pools"

        fresh, created = run(script, "NOT_FOUND", tmp_path)
        assert fresh.returncode == 0, f"{name} (nothing exists):\n{fresh.stderr}"
        again, updated = run(script, "found", tmp_path)
        assert again.returncode == 0, f"{name} (everything exists):\n{again.stderr}"
        denied, stopped = run(script, "PERMISSION_DENIED", tmp_path)
        seen += created + updated

        if is_pool:
            created_verbs = [verb(c) for c in writes(created)]
            updated_verbs = [verb(c) for c in writes(updated)]
            providers = sum(1 for c in writes(created) if "providers" in c)
            assert created_verbs[0] == "create" and "providers" not in writes(created)[0], created_verbs
            assert providers >= 1, f"{name}: no provider created"
            assert "create" not in updated_verbs, f"{name}: created although it exists: {updated_verbs}"
            assert sum(v.startswith("update-") for v in updated_verbs) == providers, updated_verbs
            assert sum(v.startswith("create-") for v in created_verbs) == providers, created_verbs
            # Any other answer than NOT_FOUND stops the script, with gcloud's message.
            assert denied.returncode != 0, f"{name} went on after PERMISSION_DENIED"
            assert "PERMISSION_DENIED" in denied.stderr, denied.stderr
            assert writes(stopped) == [], f"{name} wrote after PERMISSION_DENIED: {writes(stopped)}"
        else:
            assert created == updated and all(verb(c) == "add-iam-policy-binding" for c in created), created
    if found_any:
        problems = real_gcloud_problems(seen, tmp_path)
        assert not problems, f"{tree.name}: the real gcloud refused:\n" + "\n".join(problems)


def test_mutation_a_misspelt_flag_is_refused_by_the_real_gcloud(render_tree, tmp_path):
    tree = render_tree("both-directions")
    pool_script = next(s for s in scripts(tree.root) if s.parent.parent.name == "pools")
    _, commands = run(pool_script, "NOT_FOUND", tmp_path)
    broken = [[a.replace("--location=", "--locaton=") for a in c] for c in writes(commands)]
    assert broken[0] != writes(commands)[0]
    assert real_gcloud_problems(broken[:1], tmp_path), "a misspelt flag was accepted"
