"""Organisation scale: one EKS cluster with 200 federated service accounts and one AWS account
with 150 EC2 roles, into one pool, with no provider id written by hand. crossfed splits the derived
providers (see "Sharded providers" in the output README); here every attribute condition the
rendered gcloud script sets is within GCP's 4,096 characters, and the real google-auth completes
the token exchange with every credential config against the stub STS, which knows the providers
from the spec model's own sharding (support/spec.py, written again from the description)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from support import rendered as rendered_mod
from support import spec as spec_mod
from test_google_auth import configs_of, federation_of, refresh_file

SERVICE_ACCOUNTS = 200
ROLES = 150


def org_spec() -> str:
    lines = [
        "version: 1",
        "gcp:",
        '  projects: [{id: acme-data, number: "731942065810"}]',
        "  workloadIdentityPools: [{id: org-pool, project: acme-data}]",
        "aws:",
        '  accounts: [{id: "281031839323", region: us-east-1}]',
        "  eksClusters:",
        '    - {name: data, account: "281031839323", region: us-east-1, oidcIssuer: "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"}',
        "  roles:",
        *(f'    - {{arn: "arn:aws:iam::281031839323:role/batch-worker-{i:03}"}}' for i in range(ROLES)),
        "federations:",
        *(
            f"  - {{name: eks-{i:03}, from: {{eks: data, namespace: team-{i % 20:02}, serviceAccount: app-{i:03}}}, "
            "to: {gcpRoles: [roles/storage.objectViewer]}}"
            for i in range(SERVICE_ACCOUNTS)
        ),
        *(
            f'  - {{name: ec2-{i:03}, from: {{ec2: "arn:aws:iam::281031839323:role/batch-worker-{i:03}"}}, '
            "to: {gcpRoles: [roles/storage.objectViewer]}}"
            for i in range(ROLES)
        ),
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def org_tree(crossfed_bin, tmp_path_factory) -> rendered_mod.Rendered:
    home = tmp_path_factory.mktemp("org-scale")
    spec = home / "org.yaml"
    spec.write_text(org_spec())
    out = home / "out"
    rendered_mod.render(crossfed_bin, spec, out, home)
    return rendered_mod.Rendered("org-scale", out, spec_mod.load(spec))


def test_every_condition_fits_and_providers_were_split(org_tree):
    script = org_tree.root / "gcp/acme-data/pools/org-pool/apply.sh"
    providers, conditions = [], []
    for line in script.read_text().replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True) if line.strip() else []
        providers += [w.split("=", 1)[1] for w in words if w.startswith("provider=")]
        conditions += [w.split("=", 1)[1] for w in words if w.startswith("--attribute-condition=")]
    assert len(conditions) == len(providers) >= 8, providers
    assert all(p.startswith(("eks-data-", "aws-281031839323-")) for p in providers), providers
    too_long = [(p, len(c)) for p, c in zip(providers, conditions) if len(c) > 4096]
    assert not too_long, too_long
    # The spec model shards the same way, independently.
    assert {f.audience.rsplit("/", 1)[1] for f in org_tree.spec.gcp} == set(providers)


def test_google_auth_refreshes_every_credential_config(org_tree, tmp_path, monkeypatch):
    configs = configs_of(org_tree, tmp_path)
    names = {federation_of(org_tree, label).name for label, _ in configs}
    assert names == {f.name for f in org_tree.spec.gcp}
    for i, (label, path) in enumerate(configs):
        fed = federation_of(org_tree, label)
        with monkeypatch.context() as mp:
            _cloud, request = refresh_file(org_tree, fed, path, tmp_path / f"case-{i}", mp)
        assert any("sts.googleapis.com/v1/token" in s for s in request.sent), (label, request.sent)


def test_every_page_map_parses_or_says_why_it_is_not_drawn(org_tree):
    """Each page's chart goes through the real Mermaid parser; a chart over Mermaid's limits is
    replaced by a sentence saying so."""
    from test_summary import parse

    pages = sorted(org_tree.root.glob("*/*/README.md"))
    assert [p.relative_to(org_tree.root).as_posix() for p in pages] == [
        "gcp/acme-data/README.md",
        "kubernetes/data/README.md",
    ]
    drawn = 0
    for page in pages:
        text = page.read_text()
        blocks = re.findall(r"```mermaid\n(.*?)```", text, flags=re.S)
        if not blocks:
            assert "Not drawn:" in text, page
            continue
        result = parse(blocks[0])
        assert result.returncode == 0, f"{page}: mermaid rejected the chart:\n{result.stderr}"
        drawn += 1
    assert drawn >= 1
