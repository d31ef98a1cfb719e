"""The test oracle: what each federation of a spec must allow, computed from the spec alone.

The stubs and the trust evaluator compare what the rendered artifacts do against these facts,
never against other rendered files, so an artifact that drifts from the spec is caught even when
the renderer is self-consistent. Defaults mirror the README's tables.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

GOOGLE_ISSUER = "https://accounts.google.com"
DEFAULT_REGION = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}


@dataclass(frozen=True)
class Role:
    arn: str
    account: str
    partition: str
    path: str
    name: str
    max_session: int


@dataclass(frozen=True)
class AwsFederation:
    """A GKE pod, GCE VM or EKS pod that assumes an AWS role with a web identity token."""

    name: str
    kind: str  # "google" (Google ID token of a service account) or "oidc" (cluster issuer)
    role: Role
    session_name: str
    issuer: str  # token `iss`
    audience: str  # token `aud` the workload requests
    subject: str  # token `sub`
    provider: str  # the Federated principal AWS resolves the issuer to
    source: str  # gke | gce | eks
    cluster: str | None = None
    namespace: str | None = None
    service_account: str | None = None  # Kubernetes service account
    google_service_account: str | None = None  # email, kind "google"
    duration: int | None = None

    def claims(self) -> dict:
        if self.kind == "google":
            return {"iss": self.issuer, "aud": self.audience, "azp": self.subject, "sub": self.subject}
        return {"iss": self.issuer, "aud": [self.audience], "sub": self.subject}


@dataclass(frozen=True)
class GcpFederation:
    """An EKS pod or EC2 instance that exchanges its identity at Google STS."""

    name: str
    source: str  # eks | ec2
    audience: str  # //iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/X
    subject_token_type: str
    project_number: str
    pool_project: str
    impersonate: str | None  # Google service account email, or None for direct access
    token_lifetime: int
    issuer: str | None = None  # eks
    token_audience: str | None = None  # eks: what the projected token's aud must be
    subject: str | None = None  # eks: system:serviceaccount:NS:SA
    namespace: str | None = None
    service_account: str | None = None
    cluster: str | None = None
    role: Role | None = None  # ec2: the instance role
    region: str | None = None  # ec2: the instance's region


@dataclass
class Spec:
    path: Path
    raw: dict
    aws: list[AwsFederation] = field(default_factory=list)
    gcp: list[GcpFederation] = field(default_factory=list)
    # (cluster project workload pool, namespace, ksa) -> Google service account, for GKE Workload Identity
    gke_bindings: set[tuple[str, str, str, str]] = field(default_factory=set)
    unique_ids: dict[str, str] = field(default_factory=dict)

    def federation(self, name: str):
        for fed in [*self.aws, *self.gcp]:
            if fed.name == name:
                return fed
        raise KeyError(f"spec {self.path.name} has no AWS or GCP federation named `{name}`")


def gke_issuer(cluster: dict) -> str:
    return (
        f"https://container.googleapis.com/v1/projects/{cluster['project']}"
        f"/locations/{cluster['location']}/clusters/{cluster['name']}"
    )


def _strip_scheme(url: str) -> str:
    return url.split("://", 1)[1] if "://" in url else url


def load(path: Path) -> Spec:
    raw = yaml.safe_load(path.read_text())
    spec = Spec(path=path, raw=raw)
    gcp = raw.get("gcp") or {}
    aws = raw.get("aws") or {}
    projects = {p["id"]: p for p in gcp.get("projects", [])}
    sas = {s["email"]: s for s in gcp.get("serviceAccounts", [])}
    spec.unique_ids = {e: s["uniqueId"] for e, s in sas.items() if "uniqueId" in s}
    gke = {c["name"]: c for c in gcp.get("gkeClusters", [])}
    pools = {p["id"]: p for p in gcp.get("workloadIdentityPools", [])}
    accounts = {a["id"]: a for a in aws.get("accounts", [])}
    eks = {c["name"]: c for c in aws.get("eksClusters", [])}

    def partition_of(account: str) -> str:
        return accounts.get(account, {}).get("partition", "aws")

    def region_of(account: str) -> str:
        acc = accounts.get(account, {})
        return acc.get("region") or DEFAULT_REGION[acc.get("partition", "aws")]

    roles: list[Role] = []
    for r in aws.get("roles", []):
        if "arn" in r:
            arn = r["arn"]
            partition, account, resource = arn.split(":")[1], arn.split(":")[4], arn.split(":", 5)[5]
            full = resource[len("role") :]
            path_, name = full.rsplit("/", 1)
            path_ = path_ + "/"
        else:
            account, name = r["account"], r["name"]
            partition = partition_of(account)
            path_ = r.get("path", "/")
            arn = f"arn:{partition}:iam::{account}:role{path_}{name}"
        roles.append(Role(arn, account, partition, path_, name, int(r.get("maxSessionDuration", 3600))))

    def role(ref: str) -> Role:
        for r in roles:
            if ref in (r.arn, r.name):
                return r
        raise KeyError(f"spec {path.name}: role `{ref}` is not declared")

    declared: dict[str, tuple[bool, bool]] = {}  # name -> (via.provider given, via.audience given)
    for fed in raw.get("federations", []):
        declared[fed["name"]] = ("provider" in (fed.get("via") or {}), "audience" in (fed.get("via") or {}))
        name, frm, to, via = fed["name"], fed["from"], fed["to"], fed.get("via") or {}
        if "awsRole" in to:
            r = role(to["awsRole"])
            common = {
                "name": name,
                "role": r,
                "session_name": to.get("sessionName", f"crossfed-{name}"),
                "duration": to.get("sessionDuration"),
            }
            if "gce" in frm or "googleServiceAccount" in via:
                gsa = frm.get("gce") or via["googleServiceAccount"]
                uid = spec.unique_ids[gsa]
                spec.aws.append(
                    AwsFederation(
                        **common,
                        kind="google",
                        issuer=GOOGLE_ISSUER,
                        audience=via.get("audience", r.arn),
                        subject=uid,
                        provider="accounts.google.com",
                        source="gce" if "gce" in frm else "gke",
                        cluster=frm.get("gke"),
                        namespace=frm.get("namespace"),
                        service_account=frm.get("serviceAccount"),
                        google_service_account=gsa,
                    )
                )
                if "gke" in frm:
                    pool = f"{gke[frm['gke']]['project']}.svc.id.goog"
                    spec.gke_bindings.add((pool, frm["namespace"], frm["serviceAccount"], gsa))
            else:
                if "gke" in frm:
                    issuer = gke_issuer(gke[frm["gke"]])
                else:
                    issuer = eks[frm["eks"]]["oidcIssuer"]
                client_id = (via.get("awsOidcProvider") or {}).get("clientId", "sts.amazonaws.com")
                spec.aws.append(
                    AwsFederation(
                        **common,
                        kind="oidc",
                        issuer=issuer,
                        audience=client_id,
                        subject=f"system:serviceaccount:{frm['namespace']}:{frm['serviceAccount']}",
                        provider=f"arn:{r.partition}:iam::{r.account}:oidc-provider/{_strip_scheme(issuer)}",
                        source="gke" if "gke" in frm else "eks",
                        cluster=frm.get("gke") or frm.get("eks"),
                        namespace=frm["namespace"],
                        service_account=frm["serviceAccount"],
                    )
                )
        else:
            pool_id = via.get("pool") or next(iter(pools))
            pool = pools[pool_id]
            number = projects[pool["project"]]["number"]
            if "eks" in frm:
                cluster = eks[frm["eks"]]
                provider = via.get("provider", f"eks-{frm['eks']}")
            else:
                r = role(frm["ec2"])
                provider = via.get("provider", f"aws-{r.account}")
            resource = f"projects/{number}/locations/global/workloadIdentityPools/{pool_id}/providers/{provider}"
            common = {
                "name": name,
                "audience": f"//iam.googleapis.com/{resource}",
                "project_number": number,
                "pool_project": pool["project"],
                "impersonate": to.get("gcpServiceAccount"),
                "token_lifetime": int(to.get("tokenLifetimeSeconds", 3600)),
            }
            if "eks" in frm:
                spec.gcp.append(
                    GcpFederation(
                        **common,
                        source="eks",
                        subject_token_type="urn:ietf:params:oauth:token-type:jwt",
                        issuer=cluster["oidcIssuer"],
                        token_audience=via.get("audience", f"https://iam.googleapis.com/{resource}"),
                        subject=f"system:serviceaccount:{frm['namespace']}:{frm['serviceAccount']}",
                        namespace=frm["namespace"],
                        service_account=frm["serviceAccount"],
                        cluster=frm["eks"],
                    )
                )
            else:
                spec.gcp.append(
                    GcpFederation(
                        **common,
                        source="ec2",
                        subject_token_type="urn:ietf:params:aws:token-type:aws4_request",
                        role=r,
                        region=region_of(r.account),
                    )
                )
    spec.gcp = _sharded(spec.gcp, declared)
    return spec


MAX_CONDITION_CHARS = 4096
MAX_SHARDS = 64


def _admitted(f: GcpFederation) -> str:
    if f.source == "eks":
        return f.subject
    return f"arn:{f.role.partition}:sts::{f.role.account}:assumed-role/{f.role.name}"


def _condition_len(oidc: bool, keys: set[str]) -> int:
    if oidc:
        return len("assertion.sub in [" + ", ".join(f"'{k}'" for k in sorted(keys)) + "]")
    return len(" || ".join(f"assertion.arn.startsWith('{k}/')" for k in sorted(keys)))


def _shard_of(key: str, count: int) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:16], 16) % count


def _shard_id(base: str, index: int) -> str:
    suffix = f"-{index}"
    return base[: max(0, 32 - len(suffix))].rstrip("-") + suffix


def _sharded(feds: list[GcpFederation], declared: dict[str, tuple[bool, bool]]) -> list[GcpFederation]:
    """The provider sharding of the README, written again from its description: a derived
    provider whose attribute condition would pass 4,096 characters is split into the fewest
    (a power of two) shards `<id>-<n>` that each fit, every subject or role by its SHA-256."""
    groups: dict[str, list[GcpFederation]] = {}
    for f in feds:
        if not declared[f.name][0]:
            groups.setdefault(f.audience, []).append(f)
    renamed: dict[str, GcpFederation] = {}
    for audience, members in groups.items():
        oidc = members[0].source == "eks"
        keys = {_admitted(f) for f in members}
        if _condition_len(oidc, keys) <= MAX_CONDITION_CHARS:
            continue
        count = 2
        while count < MAX_SHARDS and not all(
            _condition_len(oidc, {k for k in keys if _shard_of(k, count) == i}) <= MAX_CONDITION_CHARS
            for i in range(count)
        ):
            count *= 2
        prefix, base = audience.rsplit("/", 1)
        for f in members:
            shard = f"{prefix}/{_shard_id(base, _shard_of(_admitted(f), count))}"
            changes = {"audience": shard}
            if oidc and not declared[f.name][1]:
                changes["token_audience"] = "https:" + shard
            renamed[f.name] = dataclasses.replace(f, **changes)
    return [renamed.get(f.name, f) for f in feds]
