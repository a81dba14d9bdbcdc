"""How many wrong guesses a sign-in may take, and from where.

Failures are counted for the pair (account, client address) and for the client address alone.
A pair rests after ``PAIR_AFTER`` failures; an address rests after ``CLIENT_AFTER`` failures
on any names. So a stranger cannot keep the owner locked out (her address is a different
pair), and one address cannot spray guesses across accounts (ASVS 2.2.1). Every check costs
the same argon2 work whether or not the account is resting: the answer time must not say
which it is (see ``users.check_login``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from nocontact.models import LoginThrottle, utcnow

PAIR_AFTER = 5
CLIENT_AFTER = 20
REST_FOR = timedelta(minutes=15)


def _pair(user_id: int, client: str) -> str:
    return f"account:{user_id}@{client}"


def _client(client: str) -> str:
    return f"client:{client}"


def _aware(ts: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return ts if ts.tzinfo else ts.replace(tzinfo=utcnow().tzinfo)


def _resting(row: LoginThrottle) -> bool:
    return row.locked_until is not None and _aware(row.locked_until) > utcnow()


def _row(s: Session, key: str) -> LoginThrottle:
    """The row for ``key``; failures older than ``REST_FOR`` are forgotten."""
    row = s.get(LoginThrottle, key)
    now = utcnow()
    if row is None:
        return LoginThrottle(key=key, window_start=now)
    if now - _aware(row.window_start) > REST_FOR and not _resting(row):
        row.failures, row.window_start, row.locked_until = 0, now, None
    return row


def resting(s: Session, user_id: int | None, client: str) -> bool:
    """True while this address, or this account from this address, is resting."""
    if _resting(_row(s, _client(client))):
        return True
    return user_id is not None and _resting(_row(s, _pair(user_id, client)))


def failed(s: Session, user_id: int | None, client: str) -> bool:
    """Count one failure; True if it made the account (from here) or the address rest.
    The caller commits."""
    now = utcnow()
    started = False
    counted = [(_client(client), CLIENT_AFTER)]
    if user_id is not None:
        counted.append((_pair(user_id, client), PAIR_AFTER))
    for key, after in counted:
        row = _row(s, key)
        if _resting(row):
            s.add(row)
            continue
        row.failures += 1
        if row.failures >= after:
            row.locked_until, row.failures = now + REST_FOR, 0
            started = True
        s.add(row)
    return started


def succeeded(s: Session, user_id: int, client: str) -> None:
    """The account's count from this address starts again; the address's own count does not
    (an attacker with an account of their own must not wipe it by logging in)."""
    row = s.get(LoginThrottle, _pair(user_id, client))
    if row is not None:
        s.delete(row)
