"""A rendered tree (`crossfed render SPEC -o DIR`) and the artifacts in it, found by walking it.

Discovery is by content and location, not by a list of expected files, so new outputs are
covered as they appear: every `*.json` whose `type` is `external_account`, every IAM trust policy
and OIDC provider under `aws/`, every Kubernetes document under `kubernetes/`, every shell script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from . import spec as spec_mod


@dataclass
class Rendered:
    name: str  # fixture stem
    root: Path
    spec: spec_mod.Spec

    def files(self, pattern: str = "**/*") -> list[Path]:
        return sorted(p for p in self.root.glob(pattern) if p.is_file())

    def rel(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    # --- AWS ---------------------------------------------------------------------------------
    def trust_policies(self) -> list[tuple[str, str, Path]]:
        """(account, role name, path) of every aws/<account>/roles/<role>/trust-policy.json."""
        return [(p.parts[-4], p.parts[-2], p) for p in self.files("aws/*/roles/*/trust-policy.json")]

    def trust_policy_of(self, role: spec_mod.Role) -> dict:
        path = self.root / "aws" / role.account / "roles" / role.name / "trust-policy.json"
        assert path.is_file(), f"{self.name}: no trust policy rendered for role {role.arn} (looked for {self.rel(path)})"
        return json.loads(path.read_text())

    def oidc_providers(self) -> list[tuple[str, Path]]:
        return [(p.parts[-3], p) for p in self.files("aws/*/oidc-providers/*.json")]

    def aws_accounts(self) -> list[str]:
        return sorted(p.name for p in (self.root / "aws").glob("*") if p.is_dir())

    # --- Google ------------------------------------------------------------------------------
    def credential_configs(self) -> list[tuple[str, dict]]:
        """(label, config) of every external_account config: JSON files and ConfigMap values."""
        found = []
        for path in self.files("**/*.json"):
            try:
                data = json.loads(path.read_text())
            except ValueError:
                continue
            if isinstance(data, dict) and data.get("type") == "external_account":
                found.append((self.rel(path), data))
        for path, doc in self.kube_documents():
            if doc.get("kind") == "ConfigMap":
                for key, value in (doc.get("data") or {}).items():
                    try:
                        data = json.loads(value)
                    except ValueError:
                        continue
                    if isinstance(data, dict) and data.get("type") == "external_account":
                        found.append((f"{self.rel(path)}#{key}", data))
        return found

    # --- Kubernetes --------------------------------------------------------------------------
    def kube_files(self) -> list[Path]:
        return self.files("kubernetes/**/*.yaml")

    def kube_documents(self) -> list[tuple[Path, dict]]:
        out = []
        for path in self.kube_files():
            for doc in yaml.safe_load_all(path.read_text()):
                if doc is not None:
                    out.append((path, doc))
        return out

    def kustomize_dirs(self) -> list[Path]:
        """The namespace folders (the Components are built through an application, see components())."""
        return sorted(p.parent for p in self.files("kubernetes/**/kustomization.yaml") if p.parent not in self.components())

    def components(self) -> list[Path]:
        """The Kustomize Components: kubernetes/<cluster>/<namespace>/components/<federation>/."""
        return sorted(
            p.parent
            for p in self.files("kubernetes/*/*/components/*/kustomization.yaml")
            if (yaml.safe_load(p.read_text()) or {}).get("kind") == "Component"
        )

    def patches(self) -> list[Path]:
        return self.files("kubernetes/*/*/patch-*.yaml")

    # --- scripts -----------------------------------------------------------------------------
    def scripts(self) -> list[Path]:
        return [p for p in self.files() if p.suffix == ".sh" or p.read_text().startswith("#!")]

    @cached_property
    def gcloud_calls(self) -> list[list[str]]:
        """Every gcloud invocation the rendered gcloud scripts make, from running them for real
        (bash) with a recording `gcloud` on PATH that answers `describe` with NOT_FOUND."""
        return run_with_fake_gcloud(
            [p for p in self.files("gcp/**/*.sh") if p.name != "create-cred-configs.sh"]
        )

    def gke_bindings(self) -> set[tuple[str, str, str, str]]:
        """(workload pool, namespace, ksa, gsa) of every roles/iam.workloadIdentityUser binding
        to a GKE Kubernetes service account that the rendered scripts add."""
        out = set()
        for argv in self.gcloud_calls:
            if argv[:3] != ["iam", "service-accounts", "add-iam-policy-binding"]:
                continue
            opts = _options(argv)
            member = opts.get("--member", "")
            if opts.get("--role") == "roles/iam.workloadIdentityUser" and member.startswith("serviceAccount:"):
                pool, rest = member[len("serviceAccount:") :].split("[", 1)
                ns, ksa = rest.rstrip("]").split("/", 1)
                out.add((pool, ns, ksa, service_account_email(argv[3])))
        return out


def service_account_email(resource: str) -> str:
    """The email of `projects/-/serviceAccounts/EMAIL` (the form the scripts use), or of EMAIL."""
    prefix = "projects/-/serviceAccounts/"
    return resource[len(prefix) :] if resource.startswith(prefix) else resource


def _options(argv: list[str]) -> dict[str, str]:
    out = {}
    for a in argv:
        if a.startswith("--") and "=" in a:
            k, v = a.split("=", 1)
            out[k] = v
    return out


FAKE_GCLOUD = r"""#!{python}
# Records its argv (one JSON array a line) for the interop tests; never talks to Google.
import json, os, sys
with open(os.environ["FAKE_GCLOUD_LOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\n")
if "describe" in sys.argv[1:]:
    sys.stderr.write("ERROR: NOT_FOUND: Requested entity was not found.\n")
    sys.exit(1)
"""


def run_with_fake_gcloud(scripts: list[Path]) -> list[list[str]]:
    import tempfile

    calls: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="fake-gcloud-") as tmp:
        tmp = Path(tmp)
        gcloud = tmp / "gcloud"
        gcloud.write_text(FAKE_GCLOUD.replace("{python}", sys.executable))
        gcloud.chmod(0o755)
        log = tmp / "log"
        for script in scripts:
            log.write_text("")
            env = {**os.environ, "PATH": f"{tmp}:{os.environ['PATH']}", "FAKE_GCLOUD_LOG": str(log)}
            r = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, f"{script} failed with a recording gcloud:\n{r.stdout}\n{r.stderr}"
            calls += [json.loads(line) for line in log.read_text().splitlines()]
    return calls


def render(binary: str, spec_path: Path, out: Path, cwd: Path) -> None:
    r = subprocess.run(
        [binary, "render", str(spec_path.relative_to(cwd)), "-o", str(out)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, f"`crossfed render {spec_path.name}` failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"

