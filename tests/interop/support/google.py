"""Stub Google endpoints (STS, IAM Credentials, Resource Manager, the metadata server) and an
EC2 instance metadata service, with the behaviour the spec says the real ones must have.

The stubs judge requests against the spec (`support.spec`), not against the rendered files: the
audience must name a provider the spec declares, the subject token must be one that provider
accepts from one of the spec's workloads, and impersonation must target the spec's account with
the spec's lifetime. A credential config that disagrees with the spec is refused.

`LoopbackRequest` is google-auth's own `requests` transport with one change: it sends the known
hosts to these stubs on 127.0.0.1 and refuses every other host. The credential config itself is
loaded unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from urllib.parse import unquote, urlsplit

import google.auth.exceptions
import google.auth.transport.requests

from . import spec as spec_mod
from . import tokens
from .http import Request, Response, StubServer

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
GOOGLE_HOSTS = {
    "sts.googleapis.com",
    "iamcredentials.googleapis.com",
    "cloudresourcemanager.googleapis.com",
}
IMDS_HOSTS = {"169.254.169.254", "[fd00:ec2::254]"}
METADATA_HOSTS = {"metadata.google.internal", "169.254.169.254."}


def _error(status: int, error: str, description: str) -> Response:
    return Response(status, json.dumps({"error": error, "error_description": description}), {"Content-Type": "application/json"})


def _rfc3339(seconds: int) -> str:
    t = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Ec2Instance:
    """The instance metadata service of one EC2 instance running as `role` in `region`."""

    def __init__(self, role: spec_mod.Role, region: str):
        self.role = role
        self.region = region
        self.instance_id = "i-0123456789abcdef0"
        self.access_key = "ASIA" + secrets.token_hex(8).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self.session_token = secrets.token_urlsafe(60)
        self.imds_tokens: set[str] = set()

    @property
    def caller_arn(self) -> str:
        return f"arn:{self.role.partition}:sts::{self.role.account}:assumed-role/{self.role.name}/{self.instance_id}"

    def handle(self, req: Request) -> Response:
        if req.method == "PUT" and req.path == "/latest/api/token":
            ttl = req.headers.get("x-aws-ec2-metadata-token-ttl-seconds")
            if not ttl:
                return Response(400, "missing x-aws-ec2-metadata-token-ttl-seconds")
            token = secrets.token_urlsafe(24)
            self.imds_tokens.add(token)
            return Response(200, token)
        # The instance enforces IMDSv2 (as an instance should): every read needs a session token.
        if req.headers.get("x-aws-ec2-metadata-token") not in self.imds_tokens:
            return Response(401, "IMDSv2 session token required")
        if req.path == "/latest/meta-data/placement/availability-zone":
            return Response(200, self.region + "a")
        if req.path in ("/latest/meta-data/iam/security-credentials", "/latest/meta-data/iam/security-credentials/"):
            return Response(200, self.role.name)
        if req.path == f"/latest/meta-data/iam/security-credentials/{self.role.name}":
            body = {
                "Code": "Success",
                "Type": "AWS-HMAC",
                "AccessKeyId": self.access_key,
                "SecretAccessKey": self.secret_key,
                "Token": self.session_token,
                "Expiration": _rfc3339(3600),
            }
            return Response(200, json.dumps(body), {"Content-Type": "application/json"})
        return Response(404, "not found")


class GoogleCloud:
    """STS, IAM Credentials and Resource Manager for the pools and accounts of one spec."""

    def __init__(self, spec: spec_mod.Spec, instance: Ec2Instance | None = None):
        self.spec = spec
        self.instance = instance
        self.sts_tokens: dict[str, tuple[spec_mod.GcpFederation, list[str]]] = {}
        self.impersonated: dict[str, str] = {}
        self.events: list[str] = []

    def handle(self, req: Request) -> Response:
        host = req.host
        if host == "sts.googleapis.com" and req.method == "POST" and req.path == "/v1/token":
            return self.sts_token(req)
        if host == "iamcredentials.googleapis.com" and req.method == "POST" and req.path.endswith(":generateAccessToken"):
            return self.generate_access_token(req)
        if host == "cloudresourcemanager.googleapis.com" and req.method == "GET" and req.path.startswith("/v1/projects/"):
            return self.get_project(req)
        return _error(404, "not_found", f"no stub for {req.method} {host}{req.path}")

    # --- STS --------------------------------------------------------------------------------------
    def sts_token(self, req: Request) -> Response:
        form = req.form()
        if form.get("grant_type") != GRANT_TYPE:
            return _error(400, "unsupported_grant_type", f"grant_type {form.get('grant_type')!r}")
        if form.get("requested_token_type") != ACCESS_TOKEN_TYPE:
            return _error(400, "invalid_request", f"requested_token_type {form.get('requested_token_type')!r}")
        audience = form.get("audience", "")
        candidates = [f for f in self.spec.gcp if f.audience == audience]
        if not candidates:
            known = sorted({f.audience for f in self.spec.gcp})
            return _error(400, "invalid_target", f"audience {audience!r} names no provider of the spec; known: {known}")
        subject_token_type = form.get("subject_token_type")
        if subject_token_type != candidates[0].subject_token_type:
            return _error(400, "invalid_request", f"subject_token_type {subject_token_type!r}, provider expects {candidates[0].subject_token_type!r}")
        scopes = form.get("scope", "").split()
        if not scopes:
            return _error(400, "invalid_scope", "no scope")
        subject_token = form.get("subject_token", "")
        if candidates[0].source == "eks":
            fed, why = self._oidc_subject(subject_token, candidates)
        else:
            fed, why = self._aws_subject(subject_token, audience, candidates)
        if fed is None:
            self.events.append(f"sts refused: {why}")
            return _error(400, "invalid_grant", why)
        token = "ya29.sts-" + secrets.token_urlsafe(16)
        self.sts_tokens[token] = (fed, scopes)
        self.events.append(f"sts issued a token to {fed.name}")
        body = {"access_token": token, "issued_token_type": ACCESS_TOKEN_TYPE, "token_type": "Bearer", "expires_in": 3600}
        return Response(200, json.dumps(body), {"Content-Type": "application/json"})

    def _oidc_subject(self, subject_token: str, candidates):
        try:
            claims = tokens.verify(subject_token)
        except tokens.BadToken as exc:
            return None, f"subject token: {exc}"
        for fed in candidates:
            auds = claims.get("aud")
            auds = auds if isinstance(auds, list) else [auds]
            if claims.get("iss") != fed.issuer:
                continue
            if fed.token_audience not in auds:
                return None, f"token audience {auds} is not the provider's allowed audience {fed.token_audience!r}"
            if claims.get("sub") == fed.subject:
                return fed, ""
        return None, f"the provider's attribute condition rejects iss={claims.get('iss')!r} sub={claims.get('sub')!r}"

    def _aws_subject(self, subject_token: str, audience: str, candidates):
        try:
            request = json.loads(unquote(subject_token))
        except ValueError:
            return None, "subject token is not a URL-encoded JSON GetCallerIdentity request"
        if self.instance is None:
            return None, "no EC2 instance in this test"
        inst = self.instance
        want_url = f"https://sts.{inst.region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
        if request.get("url") != want_url:
            return None, f"GetCallerIdentity URL {request.get('url')!r}, expected {want_url!r}"
        if request.get("method") != "POST":
            return None, f"GetCallerIdentity method {request.get('method')!r}"
        headers = {h["key"].lower(): h["value"] for h in request.get("headers", [])}
        if headers.get("x-goog-cloud-target-resource") != audience:
            return None, f"x-goog-cloud-target-resource {headers.get('x-goog-cloud-target-resource')!r} is not the audience {audience!r}"
        if headers.get("x-amz-security-token") != inst.session_token:
            return None, "x-amz-security-token is not the instance's session token"
        try:
            key, region, service = tokens.sigv4_check("POST", want_url, headers, "", inst.secret_key)
        except ValueError as exc:
            return None, f"GetCallerIdentity signature: {exc}"
        if (key, region, service) != (inst.access_key, inst.region, "sts"):
            return None, f"signed by {key} for {region}/{service}"
        # What AWS would answer to that call, judged by the provider's attribute condition.
        for fed in candidates:
            if fed.role is not None and inst.caller_arn.startswith(
                f"arn:{fed.role.partition}:sts::{fed.role.account}:assumed-role/{fed.role.name}/"
            ):
                return fed, ""
        return None, f"the provider's attribute condition rejects {inst.caller_arn}"

    # --- IAM Credentials -----------------------------------------------------------------------
    def generate_access_token(self, req: Request) -> Response:
        bearer = req.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.sts_tokens:
            return _error(401, "unauthenticated", "not an STS token of this test")
        fed, _ = self.sts_tokens[bearer]
        email = req.path.removeprefix("/v1/projects/-/serviceAccounts/").removesuffix(":generateAccessToken")
        if fed.impersonate is None:
            return _error(403, "permission_denied", f"{fed.name} has direct access only; it may not impersonate {email}")
        if email != fed.impersonate:
            return _error(403, "permission_denied", f"{fed.name} may impersonate {fed.impersonate}, not {email}")
        body = json.loads(req.body or b"{}")
        lifetime = body.get("lifetime", "3600s")
        if lifetime != f"{fed.token_lifetime}s":
            return _error(400, "invalid_argument", f"lifetime {lifetime}, the spec says {fed.token_lifetime}s")
        if not body.get("scope"):
            return _error(400, "invalid_argument", "no scope")
        token = "ya29.impersonated-" + secrets.token_urlsafe(16)
        self.impersonated[token] = email
        self.events.append(f"{fed.name} impersonated {email}")
        return Response(200, json.dumps({"accessToken": token, "expireTime": _rfc3339(fed.token_lifetime)}), {"Content-Type": "application/json"})

    # --- Resource Manager ----------------------------------------------------------------------
    def get_project(self, req: Request) -> Response:
        bearer = req.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.sts_tokens and bearer not in self.impersonated:
            return _error(401, "unauthenticated", "no valid token")
        number = req.path.removeprefix("/v1/projects/")
        for p in (self.spec.raw.get("gcp") or {}).get("projects", []):
            if p["number"] == number:
                return Response(200, json.dumps({"projectNumber": number, "projectId": p["id"]}), {"Content-Type": "application/json"})
        return _error(404, "not_found", f"project {number}")


class LoopbackRequest(google.auth.transport.requests.Request):
    """google-auth's requests transport, with known hosts sent to loopback stubs."""

    def __init__(self, routes: dict[str, StubServer]):
        super().__init__()
        self.routes = routes
        self.sent: list[str] = []

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        parts = urlsplit(url)
        host = parts.netloc
        stub = self.routes.get(host)
        if stub is None:
            raise google.auth.exceptions.TransportError(f"interop transport refuses {method} {url}: not a stubbed host")
        if host in GOOGLE_HOSTS and parts.scheme != "https":
            raise google.auth.exceptions.TransportError(f"{url}: Google endpoints must be https")
        self.sent.append(f"{method} {url}")
        target = f"{stub.url}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
        headers = dict(headers or {})
        headers["Host"] = host.strip("[]") if host in IMDS_HOSTS else host
        return super().__call__(target, method=method, body=body, headers=headers, timeout=10, **kwargs)


def google_identity_token(spec: spec_mod.Spec, gsa: str, audience: str) -> str:
    uid = spec.unique_ids[gsa]
    return tokens.mint({"iss": spec_mod.GOOGLE_ISSUER, "aud": audience, "azp": uid, "sub": uid, "email": gsa, "email_verified": True})


class MetadataServer:
    """The GCE / GKE metadata server's identity endpoint for one workload.

    `account()` returns the Google service account the caller runs as, or None when GKE Workload
    Identity has no binding for the pod (the real server then refuses to mint tokens)."""

    def __init__(self, spec: spec_mod.Spec, account):
        self.spec = spec
        self.account = account
        self.issued: list[dict] = []

    def handle(self, req: Request) -> Response:
        if req.headers.get("metadata-flavor") != "Google":
            return Response(403, "Missing Metadata-Flavor: Google header")
        if req.path != "/computeMetadata/v1/instance/service-accounts/default/identity":
            return Response(404, f"no stub for {req.path}")
        audience = (req.query.get("audience") or [""])[0]
        if not audience:
            return Response(400, "non-empty audience parameter required")
        gsa = self.account()
        if gsa is None:
            return Response(403, "no Google service account is bound to this Kubernetes service account")
        token = google_identity_token(self.spec, gsa, audience)
        self.issued.append(tokens.unverified_claims(token))
        return Response(200, token, {"Content-Type": "text/plain"})
