"""Optional second factor: TOTP (RFC 6238, via pyotp) with one-time recovery codes.

A code is accepted once: the time step it belongs to is remembered. Recovery codes are 10
random base32 characters (50 bits), so a plain SHA-256 is enough to store them; each works
once. Wrong codes count towards the same rest as wrong passphrases (``throttle.py``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pyotp
from sqlmodel import Session, col, delete, select

from nocontact import throttle
from nocontact.models import User, utcnow
from nocontact.web.models import RecoveryCode, TotpUse

RECOVERY_CODES = 8


def new_secret() -> str:
    return pyotp.random_base32()


def uri(secret: str, name: str, issuer: str) -> str:
    """``issuer`` is the household's display name: an authenticator app lists it, and a
    phone's lock screen may show it."""
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=issuer)


def matching_step(secret: str, code: str) -> int | None:
    """The time step (RFC 6238) the code belongs to, allowing one step of clock drift."""
    digits = "".join(ch for ch in code if ch.isdigit())
    if len(digits) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = int(time.time())
    for drift in (0, -1, 1):
        at = now + drift * totp.interval
        if hmac.compare_digest(totp.at(at), digits):
            return at // totp.interval
    return None


def verify(secret: str, code: str) -> bool:
    return matching_step(secret, code) is not None


def _fresh_code(s: Session, user: User, code: str) -> bool:
    """A valid code from a step not used before (ASVS 2.8.4: single use)."""
    step = matching_step(user.totp_secret or "", code)
    if step is None or user.id is None:
        return False
    used = s.get(TotpUse, user.id) or TotpUse(user_id=user.id)
    if step <= used.last_step:
        return False
    used.last_step = step
    s.add(used)
    return True


def _hash(code: str) -> str:
    return hashlib.sha256("".join(ch for ch in code.upper() if ch.isalnum()).encode()).hexdigest()


def enable(s: Session, user: User, secret: str) -> list[str]:
    """Turn TOTP on and return fresh recovery codes (shown once)."""
    assert user.id is not None
    user.totp_secret = secret
    s.add(user)
    s.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(7)).decode()[:10]
        codes.append(f"{raw[:5]}-{raw[5:]}")
        s.add(RecoveryCode(user_id=user.id, code_hash=_hash(raw)))
    s.flush()
    return codes


def disable(s: Session, user: User) -> None:
    user.totp_secret = None
    s.add(user)
    s.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))


def _use_recovery(s: Session, user: User, code: str) -> bool:
    h = _hash(code)
    q = select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, col(RecoveryCode.used_at).is_(None)
    )
    for rc in s.exec(q).all():
        if hmac.compare_digest(rc.code_hash, h):
            rc.used_at = utcnow()
            s.add(rc)
            return True
    return False


def check(s: Session, user: User, code: str, *, client: str) -> bool:
    """The second step of a login; failures count towards the rest. The caller commits."""
    assert user.id is not None
    if throttle.resting(s, user.id, client):
        return False
    ok = bool(user.totp_secret) and (_fresh_code(s, user, code) or _use_recovery(s, user, code))
    if ok:
        throttle.succeeded(s, user.id, client)
    else:
        throttle.failed(s, user.id, client)
    return ok
