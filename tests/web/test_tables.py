"""The web tables migrate and work on both engines (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from nocontact.db import transaction
from nocontact.models import User
from nocontact.runtime import Runtime
from nocontact.web import sessions, totp
from nocontact.web.models import NotifyPrefs, RecoveryCode


# SQLite is what every other web test runs on; this adds PostgreSQL.
@pytest.mark.parametrize("any_rt", ["postgresql"], indirect=True)
def test_sessions_codes_and_prefs_round_trip(any_rt: Runtime) -> None:
    with transaction(any_rt.engine) as s:
        owner = s.exec(select(User).where(User.name == "owner")).one()
        token, row = sessions.create(s, owner, mfa_pending=False)
        codes = totp.enable(s, owner, totp.new_secret())
        s.add(NotifyPrefs(user_id=owner.id or 0, email="me@example.org"))
    with transaction(any_rt.engine) as s:
        live = sessions.sweep(s, any_rt.config.web)
        owner = s.exec(select(User).where(User.name == "owner")).one()
        assert totp.check(s, owner, codes[0], client="127.0.0.1")
        assert not totp.check(s, owner, codes[0], client="127.0.0.1")
        assert len(s.exec(select(RecoveryCode)).all()) == len(codes)
    assert live == {sessions.token_hash(token)}
    assert row.token_hash != token
