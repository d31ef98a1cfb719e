"""Revocation, and apply scripts that replace only what crossfed wrote: a fixture is rendered, one federation is dropped from it, and the smaller spec is
rendered into the same directory. What that writes is run for real:
- every `revoke.sh` passes shellcheck;
- AWS: the full spec's `apply.sh` runs against moto, then the smaller spec's `apply.sh` and
  `revoke.sh`: every grant the manifest lists as revoked is gone from IAM (policy detached,
  client id removed, an unused role left trusting no one), and every grant it still lists is
  there;
- GCP: every gcloud command of the GCP `revoke.sh` (run with a logging stub) is parsed by the
  real gcloud offline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, require_tool
from support import aws
from test_aws import apply_env, moto  # noqa: F401  (the session's moto server)
from test_gcloud_scripts import real_gcloud_problems
from test_scripts import shellcheck

FIXTURES = [REPO / "fixtures" / "valid" / f"{stem}.yaml" for stem in ("both-directions", "least-privilege")]

LOG_STUB = r"""#!/usr/bin/env python3
import json, os, sys
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
"""


def drops() -> list[tuple[Path, str]]:
    """(fixture, federation) for every federation of every fixture."""
    return [(path, f["name"]) for path in FIXTURES for f in yaml.safe_load(path.read_text())["federations"]]


def render(crossfed_bin: str, spec: Path, out: Path) -> None:
    r = subprocess.run([crossfed_bin, "render", str(spec), "-o", str(out), "-q"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"render {spec.name}: {r.stderr}"


@pytest.fixture(params=drops(), ids=lambda d: f"{d[0].stem}-without-{d[1]}")
def dropped(request, crossfed_bin, tmp_path):
    """(full tree, tree after dropping one federation, its name): the second rendered over the first."""
    fixture, name = request.param
    full = tmp_path / "full.yaml"
    shutil.copy(fixture, full)
    spec = yaml.safe_load(fixture.read_text())
    spec["federations"] = [f for f in spec["federations"] if f["name"] != name]
    smaller = tmp_path / "smaller.yaml"
    smaller.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = tmp_path / "out"
    render(crossfed_bin, full, out)
    before = tmp_path / "before"
    shutil.copytree(out, before)
    render(crossfed_bin, smaller, out)
    return before, out, name


def manifest(root: Path) -> dict:
    return json.loads((root / ".crossfed" / "manifest.json").read_text())


def test_every_revoke_script_passes_shellcheck(dropped):
    _, out, name = dropped
    scripts = sorted(out.glob("*/*/revoke.sh"))
    assert scripts, f"dropping {name} revoked nothing"
    r = shellcheck(scripts)
    assert r.returncode == 0, r.stdout + r.stderr


def run_bash(script: Path, env: dict[str, str]) -> None:
    r = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{script} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


def test_aws_revocations_leave_no_trace_and_keep_the_rest(dropped, moto):  # noqa: F811
    require_tool("bash", "Install bash.")
    before, out, name = dropped
    revoked = manifest(out).get("revocations", {}).get("aws", {})
    kept = manifest(out).get("grants", {}).get("aws", {})
    moto.reset()
    for account in sorted({p.parent.name for p in before.glob("aws/*/apply.sh")}):
        env = apply_env(moto, account, moto.admin_keys(account))
        run_bash(before / "aws" / account / "apply.sh", env)
        if (out / "aws" / account / "apply.sh").exists():
            run_bash(out / "aws" / account / "apply.sh", env)
        if (out / "aws" / account / "revoke.sh").exists():
            run_bash(out / "aws" / account / "revoke.sh", env)
            # Again: what is already revoked counts as revoked.
            run_bash(out / "aws" / account / "revoke.sh", env)
    for account, grants in revoked.items():
        iam = moto.client("iam", account)
        for role_arn, policies in grants.get("attachedPolicies", {}).items():
            role = role_arn.rsplit("/", 1)[1]
            attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
            assert not attached & set(policies), f"{name}: {role} still has {attached & set(policies)}"
        for provider, client_ids in grants.get("oidcClientIds", {}).items():
            live = set(iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider)["ClientIDList"])
            assert not live & set(client_ids), f"{name}: {provider} still accepts {live & set(client_ids)}"
        for role_arn, sids in grants.get("trustStatements", {}).items():
            role = role_arn.rsplit("/", 1)[1]
            policy = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
            policy = json.loads(policy) if isinstance(policy, str) else policy
            live = {s.get("Sid") for s in policy["Statement"] if s.get("Effect") == "Allow"}
            assert not live & set(sids), f"{name}: {role} still trusts {live & set(sids)}"
        for role_arn, names in grants.get("inlinePolicies", {}).items():
            role = role_arn.rsplit("/", 1)[1]
            live = set(iam.list_role_policies(RoleName=role)["PolicyNames"])
            assert not live & set(names), f"{name}: {role} still has inline policies {live & set(names)}"
    for account, grants in kept.items():
        iam = moto.client("iam", account)
        for role_arn, policies in grants.get("attachedPolicies", {}).items():
            role = role_arn.rsplit("/", 1)[1]
            attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
            assert set(policies) <= attached, f"{name}: {role} lost {set(policies) - attached}"
        for role_arn, sids in grants.get("trustStatements", {}).items():
            role = role_arn.rsplit("/", 1)[1]
            policy = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
            policy = json.loads(policy) if isinstance(policy, str) else policy
            live = {s.get("Sid") for s in policy["Statement"] if s.get("Effect") == "Allow"}
            assert set(sids) <= live, f"{name}: {role} lost statements {set(sids) - live}"
        for provider, client_ids in grants.get("oidcClientIds", {}).items():
            live = set(iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider)["ClientIDList"])
            assert set(client_ids) <= live, f"{name}: {provider} lost {set(client_ids) - live}"
        for role_arn, names in grants.get("inlinePolicies", {}).items():
            role = role_arn.rsplit("/", 1)[1]
            live = set(iam.list_role_policies(RoleName=role)["PolicyNames"])
            assert set(names) <= live, f"{name}: {role} lost inline policies {set(names) - live}"


def test_every_gcloud_revocation_parses(dropped, tmp_path):
    _, out, name = dropped
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "gcloud"
    stub.write_text(LOG_STUB)
    stub.chmod(0o755)
    commands: list[list[str]] = []
    for script in sorted(out.glob("gcp/*/revoke.sh")):
        log = tmp_path / f"{script.parent.name}.log"
        log.write_text("")
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STUB_LOG": str(log)}
        run_bash(script, env)
        commands += [json.loads(line) for line in log.read_text().splitlines()]
    expected = manifest(out).get("revocations", {}).get("gcp", {})
    if not expected:
        assert not commands
        return
    assert commands, f"{name}: GCP revocations listed but no gcloud command ran"
    problems = real_gcloud_problems(commands, tmp_path)
    assert not problems, "\n".join(problems)


def test_apply_refuses_to_replace_a_trust_statement_it_did_not_write(render_tree, moto):  # noqa: F811
    """A statement someone added by hand to a role crossfed manages stops `apply.sh` with its
    Sid, before the policy is replaced; CROSSFED_REPLACE_FOREIGN_TRUST=1 replaces it."""
    require_tool("bash", "Install bash.")
    tree = render_tree("both-directions")
    moto.reset()
    assert FIXTURES
    account = next(p.parent.name for p in tree.root.glob("aws/*/apply.sh"))
    script = tree.root / "aws" / account / "apply.sh"
    env = apply_env(moto, account, moto.admin_keys(account))
    run_bash(script, env)
    run_bash(script, env)  # its own statements: applied again without complaint
    iam = moto.client("iam", account)
    path = next(tree.root.glob(f"aws/{account}/roles/*/trust-policy.json"))
    role = path.parent.name
    policy = json.loads(path.read_text())
    foreign = {"Sid": "AddedByHand", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps({**policy, "Statement": [*policy["Statement"], foreign]}))
    r = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "AddedByHand" in r.stderr and "CROSSFED_REPLACE_FOREIGN_TRUST" in r.stderr, r.stderr
    live = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    live = json.loads(live) if isinstance(live, str) else live
    assert foreign in live["Statement"], "the policy was replaced before the refusal"
    run_bash(script, {**env, "CROSSFED_REPLACE_FOREIGN_TRUST": "1"})
    live = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    live = json.loads(live) if isinstance(live, str) else live
    assert live == policy
