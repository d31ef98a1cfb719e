"""Google credential configs -> google-auth, refreshed for real against loopback stubs.

Every `external_account` config in every rendered tree (JSON files and ConfigMap values) is
loaded with `google.auth.load_credentials_from_file` and refreshed: an AWS-sourced config on a
stub EC2 instance (IMDSv2, region, role credentials) whose signed GetCallerIdentity the stub STS
verifies; a file-sourced config inside the pod from its rendered patch, reading the projected
token the kubelet would write; then impersonation when configured, and the project lookup.
Each pod's own `GOOGLE_APPLICATION_CREDENTIALS` goes through `google.auth.default()` too.
Only endpoints are redirected, and only by the transport (`support.google.LoopbackRequest`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import google.auth
import google.auth.exceptions
import pytest
from google.auth import identity_pool

from conftest import fixture_ids
from support import google as gstub
from support import spec as spec_mod
from support.http import StubServer
from support.pod import Pod

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    # google-auth prefers AWS_* variables to the metadata service, and GOOGLE_* to everything.
    for k in list(os.environ):
        if k.startswith(("AWS_", "GOOGLE_", "CLOUDSDK_", "GCE_METADATA")):
            monkeypatch.delenv(k)


def federation_of(tree, label: str) -> spec_mod.GcpFederation:
    """The federation a rendered file belongs to, from the names in its path."""
    parts = [p for p in re.split(r"[/#]", label) if p]
    stems = [p.rsplit(".", 1)[0] for p in parts]
    matches = [f for f in tree.spec.gcp if any(s == f.name or s.endswith("-" + f.name) for s in stems)]
    assert matches, f"{tree.name}: cannot tell which federation {label} belongs to (no federation name in its path)"
    return max(matches, key=lambda f: len(f.name))


def patch_of(tree, federation: str) -> Path:
    found = sorted(tree.root.glob(f"kubernetes/*/*/patch-{federation}.yaml"))
    assert len(found) == 1, f"{tree.name}: expected one pod patch for {federation}, found {found}"
    return found[0]


@contextlib.contextmanager
def workload(tree, fed: spec_mod.GcpFederation, tmp_path: Path, monkeypatch):
    """Stubs for `fed`'s environment; yields (transport, google stub, pod or None)."""
    instance = gstub.Ec2Instance(fed.role, fed.region) if fed.source == "ec2" else None
    cloud = gstub.GoogleCloud(tree.spec, instance)
    with contextlib.ExitStack() as stack:
        google = stack.enter_context(StubServer("google", cloud.handle))
        routes = {h: google for h in gstub.GOOGLE_HOSTS}
        pod = None
        if instance is not None:
            imds = stack.enter_context(StubServer("imds", instance.handle))
            routes.update({h: imds for h in gstub.IMDS_HOSTS})
        else:
            pod = Pod(tree, patch_of(tree, fed.name), tmp_path / "pod")
            app = pod.app()
            original = identity_pool._FileSupplier.__init__

            def in_pod(self, path, *args, **kwargs):
                original(self, str(pod.resolve(app, path)), *args, **kwargs)

            monkeypatch.setattr(identity_pool._FileSupplier, "__init__", in_pod)
        yield gstub.LoopbackRequest(routes), cloud, pod


def check_refreshed(creds, project, cloud: gstub.GoogleCloud, fed: spec_mod.GcpFederation, label: str) -> None:
    assert creds.valid, f"{label}: credentials not valid after refresh"
    if fed.impersonate:
        assert cloud.impersonated.get(creds.token) == fed.impersonate, (
            f"{label}: final token {creds.token!r} is not a token for {fed.impersonate}; stub log: {cloud.events}"
        )
    else:
        assert creds.token in cloud.sts_tokens, f"{label}: final token is not the STS token; stub log: {cloud.events}"
        assert cloud.sts_tokens[creds.token][0].name == fed.name
    assert project == fed.pool_project, f"{label}: project {project!r}, expected {fed.pool_project!r}"


def refresh_file(tree, fed, path: Path, tmp_path, monkeypatch):
    with workload(tree, fed, tmp_path, monkeypatch) as (request, cloud, _pod):
        try:
            creds, project = google.auth.load_credentials_from_file(str(path), scopes=SCOPES, request=request)
        except google.auth.exceptions.GoogleAuthError as exc:
            raise AssertionError(f"{exc}\nstub log: {cloud.events}\nrequests: {request.sent}") from exc
        check_refreshed(creds, project, cloud, fed, str(path))
        return cloud, request


def configs_of(tree, tmp_path: Path) -> list[tuple[str, Path]]:
    out = []
    for i, (label, data) in enumerate(tree.credential_configs()):
        if "#" in label:  # a ConfigMap value: as the pod sees it, a file
            path = tmp_path / f"configmap-value-{i}.json"
            path.write_text(json.dumps(data))
        else:
            path = tree.root / label
        out.append((label, path))
    return out


@pytest.mark.parametrize("stem", fixture_ids())
def test_every_gcp_federation_has_a_credential_config(render_tree, stem, tmp_path):
    tree = render_tree(stem)
    labels = [label for label, _ in configs_of(tree, tmp_path)]
    for fed in tree.spec.gcp:
        assert any(federation_of(tree, label).name == fed.name for label in labels), (
            f"{stem}: federation {fed.name} goes to GCP but no external_account config was rendered for it"
        )
    if not tree.spec.gcp:
        assert not labels, f"{stem}: external_account configs rendered without a federation to GCP: {labels}"


@pytest.mark.parametrize("stem", fixture_ids())
def test_google_auth_refreshes_every_credential_config(render_tree, stem, tmp_path, monkeypatch):
    tree = render_tree(stem)
    for i, (label, path) in enumerate(configs_of(tree, tmp_path)):
        fed = federation_of(tree, label)
        with monkeypatch.context() as mp:
            cloud, request = refresh_file(tree, fed, path, tmp_path / f"case-{i}", mp)
        assert any("sts.googleapis.com/v1/token" in s for s in request.sent), request.sent


@pytest.mark.parametrize("stem", fixture_ids())
def test_pods_find_their_credentials_through_application_default_credentials(render_tree, stem, tmp_path, monkeypatch):
    """The pod's env names a file on a mounted ConfigMap; google.auth.default() loads and
    refreshes it, reading the projected token at the path the config names."""
    tree = render_tree(stem)
    for fed in tree.spec.gcp:
        if fed.source != "eks":
            continue
        with monkeypatch.context() as mp, workload(tree, fed, tmp_path / fed.name, mp) as (request, cloud, pod):
            app = pod.app()
            env = pod.env(app)
            assert "GOOGLE_APPLICATION_CREDENTIALS" in env, f"{pod.patch}: no GOOGLE_APPLICATION_CREDENTIALS"
            host = pod.resolve(app, env["GOOGLE_APPLICATION_CREDENTIALS"])
            assert host.is_file(), f"{pod.patch}: {env['GOOGLE_APPLICATION_CREDENTIALS']} is on a volume but no file is there"
            mp.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(host))
            creds, project = google.auth.default(scopes=SCOPES, request=request)
            check_refreshed(creds, project, cloud, fed, str(pod.patch))
            if "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE" in env:
                assert env["CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE"] == env["GOOGLE_APPLICATION_CREDENTIALS"]


@pytest.mark.parametrize("stem", fixture_ids())
def test_ec2_hosts_install_the_pool_config_where_the_environment_points(render_tree, stem, tmp_path):
    """Each EC2 host's install.sh runs for real (bash, its /etc target moved under tmp_path): it
    installs the pool's credential config byte for byte, and the installed environment file
    points Google's libraries at it."""
    tree = render_tree(stem)
    for fed in tree.spec.gcp:
        if fed.source != "ec2":
            continue
        checkout = tmp_path / fed.name / "tree"
        shutil.copytree(tree.root, checkout)
        host_dir = checkout / "hosts" / "ec2" / fed.name
        etc = tmp_path / fed.name / "etc"
        install = host_dir / "install.sh"
        assert install.is_file(), f"{stem}: no hosts/ec2/{fed.name}/install.sh"
        install.write_text(install.read_text().replace("/etc/crossfed/", f"{etc}/crossfed/"))
        r = subprocess.run(["bash", str(install)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"{stem}: install.sh failed:\n{r.stdout}{r.stderr}"
        installed_env = etc / "crossfed" / "gcp" / fed.name / "environment"
        env = dict(
            line.split("=", 1) for line in installed_env.read_text().splitlines() if line and not line.startswith("#")
        )
        target = Path(env["GOOGLE_APPLICATION_CREDENTIALS"].replace("/etc/crossfed/", f"{etc}/crossfed/"))
        assert target.is_file(), f"{stem}: GOOGLE_APPLICATION_CREDENTIALS={target} was not installed"
        configs = list(tree.root.glob(f"gcp/*/pools/*/credential-configs/{fed.name}.json"))
        assert len(configs) == 1, configs
        assert target.read_bytes() == configs[0].read_bytes()


# --- mutations: a broken config fails the refresh --------------------------------------------------


def _a_config(render_tree, source: str, impersonating: bool | None = None):
    for stem in fixture_ids():
        tree = render_tree(stem)
        for label, data in tree.credential_configs():
            if "#" in label:
                continue
            fed = federation_of(tree, label)
            if fed.source == source and (impersonating is None or bool(fed.impersonate) == impersonating):
                return tree, fed, label, data
    pytest.fail(f"no rendered credential config for a federation from {source}")


def _set(data: dict, dotted: str, value) -> dict:
    out = copy.deepcopy(data)
    node = out
    *parents, last = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return out


MUTATIONS = [
    ("ec2", None, "audience", lambda v: v.replace("/providers/", "/providers/x")),
    ("ec2", None, "credential_source.regional_cred_verification_url", lambda v: v.replace("sts.{region}", "sts.us-west-1")),
    ("ec2", None, "credential_source.imdsv2_session_token_url", lambda v: None),
    ("ec2", None, "subject_token_type", lambda v: "urn:ietf:params:oauth:token-type:jwt"),
    ("ec2", True, "service_account_impersonation_url", lambda v: v.replace("serviceAccounts/", "serviceAccounts/other-")),
    ("ec2", True, "service_account_impersonation.token_lifetime_seconds", lambda v: 7200),
    ("eks", None, "audience", lambda v: v.replace("/workloadIdentityPools/", "/workloadIdentityPools/other-")),
    ("eks", None, "credential_source.file", lambda v: "/var/run/secrets/tokens/token"),
    ("eks", None, "subject_token_type", lambda v: "urn:ietf:params:aws:token-type:aws4_request"),
]


@pytest.mark.parametrize(("source", "impersonating", "field", "change"), MUTATIONS, ids=[f"{m[0]}-{m[2]}" for m in MUTATIONS])
def test_mutation_broken_credential_config_fails(render_tree, tmp_path, monkeypatch, source, impersonating, field, change):
    tree, fed, label, data = _a_config(render_tree, source, impersonating)
    node = data
    for p in field.split("."):
        node = node.get(p) if isinstance(node, dict) else None
    broken = _set(data, field, change(node))
    assert broken != data, f"mutation of {field} changed nothing in {label}"
    good = tmp_path / "good.json"
    good.write_text(json.dumps(data))
    with monkeypatch.context() as mp:
        refresh_file(tree, fed, good, tmp_path / "good", mp)  # the unbroken config passes
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken))
    with monkeypatch.context() as mp, pytest.raises((AssertionError, google.auth.exceptions.GoogleAuthError, ValueError)) as err:
        refresh_file(tree, fed, bad, tmp_path / "bad", mp)
    print(f"{label}: {field} broken -> {type(err.value).__name__}: {str(err.value).splitlines()[0]}")


@pytest.mark.parametrize(("source", "field", "misspelt"), [("eks", "credential_source", "credential_sorce"), ("ec2", "audience", "audiance")])
def test_mutation_misspelt_field_name_in_credential_config_fails(render_tree, tmp_path, monkeypatch, source, field, misspelt):
    tree, fed, label, data = _a_config(render_tree, source)
    broken = copy.deepcopy(data)
    broken[misspelt] = broken.pop(field)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken))
    # Whatever way google-auth refuses it (for a missing `audience` it crashes on None).
    with monkeypatch.context() as mp, pytest.raises(Exception) as err:  # noqa: PT011
        refresh_file(tree, fed, bad, tmp_path / "bad", mp)
    print(f"{label}: {field} misspelt -> {type(err.value).__name__}: {str(err.value).splitlines()[0]}")


def test_transport_refuses_unknown_hosts():
    request = gstub.LoopbackRequest({})
    with pytest.raises(google.auth.exceptions.TransportError, match="refuses"):
        request("https://oauth2.googleapis.com/token", method="POST")
