"""Credential configs -> the real gcloud: every rendered `create-cred-configs.sh` runs for real
(gcloud's create-cred-config only writes files, no account needed) and must write exactly the
bytes crossfed wrote, file for file (this caught gcloud's missing final line break)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from conftest import require_tool


def gcloud_configs(root: Path, out: Path) -> dict[str, bytes]:
    """Runs every pool's create-cred-configs.sh under `root` into `out`; rendered path -> bytes."""
    require_tool("gcloud", "The Google Cloud CLI ships with the machine image.")
    found: dict[str, bytes] = {}
    env = {**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1", "CLOUDSDK_CONFIG": str(out / "gcloud-config")}
    for script in sorted(root.glob("gcp/*/pools/*/create-cred-configs.sh")):
        pool = script.parent.relative_to(root)
        target = out / str(pool).replace("/", "_")
        r = subprocess.run(["bash", str(script), str(target)], capture_output=True, text=True, timeout=300, env=env)
        assert r.returncode == 0, f"{pool}/create-cred-configs.sh failed:\n{r.stdout}{r.stderr}"
        for path in sorted(target.glob("*.json")):
            found[f"{pool}/credential-configs/{path.name}"] = path.read_bytes()
    return found


def differences(root: Path, theirs: dict[str, bytes]) -> list[str]:
    """Where crossfed's credential configs under `root` differ from gcloud's."""
    ours = {str(p.relative_to(root)): p.read_bytes() for p in root.glob("gcp/*/pools/*/credential-configs/*.json")}
    problems = [f"only gcloud wrote {n}" for n in sorted(set(theirs) - set(ours))]
    problems += [f"only crossfed wrote {n}" for n in sorted(set(ours) - set(theirs))]
    problems += [
        f"{n} differs:\n--- gcloud\n{theirs[n].decode()}\n--- crossfed\n{ours[n].decode()}"
        for n in sorted(set(ours) & set(theirs))
        if ours[n] != theirs[n]
    ]
    return problems


def test_gcloud_writes_the_same_credential_configs(tree, tmp_path):
    problems = differences(tree.root, gcloud_configs(tree.root, tmp_path))
    assert not problems, f"{tree.name}:\n" + "\n".join(problems)


def test_mutation_an_edited_config_is_told_apart_from_gclouds(render_tree, tmp_path):
    tree = render_tree("both-directions")
    copy = tmp_path / "tree"
    shutil.copytree(tree.root, copy)
    config = sorted(copy.glob("gcp/*/pools/*/credential-configs/*.json"))[0]
    config.write_bytes(config.read_bytes().replace(b"sts.googleapis.com", b"sts.googleapis.com.example"))
    problems = differences(copy, gcloud_configs(copy, tmp_path / "gcloud"))
    assert any("differs" in p for p in problems), problems
