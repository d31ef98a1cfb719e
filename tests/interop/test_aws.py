"""AWS artifacts -> the AWS CLI and botocore's default credential chain, against moto.

Per fixture: the rendered `aws/<account>/apply.sh` scripts run for real (bash + the AWS CLI)
against moto on 127.0.0.1, creating every role with its trust policy and every OIDC provider
through the IAM API. Then every rendered workload assumes its role the way it would in
production, with STS pointed at moto through `support.aws.StsGate` (`AWS_ENDPOINT_URL_STS`):
- a pod patch's `AWS_ROLE_ARN`/`AWS_WEB_IDENTITY_TOKEN_FILE`, reading the projected token or the
  token the patch's own sidecar script fetched from a stub GKE metadata server;
- a pod patch's `credential_process` profile, running the rendered helper script;
- a GCE host's profile, with the token written by the rendered systemd unit's commands.
`get_caller_identity` must then name the spec's role and session.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import botocore.credentials
import botocore.exceptions
import botocore.utils
import pytest
import yaml

from conftest import fixture_ids, require_tool
from support import aws
from support import google as gstub
from support import rendered as rendered_mod
from support.http import StubServer
from support.pod import Pod

VENV_BIN = str(Path(sys.executable).parent)


@pytest.fixture(scope="session")
def moto():
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # so attach-role-policy finds AWS managed policies
    with aws.Moto() as m:
        yield m


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for k in list(os.environ):
        if k.startswith(("AWS_", "GOOGLE_", "GCE_METADATA")):
            monkeypatch.delenv(k)
    empty = tmp_path / "empty-aws-file"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never reach for a real instance metadata service


def apply_env(moto: aws.Moto, account: str, keys: tuple[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PATH=f"{VENV_BIN}:{env['PATH']}",
        AWS_ACCESS_KEY_ID=keys[0],
        AWS_SECRET_ACCESS_KEY=keys[1],
        AWS_ENDPOINT_URL=moto.url,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",
    )
    return env


def run_apply(tree: rendered_mod.Rendered, moto: aws.Moto) -> None:
    require_tool("bash", "Install bash.")
    assert shutil.which("aws", path=VENV_BIN), f"the AWS CLI is missing from {VENV_BIN}: the venv bootstrap is incomplete"
    moto.reset()
    # Customer managed policies the spec attaches are the user's own, made before crossfed runs.
    for role in (tree.spec.raw.get("aws") or {}).get("roles", []):
        for arn in role.get("managedPolicyArns", []):
            account, resource = arn.split(":")[4], arn.split(":", 5)[5]
            if account != "aws":
                path, name = resource.removeprefix("policy").rsplit("/", 1)
                document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
                moto.client("iam", account).create_policy(PolicyName=name, Path=path + "/", PolicyDocument=json.dumps(document))
    for account in tree.aws_accounts():
        script = tree.root / "aws" / account / "apply.sh"
        assert script.is_file(), f"{tree.name}: no {tree.rel(script)}"
        env = apply_env(moto, account, moto.admin_keys(account))
        r = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"{tree.rel(script)} failed against moto ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


@pytest.fixture(scope="module", params=fixture_ids())
def world(request, moto, render_tree):
    """moto with the fixture's rendered apply.sh scripts applied (one fixture at a time)."""
    tree = render_tree(request.param)
    run_apply(tree, moto)
    with aws.sts_gate(moto) as gate:
        yield tree, moto, gate


def expected_arn(fed) -> str:
    r = fed.role
    return f"arn:{r.partition}:sts::{r.account}:assumed-role/{r.name}/{fed.session_name}"


@contextlib.contextmanager
def container_files(resolve, monkeypatch):
    """botocore opens the token file and spawns credential_process at container paths; both go
    through `resolve` (the pod's volume mounts, or the host's systemd runtime directory)."""
    original_loader = botocore.utils.FileWebIdentityTokenLoader.__init__

    def loader(self, path, *args, **kwargs):
        original_loader(self, str(resolve(path)), *args, **kwargs)

    original_process = botocore.credentials.ProcessProvider.__init__

    def process(self, *args, **kwargs):
        original_process(self, *args, **kwargs)

        def popen(argv, **kw):
            return subprocess.Popen([str(resolve(argv[0])), *argv[1:]], **kw)

        self._popen = popen

    monkeypatch.setattr(botocore.utils.FileWebIdentityTokenLoader, "__init__", loader)
    monkeypatch.setattr(botocore.credentials.ProcessProvider, "__init__", process)
    yield


def caller_arn(gate) -> str:
    # A fresh session reads the environment as the workload's SDK would at start-up.
    session = boto3.Session()
    try:
        return session.client("sts", config=aws.BOTO_CONFIG).get_caller_identity()["Arn"]
    except botocore.exceptions.BotoCoreError as exc:
        raise AssertionError(f"{exc}\nSTS decisions: {gate.decisions}") from exc
    except botocore.exceptions.ClientError as exc:
        raise AssertionError(f"{exc}\nSTS decisions: {gate.decisions}") from exc


def gke_metadata(tree, pod: Pod):
    """The GKE metadata server as `pod` sees it: the Google service account annotated on its
    Kubernetes service account, if Workload Identity binds the two."""

    def account():
        ksa = pod.document("ServiceAccount", pod.service_account)
        gsa = (ksa["metadata"].get("annotations") or {}).get("iam.gke.io/gcp-service-account")
        if gsa is None:
            return None
        pool = next(c["project"] for c in tree.spec.raw["gcp"]["gkeClusters"] if c["name"] == pod.cluster) + ".svc.id.goog"
        return gsa if (pool, pod.namespace, pod.service_account, gsa) in tree.gke_bindings() else None

    return gstub.MetadataServer(tree.spec, account)


def aws_pods(tree, tmp_path: Path, variable: str) -> list[Pod]:
    out = []
    for i, patch in enumerate(tree.patches()):
        pod = Pod(tree, patch, tmp_path / f"{variable}-pod-{i}")
        if variable in pod.env(pod.app()):
            out.append(pod)
    return out


def assume_from_pod(tree, pod: Pod, gate, monkeypatch) -> str:
    """Runs the pod's sidecars, then resolves credentials from the app container's environment."""
    app = pod.app()
    env = pod.env(app)
    with contextlib.ExitStack() as stack:
        metadata = stack.enter_context(StubServer("gke-metadata", gke_metadata(tree, pod).handle))
        sidecar_env = {"GCE_METADATA_HOST": f"127.0.0.1:{metadata.port}"}
        for k, v in env.items():
            monkeypatch.setenv(k, str(pod.resolve(app, v)) if k == "AWS_CONFIG_FILE" else v)
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", gate.url)
        # The credential_process helper honours the same override as the SDKs (see its usage).
        monkeypatch.setenv("GCE_METADATA_HOST", f"127.0.0.1:{metadata.port}")
        if "AWS_SHARED_CREDENTIALS_FILE" not in env:
            monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE")
            monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(pod.root / "no-credentials-file"))
        wait_for = []
        if "AWS_WEB_IDENTITY_TOKEN_FILE" in env and pod.sidecars():
            wait_for.append(pod.resolve(app, env["AWS_WEB_IDENTITY_TOKEN_FILE"]))
        stack.enter_context(pod.running_sidecars(sidecar_env, wait_for))
        stack.enter_context(container_files(lambda p: pod.resolve(app, p), monkeypatch))
        return caller_arn(gate)


@pytest.mark.parametrize("variable", ["AWS_ROLE_ARN", "AWS_CONFIG_FILE"])
def test_pods_assume_their_role_through_the_default_chain(world, tmp_path, monkeypatch, variable):
    tree, _moto, gate = world
    for pod in aws_pods(tree, tmp_path, variable):
        fed = tree.spec.federation(pod.federation)
        with monkeypatch.context() as mp:
            arn = assume_from_pod(tree, pod, gate, mp)
        assert arn == expected_arn(fed), f"{tree.rel(pod.patch)}: assumed {arn}, expected {expected_arn(fed)}"
        if variable == "AWS_ROLE_ARN":
            assert pod.env(pod.app())["AWS_ROLE_ARN"] == fed.role.arn


def test_every_aws_federation_is_exercised(world, tmp_path):
    """Each federation to AWS is reached by a pod patch or a GCE host folder."""
    tree, _, _ = world
    pods = {p.federation for v in ("AWS_ROLE_ARN", "AWS_CONFIG_FILE") for p in aws_pods(tree, tmp_path, v)}
    hosts = {p.name for p in (tree.root / "hosts" / "gce").glob("*") if p.is_dir()}
    for fed in tree.spec.aws:
        where = hosts if fed.source == "gce" else pods
        assert fed.name in where, f"{tree.name}: federation {fed.name} has no rendered workload wiring"


def gce_units(host_dir: Path) -> tuple[str, list[list[str]]]:
    """(RuntimeDirectory, ExecStart argv lists) of the host's token refresher service."""
    services = sorted(host_dir.glob("*.service"))
    assert len(services) == 1, f"{host_dir}: expected one systemd service, found {services}"
    # Read by hand: systemd repeats keys (ExecStart=), which configparser refuses.
    runtime, execs = None, []
    for line in services[0].read_text().splitlines():
        if line.startswith("RuntimeDirectory="):
            runtime = line.split("=", 1)[1]
        elif line.startswith("ExecStart="):
            execs.append(shlex.split(line.split("=", 1)[1]))
    assert runtime and execs, f"{services[0]}: no RuntimeDirectory= or ExecStart="
    return runtime, execs


def test_gce_hosts_assume_their_role(world, tmp_path, monkeypatch):
    tree, _, gate = world
    for host_dir in sorted((tree.root / "hosts" / "gce").glob("*")):
        fed = tree.spec.federation(host_dir.name)
        runtime, execs = gce_units(host_dir)
        run_root = tmp_path / host_dir.name / "run"
        run_dir = run_root / runtime
        run_dir.mkdir(parents=True)

        def resolve(path: str) -> Path:
            assert path.startswith(f"/run/{runtime}/"), f"{host_dir}: {path} is outside the unit's RuntimeDirectory"
            return run_root / path.removeprefix("/run/")

        metadata = gstub.MetadataServer(tree.spec, lambda: fed.google_service_account)
        with StubServer("gce-metadata", metadata.handle) as md, monkeypatch.context() as mp:
            # systemd runs ExecStart= in order; curl reaches metadata.google.internal through the
            # stub as its HTTP proxy, so the unit's URL stays as rendered.
            env = {"PATH": os.environ["PATH"], "http_proxy": md.url, "HTTP_PROXY": md.url}
            for argv in execs:
                argv = [str(resolve(a)) if a.startswith("/run/") else a for a in argv]
                r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
                assert r.returncode == 0, f"{host_dir}: ExecStart {argv} failed: {r.stderr}"
            assert metadata.issued, f"{host_dir}: the unit never asked the metadata server for a token"
            config = configparser.ConfigParser()
            config.read(host_dir / "aws-config")
            profiles = [s.removeprefix("profile ") for s in config.sections()]
            assert len(profiles) == 1, f"{host_dir}/aws-config: expected one profile, found {profiles}"
            mp.setenv("AWS_CONFIG_FILE", str(host_dir / "aws-config"))
            mp.setenv("AWS_PROFILE", profiles[0])
            mp.setenv("AWS_ENDPOINT_URL_STS", gate.url)
            with container_files(lambda p: resolve(p) if p.startswith("/run/") else Path(p), mp):
                arn = caller_arn(gate)
        assert arn == expected_arn(fed), f"{host_dir}: assumed {arn}, expected {expected_arn(fed)}"
        install = (host_dir / "install.sh").read_text()
        assert f"AWS_PROFILE={profiles[0]}" in install or f"profile={profiles[0]}" in install


def test_rendered_roles_and_providers_exist_in_iam(world):
    """apply.sh created every role with exactly its rendered trust policy, and every provider;
    moto validates a trust policy on update_assume_role_policy, so that is called too."""
    tree, moto, _ = world
    for account, role, path in tree.trust_policies():
        iam = moto.client("iam", account)
        got = iam.get_role(RoleName=role)["Role"]
        policy = got["AssumeRolePolicyDocument"]
        policy = json.loads(policy) if isinstance(policy, str) else policy
        assert policy == json.loads(path.read_text()), f"{tree.rel(path)}: the role in IAM has another trust policy"
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=path.read_text())
        spec_role = next((r.role for r in tree.spec.aws if r.role.name == role and r.role.account == account), None)
        if spec_role is not None:
            assert got["Arn"] == spec_role.arn, f"{tree.rel(path)}: IAM role {got['Arn']}, spec role {spec_role.arn}"
            assert got["MaxSessionDuration"] == spec_role.max_session
    for account, path in tree.oidc_providers():
        data = json.loads(path.read_text())
        iam = moto.client("iam", account)
        arn = f"arn:aws:iam::{account}:oidc-provider/{data['Url'].removeprefix('https://')}"
        got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        assert sorted(got["ClientIDList"]) == sorted(data["ClientIDList"]), f"{tree.rel(path)}: client ids differ in IAM"
    # Inline policies: put as rendered.
    for path in sorted(tree.root.glob("aws/*/roles/*/inline-policy-*.json")):
        account, role = path.parts[-4], path.parent.name
        name = path.stem.removeprefix("inline-policy-")
        got = moto.client("iam", account).get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        got = json.loads(got) if isinstance(got, str) else got
        assert got == json.loads(path.read_text()), f"{tree.rel(path)}: the role's inline policy in IAM differs"


# --- mutations: each pod, broken on purpose, is denied -----------------------------------------------


def _copy_tree(tree, tmp_path: Path) -> rendered_mod.Rendered:
    root = tmp_path / "tree"
    shutil.copytree(tree.root, root)
    return rendered_mod.Rendered(tree.name, root, tree.spec)


def _with_env_value(text: str, name: str, value: str) -> str:
    """The manifest with every env var `name` set to `value`, edited as YAML (a long value is a
    folded scalar, which a text replacement would miss)."""
    docs = list(yaml.safe_load_all(text))

    def walk(node):
        if isinstance(node, dict):
            if node.get("name") == name and "value" in node:
                node["value"] = value
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for doc in docs:
        walk(doc)
    return yaml.safe_dump_all(docs, sort_keys=False)


def test_mutation_wrong_role_arn_in_pod_patch_is_denied(world, tmp_path, monkeypatch):
    tree, _, gate = world
    copy = _copy_tree(tree, tmp_path)
    for pod in aws_pods(copy, tmp_path / "probe", "AWS_ROLE_ARN"):
        role_arn = pod.env(pod.app())["AWS_ROLE_ARN"]
        # One character off, so the name keeps a valid length (a role name may be at its 64 maximum).
        typo = role_arn[:-1] + ("x" if role_arn[-1] != "x" else "y")
        pod.patch.write_text(_with_env_value(pod.patch.read_text(), "AWS_ROLE_ARN", typo))
        broken = Pod(copy, pod.patch, tmp_path / f"broken-{pod.federation}")
        assert broken.env(broken.app())["AWS_ROLE_ARN"] == typo
        with monkeypatch.context() as mp, pytest.raises(AssertionError, match="AccessDenied"):
            assume_from_pod(copy, broken, gate, mp)


@pytest.mark.parametrize("variable", ["AWS_ROLE_ARN", "AWS_CONFIG_FILE"])
def test_mutation_wrong_audience_in_trust_policy_is_denied(world, tmp_path, monkeypatch, variable):
    """The role in IAM gets its rendered trust policy with every `aud`/`oaud` value changed: the
    same pods that assumed it above are now refused."""
    tree, moto, gate = world
    for pod in aws_pods(tree, tmp_path, variable):
        fed = tree.spec.federation(pod.federation)
        original = tree.trust_policy_of(fed.role)
        broken = json.loads(json.dumps(original))
        for stmt in broken["Statement"]:
            equals = stmt.get("Condition", {}).get("StringEquals", {})
            for key in equals:
                if key.endswith((":aud", ":oaud")):
                    equals[key] = "wrong-audience"
        iam = moto.client("iam", fed.role.account)
        iam.update_assume_role_policy(RoleName=fed.role.name, PolicyDocument=json.dumps(broken))
        try:
            with monkeypatch.context() as mp, pytest.raises(AssertionError, match="AccessDenied"):
                assume_from_pod(tree, pod, gate, mp)
        finally:
            iam.update_assume_role_policy(RoleName=fed.role.name, PolicyDocument=json.dumps(original))


def test_mutation_bad_field_name_in_oidc_provider_is_refused_by_the_cli(world, tmp_path):
    tree, moto, _ = world
    for account, path in tree.oidc_providers():
        data = json.loads(path.read_text())
        data["ClientIdList"] = data.pop("ClientIDList")
        broken = tmp_path / path.name
        broken.write_text(json.dumps(data))
        env = apply_env(moto, account, ("AKIAMOTOADMIN0000000", "moto"))
        r = subprocess.run(
            ["aws", "iam", "create-open-id-connect-provider", "--cli-input-json", f"file://{broken}"],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert r.returncode != 0 and "ClientIdList" in r.stderr, f"the CLI accepted a misspelt field: {r.stdout} {r.stderr}"
