"""Request signers written from each provider's documentation, independent of the service code.

They are what the provider does on its side; the tests sign with these and the service must
accept exactly these.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def twilio(token: str, url: str, params: dict[str, str]) -> dict[str, str]:
    """Twilio "Webhooks security": the URL, then each POST field sorted by name, name+value,
    HMAC-SHA1 with the auth token, base64."""
    data = url
    for name in sorted(params):
        data += name + params[name]
    sig = base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest())
    return {
        "X-Twilio-Signature": sig.decode(),
        "Content-Type": "application/x-www-form-urlencoded",
    }


def twilio_body(params: dict[str, str]) -> bytes:
    return urlencode(params).encode()


def telnyx(key: Ed25519PrivateKey, body: bytes, ts: int | None = None) -> dict[str, str]:
    """Telnyx "Webhook signing": Ed25519 over "<timestamp>|<body>", base64."""
    stamp = str(int(time.time()) if ts is None else ts)
    sig = key.sign(stamp.encode() + b"|" + body)
    return {
        "telnyx-signature-ed25519": base64.b64encode(sig).decode(),
        "telnyx-timestamp": stamp,
        "Content-Type": "application/json",
    }


def smsgate(key: str, body: bytes, ts: int | None = None) -> dict[str, str]:
    """SMS Gateway for Android: hex HMAC-SHA256 of body + X-Timestamp."""
    stamp = str(int(time.time()) if ts is None else ts)
    sig = hmac.new(key.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
    return {"X-Signature": sig, "X-Timestamp": stamp, "Content-Type": "application/json"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_hs256(key: str, claims: dict[str, object], alg: str = "HS256") -> str:
    """RFC 7519 / RFC 7515 compact JWS with HMAC-SHA256, as httpSMS builds it."""
    header = _b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    if alg == "none":
        return f"{header}.{payload}."
    sig = hmac.new(key.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(sig)}"


def httpsms(key: str, url: str, *, issued: int | None = None, alg: str = "HS256") -> dict[str, str]:
    """httpSMS: Authorization: Bearer JWT (HS256), aud = the webhook URL, 10 minutes' life."""
    iat = int(time.time()) if issued is None else issued
    claims = {
        "aud": url,
        "exp": iat + 600,
        "iat": iat,
        "iss": "api.httpsms.com",
        "nbf": iat - 600,
        "sub": "user-1",
    }
    return {
        "Authorization": f"Bearer {jwt_hs256(key, claims, alg)}",
        "Content-Type": "application/json",
        "X-Event-Type": "message.phone.received",
    }


def generic(key: str, body: bytes, ts: int | None = None) -> dict[str, str]:
    """Our generic endpoint (README): hex HMAC-SHA256 of "<timestamp>.<body>"."""
    stamp = str(int(time.time()) if ts is None else ts)
    sig = hmac.new(key.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "X-Nocontact-Timestamp": stamp,
        "X-Nocontact-Signature": f"sha256={sig}",
        "Content-Type": "application/json",
    }
