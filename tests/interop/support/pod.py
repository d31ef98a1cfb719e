"""A pod built from a rendered pod patch, with the volumes a kubelet would mount.

Each volume gets a host directory under a temporary pod root; the files a kubelet would put there
are written for real (a projected service account token minted for the cluster's issuer with the
patch's audience, the ConfigMap's keys). Code under test sees the container's paths: `resolve()`
maps a container path to its host file only when a volume of that container is mounted there, so
a path that the patch does not mount fails the test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import spec as spec_mod
from . import tokens
from .rendered import Rendered


@dataclass
class Mount:
    path: str
    volume: str
    host: Path


class Pod:
    def __init__(self, tree: Rendered, patch: Path, root: Path):
        self.tree = tree
        self.patch = patch
        self.root = root
        self.doc = yaml.safe_load(patch.read_text())
        rel = patch.relative_to(tree.root).parts  # kubernetes/<cluster>/<namespace>/patch-<fed>.yaml
        assert rel[0] == "kubernetes" and len(rel) == 4, f"unexpected patch location {patch}"
        self.cluster = rel[1]
        kustomization = yaml.safe_load((patch.parent / "kustomization.yaml").read_text())
        self.namespace = kustomization["namespace"]
        assert self.namespace == rel[2], f"{tree.rel(patch)}: kustomization namespace {self.namespace} != folder {rel[2]}"
        self.federation = patch.stem.removeprefix("patch-")
        self.pod_spec = self.doc["spec"]["template"]["spec"]
        self.service_account = self.pod_spec["serviceAccountName"]
        self.volumes = {v["name"]: v for v in self.pod_spec.get("volumes", [])}
        self.documents = [d for d in yaml.safe_load_all("\n---\n".join(p.read_text() for p in patch.parent.glob("*.yaml"))) if d]
        self._populate()

    # --- what the cluster knows ------------------------------------------------------------------
    def issuer(self) -> str:
        raw = self.tree.spec.raw
        for c in (raw.get("gcp") or {}).get("gkeClusters", []):
            if c["name"] == self.cluster:
                return spec_mod.gke_issuer(c)
        for c in (raw.get("aws") or {}).get("eksClusters", []):
            if c["name"] == self.cluster:
                return c["oidcIssuer"]
        raise AssertionError(f"cluster {self.cluster} of {self.patch} is not in the spec")

    def document(self, kind: str, name: str) -> dict:
        for d in self.documents:
            if d.get("kind") == kind and d.get("metadata", {}).get("name") == name:
                return d
        raise AssertionError(f"{self.tree.rel(self.patch)}: no {kind} {name} rendered beside it in {self.namespace}")

    def kubernetes_token(self, audience: str, lifetime: int) -> str:
        sub = f"system:serviceaccount:{self.namespace}:{self.service_account}"
        return tokens.mint(
            {
                "iss": self.issuer(),
                "aud": [audience],
                "sub": sub,
                "kubernetes.io": {
                    "namespace": self.namespace,
                    "serviceaccount": {"name": self.service_account, "uid": "00000000-0000-0000-0000-000000000001"},
                    "pod": {"name": "app-0", "uid": "00000000-0000-0000-0000-000000000002"},
                },
            },
            lifetime,
        )

    # --- volumes ---------------------------------------------------------------------------------
    def _populate(self) -> None:
        # The ServiceAccount the pod runs as must be rendered next to the patch.
        self.document("ServiceAccount", self.service_account)
        for name, vol in self.volumes.items():
            host = self.root / "volumes" / name
            host.mkdir(parents=True)
            if "emptyDir" in vol:
                continue
            if "projected" in vol:
                for source in vol["projected"]["sources"]:
                    sat = source["serviceAccountToken"]
                    (host / sat["path"]).write_text(self.kubernetes_token(sat["audience"], int(sat.get("expirationSeconds", 3600))))
            elif "configMap" in vol:
                cm = self.document("ConfigMap", vol["configMap"]["name"])
                mode = vol["configMap"].get("defaultMode", 0o644)
                items = vol["configMap"].get("items") or [{"key": k, "path": k} for k in cm.get("data", {})]
                for item in items:
                    target = host / item["path"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(cm["data"][item["key"]])
                    target.chmod(item.get("mode", mode))
            else:
                raise AssertionError(f"{self.tree.rel(self.patch)}: volume {name} has a type the suite does not model: {vol}")

    def containers(self) -> list[dict]:
        return self.pod_spec.get("initContainers", []) + self.pod_spec["containers"]

    def container(self, name: str) -> dict:
        for c in self.containers():
            if c["name"] == name:
                return c
        raise KeyError(name)

    def app(self) -> dict:
        return self.pod_spec["containers"][0]

    def mounts(self, container: dict) -> list[Mount]:
        out = []
        for m in container.get("volumeMounts", []):
            assert m["name"] in self.volumes, f"{self.tree.rel(self.patch)}: mount of undeclared volume {m['name']}"
            out.append(Mount(m["mountPath"].rstrip("/"), m["name"], self.root / "volumes" / m["name"]))
        return out

    def resolve(self, container: dict, path: str) -> Path:
        """The host file behind `path` as `container` sees it; fails unless a volume is mounted there."""
        best = None
        for m in self.mounts(container):
            if path == m.path or path.startswith(m.path + "/"):
                if best is None or len(m.path) > len(best.path):
                    best = m
        assert best is not None, (
            f"{self.tree.rel(self.patch)}: container {container['name']} reads {path}, but no volume is mounted there "
            f"(mounts: {[m.path for m in self.mounts(container)]})"
        )
        return best.host / path[len(best.path) :].lstrip("/")

    def env(self, container: dict) -> dict[str, str]:
        out = {}
        for e in container.get("env", []):
            assert "value" in e, f"{self.tree.rel(self.patch)}: env {e['name']} is not a plain value"
            out[e["name"]] = str(e["value"])
        return out

    # --- sidecars --------------------------------------------------------------------------------
    def sidecars(self) -> list[dict]:
        return [c for c in self.pod_spec.get("initContainers", []) if c.get("restartPolicy") == "Always"]

    @contextlib.contextmanager
    def running_sidecars(self, extra_env: dict[str, str], wait_for: list[Path], timeout: float = 20):
        """Runs every native sidecar's command (its own script, from the patch) until each file in
        `wait_for` exists, then stops them with SIGTERM, as the kubelet would."""
        procs = []
        try:
            for c in self.sidecars():
                env = {"PATH": os.environ["PATH"], **extra_env}
                for k, v in self.env(c).items():
                    env[k] = str(self.resolve(c, v)) if v.startswith("/") else v
                # The startup probe names the file the sidecar must produce: it must be on a volume.
                probe = (c.get("startupProbe") or {}).get("exec", {}).get("command", [])
                for arg in probe[1:]:
                    if arg.startswith("/"):
                        self.resolve(c, arg)
                procs.append(
                    subprocess.Popen(
                        c["command"] + c.get("args", []),
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            deadline = time.monotonic() + timeout
            while not all(p.exists() and p.stat().st_size > 0 for p in wait_for):
                for p in procs:
                    if p.poll() is not None:
                        raise AssertionError(f"sidecar exited early ({p.returncode}): {p.stdout.read().decode()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"sidecars did not write {wait_for} within {timeout}s")
                time.sleep(0.05)
            yield procs
        finally:
            for p in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
