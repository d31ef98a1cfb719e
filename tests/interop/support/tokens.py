"""Test JWTs (HS256 with a key only the suite knows) and AWS SigV4 verification."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from urllib.parse import quote, urlsplit, parse_qsl

KEY = b"crossfed-interop-test-key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def mint(claims: dict, lifetime: int = 3600) -> str:
    now = int(time.time())
    body = {"iat": now, "nbf": now, "exp": now + lifetime, **claims}
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "interop"}).encode())
    payload = _b64(json.dumps(body).encode())
    sig = hmac.new(KEY, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{_b64(sig)}"


class BadToken(Exception):
    pass


def verify(token: str) -> dict:
    """The claims of a token minted by `mint`; raises BadToken if forged, mangled or expired."""
    try:
        head, payload, sig = token.split(".")
    except ValueError:
        raise BadToken(f"not a JWT: {token[:40]!r}") from None
    want = hmac.new(KEY, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(want, _unb64(sig)):
        raise BadToken("bad signature")
    claims = json.loads(_unb64(payload))
    if claims.get("exp", 0) < time.time():
        raise BadToken("expired")
    return claims


def unverified_claims(token: str) -> dict:
    return json.loads(_unb64(token.split(".")[1]))


# --- AWS Signature Version 4 ----------------------------------------------------------------------


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_check(method: str, url: str, headers: dict[str, str], body: str, secret_key: str) -> tuple[str, str, str]:
    """Verifies a SigV4-signed request as AWS would; returns (access key id, region, service).

    Raises ValueError naming the first thing wrong."""
    headers = {k.lower(): v for k, v in headers.items()}
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        raise ValueError(f"not a SigV4 Authorization header: {auth!r}")
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 ") :].split(","))
    access_key, date, region, service, terminator = fields["Credential"].split("/")
    if terminator != "aws4_request":
        raise ValueError(f"bad credential scope {fields['Credential']}")
    signed = fields["SignedHeaders"].split(";")
    for required in ("host", "x-amz-date"):
        if required not in signed:
            raise ValueError(f"`{required}` is not signed (SignedHeaders={fields['SignedHeaders']})")
    parts = urlsplit(url)
    if headers.get("host") != parts.netloc:
        raise ValueError(f"host header {headers.get('host')!r} is not the URL's host {parts.netloc!r}")
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(parse_qsl(parts.query, keep_blank_values=True))
    )
    canonical_headers = "".join(f"{h}:{' '.join(headers[h].split())}\n" for h in signed)
    canonical = "\n".join(
        [
            method,
            quote(parts.path or "/", safe="/-_.~"),
            canonical_query,
            canonical_headers,
            ";".join(signed),
            hashlib.sha256(body.encode()).hexdigest(),
        ]
    )
    amz_date = headers["x-amz-date"]
    if not amz_date.startswith(date):
        raise ValueError("x-amz-date does not match the credential scope's date")
    skew = abs(dt.datetime.now(dt.timezone.utc) - dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc))
    if skew > dt.timedelta(minutes=15):
        raise ValueError(f"signature time {amz_date} is {skew} away")
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _sign(_sign(_sign(_sign(f"AWS4{secret_key}".encode(), date), region), service), "aws4_request")
    if not hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), fields["Signature"]):
        raise ValueError("signature does not match")
    return access_key, region, service
