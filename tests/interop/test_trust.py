"""Trust evaluation: every rendered trust policy against a claims matrix built from the spec.

moto does not evaluate trust conditions, so `support.trust` does, the way IAM documents it.
The spec's own identity must be allowed; a different `aud`, `sub`, issuer, namespace or service
account must be denied. The mutation tests at the end break a rendered policy on purpose and
show the same check then fails.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections import defaultdict

import pytest

from conftest import fixture_ids
from support import matrix, trust


def test_every_trust_policy_admits_the_spec_identity_and_nothing_else(tree):
    bindings = tree.gke_bindings()
    problems = []
    for fed in tree.spec.aws:
        problems += matrix.check(tree.trust_policy_of(fed.role), fed, bindings, set(tree.spec.unique_ids.values()))
    assert not problems, "\n".join(problems)


def test_every_web_identity_statement_belongs_to_a_federation(tree):
    """No statement trusts a provider that no federation of the spec uses."""
    providers = {(f.role.account, f.role.name, f.provider) for f in tree.spec.aws}
    for account, role, path in tree.trust_policies():
        for stmt in json.loads(path.read_text())["Statement"]:
            federated = stmt.get("Principal", {}).get("Federated")
            if federated is None:
                continue
            for p in federated if isinstance(federated, list) else [federated]:
                assert (account, role, p) in providers, f"{tree.rel(path)}: statement {stmt.get('Sid')} trusts {p}, which no federation uses"
            assert stmt.get("Condition"), f"{tree.rel(path)}: statement {stmt.get('Sid')} has no condition"


def _split(policy: dict) -> dict:
    """The policy with every multi-valued condition key split into one statement per value:
    what crossfed wrote before it merged statements."""
    out = []
    for stmt in policy["Statement"]:
        equals = stmt.get("Condition", {}).get("StringEquals", {})
        keys = sorted(equals)
        choices = [equals[k] if isinstance(equals[k], list) else [equals[k]] for k in keys]
        for combo in itertools.product(*choices) if keys else [()]:
            one = copy.deepcopy(stmt)
            if keys:
                one["Condition"]["StringEquals"] = dict(zip(keys, combo))
            out.append(one)
    return {**policy, "Statement": out}


def _pair_problems(policy: dict, feds) -> list[str]:
    """Every combination of issuer, audience and subject drawn from one role's federations that
    `policy` decides wrongly (allowed but not named by the spec, or named but denied), or decides
    differently from the same statements split apart."""
    role = feds[0].role
    split = _split(policy)
    named = {(f.issuer, f.audience, f.subject) for f in feds}
    problems = []
    for issuer, audience, subject in itertools.product(
        {f.issuer for f in feds}, {f.audience for f in feds}, {f.subject for f in feds}
    ):
        if issuer.endswith("accounts.google.com"):
            claims = {"iss": issuer, "aud": audience, "azp": subject, "sub": subject}
        else:
            claims = {"iss": issuer, "aud": [audience], "sub": subject}
        merged = trust.evaluate(policy, issuer, claims, role.account, role.partition)
        expected = (issuer, audience, subject) in named
        if merged.allowed is not expected:
            problems.append(f"{role.arn}: {claims} is {'allowed' if merged.allowed else 'denied'} ({merged.reason})")
        unmerged = trust.evaluate(split, issuer, claims, role.account, role.partition)
        if unmerged.allowed is not merged.allowed:
            problems.append(f"{role.arn}: merged and split statements disagree on {claims}")
    return problems


def _federations_by_role(spec) -> list[list]:
    by_role = defaultdict(list)
    for fed in spec.aws:
        by_role[(fed.role.account, fed.role.name)].append(fed)
    return list(by_role.values())


def test_merged_statements_admit_exactly_the_named_pairs(tree):
    """Statements of one principal merge into a list on one condition key. For every role, every
    combination of issuer, audience and subject drawn from its federations must be allowed exactly
    when one federation of the spec names it, and the merged policy must decide every such
    request as the same statements split apart would."""
    problems = []
    for feds in _federations_by_role(tree.spec):
        problems += _pair_problems(tree.trust_policy_of(feds[0].role), feds)
    assert not problems, "\n".join(problems)


def test_mutation_merging_two_keys_admits_unnamed_pairs(render_tree):
    """Merging statements that differ in audience and subject at once (a product of two lists)
    admits a subject with an audience the spec never paired with it; the check must say so."""
    t = render_tree("oidc-subjects-share-a-role")
    feds = next(f for f in _federations_by_role(t.spec) if f[0].role.name == "metrics-reader")
    policy = t.trust_policy_of(feds[0].role)
    assert not _pair_problems(policy, feds)
    broken = copy.deepcopy(policy)
    first, second = broken["Statement"][:2]
    for key, value in second["Condition"]["StringEquals"].items():
        have = first["Condition"]["StringEquals"][key]
        have = have if isinstance(have, list) else [have]
        first["Condition"]["StringEquals"][key] = sorted(set(have) | {value})
    broken["Statement"] = [first]
    assert any("is allowed" in p for p in _pair_problems(broken, feds))


def test_subjects_of_one_provider_and_audience_share_a_statement(render_tree):
    t = render_tree("oidc-subjects-share-a-role")
    policy = json.loads(next(p for _, name, p in t.trust_policies() if name == "metrics-reader").read_text())
    listed = [
        v
        for s in policy["Statement"]
        for k, v in s["Condition"]["StringEquals"].items()
        if k.endswith(":sub") and isinstance(v, list)
    ]
    assert len(listed) == 1 and len(listed[0]) == 3, policy
    assert len(policy["Statement"]) == 2, "the workload with its own audience keeps its own statement"


# --- the evaluator itself ----------------------------------------------------------------------

POLICY = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/issuer.example/id/1"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"issuer.example/id/1:aud": "sts.amazonaws.com"},
                "StringLike": {"issuer.example/id/1:sub": ["system:serviceaccount:ns:*", "x?y"]},
            },
        }
    ]
}


@pytest.mark.parametrize(
    ("claims", "allowed"),
    [
        ({"aud": ["sts.amazonaws.com"], "sub": "system:serviceaccount:ns:a"}, True),
        ({"aud": "sts.amazonaws.com", "sub": "xzy"}, True),
        ({"aud": ["sts.amazonaws.com"], "sub": "xzzy"}, False),
        ({"aud": ["other"], "sub": "system:serviceaccount:ns:a"}, False),
        ({"sub": "system:serviceaccount:ns:a"}, False),
        ({"aud": ["sts.amazonaws.com"], "sub": "system:serviceaccount:other:a"}, False),
    ],
)
def test_evaluator_semantics(claims, allowed):
    d = trust.evaluate(POLICY, "https://issuer.example/id/1", claims, "111122223333")
    assert d.allowed is allowed, d.reason


def test_evaluator_refuses_what_it_does_not_model():
    policy = copy.deepcopy(POLICY)
    policy["Statement"][0]["Condition"] = {"StringEqualsIgnoreCase": {"issuer.example/id/1:aud": "x"}}
    with pytest.raises(trust.Unsupported):
        trust.evaluate(policy, "https://issuer.example/id/1", {"aud": "x"}, "111122223333")


def test_google_aud_is_azp_and_oaud_is_aud():
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": "accounts.google.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {"accounts.google.com:aud": "1", "accounts.google.com:oaud": "A"}},
            }
        ]
    }
    assert trust.evaluate(policy, "https://accounts.google.com", {"aud": "A", "azp": "1"}, "1").allowed
    assert not trust.evaluate(policy, "https://accounts.google.com", {"aud": "A", "azp": "2"}, "1").allowed
    assert not trust.evaluate(policy, "https://accounts.google.com", {"aud": "1", "azp": "1"}, "1").allowed


# --- mutations: a broken artifact makes the check fail -------------------------------------------


def _first_aws_tree(render_tree, kind: str):
    for stem in fixture_ids():
        t = render_tree(stem)
        for fed in t.spec.aws:
            if fed.kind == kind:
                return t, fed
    pytest.fail(f"no valid fixture has a federation of kind {kind} to AWS")


@pytest.mark.parametrize("kind", ["google", "oidc"])
def test_mutation_wrong_audience_in_trust_policy_fails(render_tree, kind):
    t, fed = _first_aws_tree(render_tree, kind)
    policy = t.trust_policy_of(fed.role)
    assert not matrix.check(policy, fed, t.gke_bindings(), set(t.spec.unique_ids.values()))
    broken = copy.deepcopy(policy)
    key = "accounts.google.com:oaud" if kind == "google" else next(
        k for s in broken["Statement"] for k in s.get("Condition", {}).get("StringEquals", {}) if k.endswith(":aud")
    )
    for s in broken["Statement"]:
        eq = s.get("Condition", {}).get("StringEquals", {})
        if key in eq:
            eq[key] = "wrong-audience"
    problems = matrix.check(broken, fed, t.gke_bindings(), set(t.spec.unique_ids.values()))
    assert any("the spec's identity is denied" in p for p in problems), problems


@pytest.mark.parametrize(
    ("kind", "dropped"), [("google", ":sub"), ("google", ":aud"), ("google", ":oaud"), ("oidc", ":sub"), ("oidc", ":aud")]
)
def test_mutation_missing_condition_fails(render_tree, kind, dropped):
    t, fed = _first_aws_tree(render_tree, kind)
    broken = copy.deepcopy(t.trust_policy_of(fed.role))
    for s in broken["Statement"]:
        eq = s.get("Condition", {}).get("StringEquals", {})
        for k in [k for k in eq if k.endswith(dropped)]:
            del eq[k]
    problems = matrix.check(broken, fed, t.gke_bindings(), set(t.spec.unique_ids.values()))
    assert any("is allowed" in p for p in problems), problems


def test_mutation_missing_workload_identity_binding_fails(render_tree):
    for stem in fixture_ids():
        t = render_tree(stem)
        for fed in t.spec.aws:
            if fed.kind == "google" and fed.source == "gke":
                policy = t.trust_policy_of(fed.role)
                bindings = {b for b in t.gke_bindings() if b[1:3] != (fed.namespace, fed.service_account)}
                problems = matrix.check(policy, fed, bindings, set(t.spec.unique_ids.values()))
                assert any("the spec's identity is denied" in p for p in problems), problems
                return
    pytest.fail("no valid fixture federates a GKE pod through a Google service account")
