"""Accounts: the owner, trusted reviewers, and the recovery code.

A person's one passphrase both logs them in (checked against an argon2id hash) and unwraps
their age identity (scrypt, inside age). The recovery code is a holder too: its identity opens
every item, so a forgotten passphrase does not lose the evidence.
"""

from __future__ import annotations

import contextlib
import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from nocontact import throttle
from nocontact.errors import UsageError, VaultError
from nocontact.models import Recipient, User, utcnow
from nocontact.vault.crypto import (
    new_identity,
    new_recovery_code,
    normalise_recovery_code,
    unwrap_identity,
    wrap_identity,
)

MIN_PASSPHRASE = 12

# argon2id with RFC 9106's second recommended option (64 MiB, t=3): above ASVS 2.4.1's floor.
_hasher = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1)


def check_passphrase_strength(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise UsageError(f"the passphrase must be at least {MIN_PASSPHRASE} characters")


def _new_recipient(session: Session, household_id: int, kind: str, secret: str) -> Recipient:
    identity, public = new_identity()
    r = Recipient(
        household_id=household_id,
        kind=kind,
        public_key=public,
        identity_wrapped=wrap_identity(identity, secret),
    )
    session.add(r)
    session.flush()
    return r


def add_user(session: Session, household_id: int, name: str, role: str, passphrase: str) -> User:
    if role not in ("owner", "reviewer"):
        raise UsageError(f"unknown role {role!r}: owner or reviewer")
    check_passphrase_strength(passphrase)
    exists = session.exec(
        select(User).where(User.household_id == household_id, User.name == name)
    ).first()
    if exists:
        raise UsageError(f"there is already a user called {name!r}")
    r = _new_recipient(session, household_id, role, passphrase)
    assert r.id is not None
    user = User(
        household_id=household_id,
        name=name,
        role=role,
        password_hash=_hasher.hash(passphrase),
        recipient_id=r.id,
    )
    session.add(user)
    session.flush()
    return user


def add_recovery(session: Session, household_id: int) -> str:
    """Create the recovery holder; returns the code, which is shown once and never stored."""
    code = new_recovery_code()
    _new_recipient(session, household_id, "recovery", normalise_recovery_code(code))
    return code


def find_user(session: Session, household_id: int, name: str) -> User | None:
    q = select(User).where(User.household_id == household_id, User.name == name)
    return session.exec(q).first()


def check_login(session: Session, user: User, passphrase: str, *, client: str) -> bool:
    """Verify a passphrase with throttling (``throttle.py``); records failures. The caller
    commits. The hash is checked first, always, so a resting account answers no faster."""
    assert user.id is not None
    matches = False
    with contextlib.suppress(VerificationError, InvalidHashError):
        matches = _hasher.verify(user.password_hash, passphrase)
    resting = throttle.resting(session, user.id, client)
    if not matches or resting or not user.active:
        # while resting, only the address's count still grows (it may come to rest too)
        throttle.failed(session, user.id, client)
        return False
    throttle.succeeded(session, user.id, client)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(passphrase)
        session.add(user)
    return True


def refuse_unknown(session: Session, passphrase: str, *, client: str) -> None:
    """A name that is no account: the same argon2 work as a real one, and the address's count."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_dummy_hash(), passphrase)
    throttle.failed(session, None, client)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def unlock(session: Session, user: User, passphrase: str) -> str:
    """The user's age identity; raises WrongPassphrase."""
    r = session.get(Recipient, user.recipient_id)
    if r is None or not r.active:
        raise VaultError("this account can no longer open the vault")
    return unwrap_identity(r.identity_wrapped, passphrase)


def unlock_recovery(session: Session, household_id: int, code: str) -> tuple[int, str]:
    q = select(Recipient).where(
        Recipient.household_id == household_id, Recipient.kind == "recovery"
    )
    r = session.exec(q).first()
    if r is None or r.id is None:
        raise VaultError("this vault has no recovery code")
    return r.id, unwrap_identity(r.identity_wrapped, normalise_recovery_code(code))


def revoke(session: Session, user: User) -> None:
    """Stop sealing new items to this user and stop them logging in."""
    user.active = False
    r = session.get(Recipient, user.recipient_id)
    if r is not None:
        r.active = False
        r.revoked_at = utcnow()
        session.add(r)
    session.add(user)
    session.flush()


def reset_with_recovery(
    session: Session, household_id: int, name: str, code: str, new_passphrase: str
) -> int:
    """A forgotten passphrase: the recovery code re-keys the account. Returns items re-keyed.

    The old identity cannot be unwrapped any more, so the user gets a new one and every item
    key is sealed to it afresh from the recovery holder's copy. The caller commits.
    """
    from nocontact.models import ItemKey
    from nocontact.vault.store import Opener, give_access

    check_passphrase_strength(new_passphrase)
    user = find_user(session, household_id, name)
    if user is None or not user.active:
        raise UsageError(f"there is no active user called {name!r}")
    recovery_id, recovery_identity = unlock_recovery(session, household_id, code)
    old = session.get(Recipient, user.recipient_id)
    fresh = _new_recipient(session, household_id, user.role, new_passphrase)
    assert fresh.id is not None
    holder = Opener(session, recovery_id, recovery_identity)
    keys = session.exec(select(ItemKey).where(ItemKey.recipient_id == recovery_id)).all()
    rekeyed = give_access(session, household_id, holder, [fresh], keys, set())
    if old is not None:
        old.active = False
        old.revoked_at = utcnow()
        session.add(old)
    user.recipient_id = fresh.id
    user.password_hash = _hasher.hash(new_passphrase)
    session.add(user)
    session.flush()
    return rekeyed
