"""A small evaluator of IAM role trust policies for `sts:AssumeRoleWithWebIdentity`.

moto ignores trust policies when it assumes a role, so the suite decides itself, the way IAM
does: a request is allowed when no `Deny` statement matches and at least one `Allow` statement
matches, where a statement matches when its action covers the call, its `Federated` principal is
the identity provider the token's issuer resolves to, and every condition holds. Within a
condition, operators are ANDed, keys are ANDed, and the values listed for one key are ORed.

Only what crossfed may emit is supported: `StringEquals`, `StringLike` (with `*` and `?`), their
`ForAnyValue:`/`ForAllValues:` forms, and `StringNotEquals`/`StringNotLike`. Anything else raises
`Unsupported`, so a new operator fails the suite instead of being waved through. A key missing
from the request context never satisfies a positive operator (IAM's rule).

Context keys, per AWS's documentation of web identity condition keys:
- `accounts.google.com`: `:aud` is the token's `azp` when present, else `aud`; `:oaud` is `aud`;
  `:sub` is `sub`.
- any other OIDC provider `host/path`: `:aud` and `:sub` from the claims of the same name
  (`aud` may be a list, as in Kubernetes tokens: any element matches).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

ACTION = "sts:AssumeRoleWithWebIdentity"


class Unsupported(Exception):
    """The policy uses something this evaluator does not model."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def provider_of(issuer: str, account: str, partition: str = "aws") -> str:
    """The `Federated` principal AWS resolves a token issuer to, in `account`."""
    host_path = issuer.split("://", 1)[-1]
    if host_path == "accounts.google.com":
        return "accounts.google.com"
    return f"arn:{partition}:iam::{account}:oidc-provider/{host_path}"


def context(provider: str, claims: dict) -> dict[str, list[str]]:
    """The condition-key context IAM builds from a web identity token's claims."""

    def values(v) -> list[str]:
        if v is None:
            return []
        return [str(x) for x in v] if isinstance(v, list) else [str(v)]

    if provider == "accounts.google.com":
        return {
            "accounts.google.com:aud": values(claims.get("azp", claims.get("aud"))),
            "accounts.google.com:oaud": values(claims.get("aud")),
            "accounts.google.com:sub": values(claims.get("sub")),
        }
    prefix = provider.split(":oidc-provider/", 1)[1]
    return {f"{prefix}:aud": values(claims.get("aud")), f"{prefix}:sub": values(claims.get("sub"))}


def _listify(v) -> list:
    return v if isinstance(v, list) else [v]


def _like(pattern: str, value: str) -> bool:
    # IAM wildcards: `*` any run, `?` one character; nothing else is special (unlike fnmatch's []).
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _condition_holds(operator: str, key: str, expected, ctx: dict[str, list[str]]) -> bool:
    qualifier, _, op = operator.rpartition(":")
    if op.endswith("IfExists"):
        raise Unsupported(f"condition operator `{operator}`")
    negated = op in ("StringNotEquals", "StringNotLike")
    base = {"StringEquals": "eq", "StringNotEquals": "eq", "StringLike": "like", "StringNotLike": "like"}.get(op)
    if base is None or qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise Unsupported(f"condition operator `{operator}`")
    wanted = [str(x) for x in _listify(expected)]
    # Condition key names are case-insensitive; a key the request does not carry is absent.
    actual = next((v for k, v in ctx.items() if k.lower() == key.lower()), None)

    def one(value: str) -> bool:
        hit = any((value == w) if base == "eq" else _like(w, value) for w in wanted)
        return not hit if negated else hit

    if not actual:
        # Absent key: positive operators fail, negated ones hold (IAM semantics), ForAllValues holds.
        return negated or qualifier == "ForAllValues"
    if qualifier == "ForAllValues":
        return all(one(v) for v in actual)
    # Single-valued keys (and ForAnyValue): any value of a multi-valued claim may satisfy it.
    return any(one(v) for v in actual)


def _statement_matches(stmt: dict, provider: str, ctx: dict[str, list[str]]) -> bool:
    unknown = set(stmt) - {"Sid", "Effect", "Principal", "Action", "Condition"}
    if unknown:
        raise Unsupported(f"statement elements {sorted(unknown)}")
    actions = _listify(stmt.get("Action", []))
    if not any(fnmatch.fnmatchcase(ACTION.lower(), a.lower()) for a in actions):
        return False
    principal = stmt.get("Principal", {})
    if principal == "*":
        raise Unsupported("`Principal: *` in a web identity trust policy")
    federated = _listify(principal.get("Federated", []))
    if provider not in federated:
        return False
    for operator, keys in (stmt.get("Condition") or {}).items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, ctx):
                return False
    return True


def evaluate(policy: dict, issuer: str, claims: dict, account: str, partition: str = "aws") -> Decision:
    """Would IAM let a token with `claims`, issued by `issuer`, assume the role with `policy`?"""
    provider = provider_of(issuer, account, partition)
    ctx = context(provider, claims)
    statements = _listify(policy.get("Statement", []))
    for stmt in statements:
        if stmt.get("Effect") == "Deny" and _statement_matches(stmt, provider, ctx):
            return Decision(False, f"explicit deny in statement {stmt.get('Sid', '?')}")
    for stmt in statements:
        if stmt.get("Effect") == "Allow" and _statement_matches(stmt, provider, ctx):
            return Decision(True, f"allowed by statement {stmt.get('Sid', '?')}")
    return Decision(False, f"no statement allows {provider} with {ctx}")
