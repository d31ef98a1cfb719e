"""The claims matrix: the spec's identity must be allowed, every near miss denied."""

from __future__ import annotations

from . import spec as spec_mod
from . import trust

OTHER_ISSUER = "https://token.actions.githubusercontent.com"


def identity_allowed(
    policy: dict,
    fed: spec_mod.AwsFederation,
    claims: dict,
    issuer: str,
    bindings: set[tuple[str, str, str, str]],
    pod: tuple[str, str] | None = None,
) -> trust.Decision:
    """Can a workload with these claims assume the role? For a Google-service-account federation
    from GKE, `pod` = (namespace, ksa) must also be bound to the account by Workload Identity, or
    the GKE metadata server never hands the pod that account's ID token."""
    if fed.kind == "google" and fed.source == "gke":
        ns, ksa = pod or (fed.namespace, fed.service_account)
        if not any(b[1:] == (ns, ksa, fed.google_service_account) for b in bindings):
            return trust.Decision(False, f"no Workload Identity binding lets {ns}/{ksa} act as {fed.google_service_account}")
    return trust.evaluate(policy, issuer, claims, fed.role.account, fed.role.partition)


def cases(fed: spec_mod.AwsFederation, taken: set[str] = frozenset()) -> list[tuple[str, bool, dict, str, tuple[str, str] | None]]:
    """(label, expected allowed, claims, issuer, pod) for one federation. `taken` holds the
    unique ids of the spec's Google service accounts, which a near miss must avoid."""
    base = fed.claims()
    out = [("the spec's identity", True, base, fed.issuer, None)]

    def with_(**kw) -> dict:
        c = dict(base)
        c.update(kw)
        return c

    other_aud = fed.audience + "-other"
    if fed.kind == "google":
        other_uid = next(u for u in (str(int(fed.subject) + i) for i in range(1, 100)) if u not in taken)
        out += [
            ("a different audience", False, with_(aud=other_aud), fed.issuer, None),
            ("a different subject (another Google service account)", False, with_(sub=other_uid, azp=other_uid), fed.issuer, None),
            ("a different azp (token minted for another client)", False, with_(azp=other_uid), fed.issuer, None),
            ("a different sub with the account's azp", False, with_(sub=other_uid), fed.issuer, None),
            ("a different issuer", False, base, OTHER_ISSUER, None),
        ]
        if fed.source == "gke":
            out += [
                ("a different namespace", False, base, fed.issuer, ("other-namespace", fed.service_account)),
                ("a different Kubernetes service account", False, base, fed.issuer, (fed.namespace, "other-sa")),
            ]
    else:
        out += [
            ("a different audience", False, with_(aud=[other_aud]), fed.issuer, None),
            ("a different subject", False, with_(sub=fed.subject + "x"), fed.issuer, None),
            ("a different issuer", False, base, fed.issuer.rstrip("/") + "-other", None),
            ("a different issuer (unrelated provider)", False, base, OTHER_ISSUER, None),
            ("a different namespace", False, with_(sub=f"system:serviceaccount:other-namespace:{fed.service_account}"), fed.issuer, None),
            ("a different service account", False, with_(sub=f"system:serviceaccount:{fed.namespace}:other-sa"), fed.issuer, None),
        ]
    return out


def check(policy: dict, fed: spec_mod.AwsFederation, bindings, taken: set[str] = frozenset()) -> list[str]:
    """Every way the policy (and bindings) disagree with the matrix; empty when all is well."""
    problems = []
    for label, expected, claims, issuer, pod in cases(fed, taken):
        decision = identity_allowed(policy, fed, claims, issuer, bindings, pod)
        if decision.allowed != expected:
            verdict = "allowed" if decision.allowed else "denied"
            problems.append(f"{fed.name}: {label} is {verdict} ({decision.reason}); claims {claims}, issuer {issuer}")
    return problems

