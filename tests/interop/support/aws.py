"""moto on 127.0.0.1, and an STS front that makes `AssumeRoleWithWebIdentity` as strict as AWS.

moto's STS ignores the web identity token, the trust policy and even whether the role exists
(REFERENCE.md section 9). `StsGate` sits in front of it at `AWS_ENDPOINT_URL_STS` and does what
AWS does before issuing credentials: resolve the token's issuer to `accounts.google.com` or to an
IAM OIDC provider that exists in the role's account (and whose client ids include the token's
audience), load the role from moto's IAM, evaluate its trust policy (`support.trust`), check
the session name and duration. Allowed calls, and every other STS call, go to moto unchanged.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from xml.etree import ElementTree
from contextlib import contextmanager
from xml.sax.saxutils import escape

import boto3
import botocore.config

from . import tokens, trust
from .http import Request, Response, StubServer

BOTO_CONFIG = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=20)


def _client_id_actions() -> None:
    """moto 5.2 has no `AddClientIDToOpenIDConnectProvider` nor `RemoveClientIDFromOpenIDConnectProvider`
    (it answers 500 "not implemented"); the rendered apply.sh and revoke.sh call both. Added here
    to its IAM, with AWS's semantics: adding a present id or removing an absent one succeeds, an
    unknown provider is NoSuchEntity."""
    from moto.iam.responses import EmptyResult, IamResponse

    def add(self):
        provider = self.backend.get_open_id_connect_provider(self._get_param("OpenIDConnectProviderArn"))
        client_id = self._get_param("ClientID")
        if client_id not in provider.client_id_list:
            provider.client_id_list.append(client_id)
        return EmptyResult()

    def remove(self):
        provider = self.backend.get_open_id_connect_provider(self._get_param("OpenIDConnectProviderArn"))
        client_id = self._get_param("ClientID")
        provider.client_id_list = [c for c in provider.client_id_list if c != client_id]
        return EmptyResult()

    IamResponse.add_client_id_to_open_id_connect_provider = add
    IamResponse.remove_client_id_from_open_id_connect_provider = remove


class Moto:
    def __init__(self):
        from moto.server import ThreadedMotoServer

        _client_id_actions()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def __enter__(self) -> Moto:
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).read()

    def client(self, service: str, account: str, region: str = "us-east-1"):
        """A client acting in `account` (moto's x-moto-account-id header)."""
        c = boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id="AKIAMOTOADMIN0000000",
            aws_secret_access_key="moto",
            config=BOTO_CONFIG,
        )
        c.meta.events.register("before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
        return c

    def iam(self, account: str, action: str, **params: str):
        """One IAM query API call in `account`, as raw HTTP: the STS gate runs while a test has
        rewritten the environment (AWS_PROFILE, ...), which a boto3 client would pick up."""
        body = urllib.parse.urlencode({"Action": action, "Version": "2010-05-08", **params}).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "x-moto-account-id": account,
            # moto routes by the credential scope's service name; it does not check signatures.
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAMOTOADMIN0000000/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        }
        req = urllib.request.Request(self.url + "/", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                return ElementTree.fromstring(resp.read())
        except urllib.error.HTTPError as err:
            if err.code in (400, 404):
                return None
            raise

    def admin_keys(self, account: str) -> tuple[str, str]:
        """Access keys of an IAM user in `account`: moto maps later calls with them to the account."""
        iam = self.client("iam", account)
        iam.create_user(UserName="crossfed-interop-admin")
        key = iam.create_access_key(UserName="crossfed-interop-admin")["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]


def _text(root, tag: str) -> str | None:
    for e in root.iter():
        if e.tag.rsplit("}", 1)[-1] == tag:
            return e.text
    return None


def _parent_is(root, child, tag: str) -> bool:
    for parent in root.iter():
        if child in list(parent) and parent.tag.rsplit("}", 1)[-1] == tag:
            return True
    return False


def _error(code: str, message: str, status: int = 403) -> Response:
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    )
    return Response(status, body, {"Content-Type": "text/xml"})


ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role(/(?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,64})$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")


class StsGate:
    def __init__(self, moto: Moto):
        self.moto = moto
        self.decisions: list[str] = []

    def handle(self, req: Request) -> Response:
        form = req.form()
        if form.get("Action") == "AssumeRoleWithWebIdentity":
            refused = self.refuse(form)
            if refused is not None:
                self.decisions.append(f"denied: {refused[1]}")
                return _error(*refused)
            self.decisions.append(f"allowed: {form['RoleArn']} as {form['RoleSessionName']}")
        return self.forward(req)

    def refuse(self, form: dict[str, str]) -> tuple[str, str] | tuple[str, str, int] | None:
        m = ROLE_ARN.match(form.get("RoleArn", ""))
        if not m:
            return ("ValidationError", f"invalid RoleArn {form.get('RoleArn')!r}", 400)
        partition, account, _path, name = m.groups()
        if not SESSION_NAME.match(form.get("RoleSessionName", "")):
            return ("ValidationError", f"invalid RoleSessionName {form.get('RoleSessionName')!r}", 400)
        try:
            claims = tokens.verify(form.get("WebIdentityToken", ""))
        except tokens.BadToken as exc:
            return ("InvalidIdentityToken", f"web identity token: {exc}", 400)
        issuer = claims.get("iss", "")
        provider = trust.provider_of(issuer, account, partition)
        if provider != "accounts.google.com":
            p = self.moto.iam(account, "GetOpenIDConnectProvider", OpenIDConnectProviderArn=provider)
            if p is None:
                return ("InvalidIdentityToken", f"No OpenIDConnect provider found in your account for {issuer}", 400)
            client_ids = [e.text for e in p.iter() if e.tag.endswith("member") and _parent_is(p, e, "ClientIDList")]
            auds = claims.get("aud")
            auds = auds if isinstance(auds, list) else [auds]
            if not set(auds) & set(client_ids):
                return ("InvalidIdentityToken", f"Incorrect token audience {auds}; provider client ids {client_ids}", 400)
        role = self.moto.iam(account, "GetRole", RoleName=name)
        if role is None:
            return ("AccessDenied", f"Not authorized to perform sts:AssumeRoleWithWebIdentity (no role {name} in {account})")
        arn = _text(role, "Arn")
        if arn != form["RoleArn"]:
            return ("AccessDenied", f"Not authorized to perform sts:AssumeRoleWithWebIdentity (role is {arn})")
        policy = json.loads(urllib.parse.unquote(_text(role, "AssumeRolePolicyDocument")))
        decision = trust.evaluate(policy, issuer, claims, account, partition)
        if not decision.allowed:
            return ("AccessDenied", f"Not authorized to perform sts:AssumeRoleWithWebIdentity: {decision.reason}")
        duration = int(form.get("DurationSeconds", 3600))
        max_duration = int(_text(role, "MaxSessionDuration") or 3600)
        if not 900 <= duration <= max_duration:
            return ("ValidationError", f"DurationSeconds {duration} exceeds the MaxSessionDuration {max_duration} of the role", 400)
        return None

    def forward(self, req: Request) -> Response:
        headers = {k: v for k, v in req.headers.items() if k not in ("host", "content-length", "connection")}
        r = urllib.request.Request(self.moto.url + req.path, data=req.body, headers=headers, method=req.method)
        try:
            with urllib.request.urlopen(r, timeout=20) as resp:
                return Response(resp.status, resp.read(), {"Content-Type": resp.headers.get("Content-Type", "text/xml")})
        except urllib.error.HTTPError as err:
            return Response(err.code, err.read(), {"Content-Type": err.headers.get("Content-Type", "text/xml")})


@contextmanager
def sts_gate(moto: Moto):
    gate = StsGate(moto)
    with StubServer("sts-gate", gate.handle) as server:
        gate.url = server.url
        yield gate
