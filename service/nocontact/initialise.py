"""`nocontact init`: create a home, or finish one that is half made. Never overwrites keys."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlmodel import Session, select

from nocontact.config import load_config
from nocontact.db import make_engine, migrate, sqlite_url, transaction
from nocontact.models import Household, Recipient, User
from nocontact.users import add_recovery, add_user, check_passphrase_strength
from nocontact.vault import ledger
from nocontact.vault.signing import Signer


@dataclass(frozen=True)
class InitResult:
    created_config: bool
    created_owner: bool
    recovery_code: str | None


def write_template(config_path: Path) -> bool:
    if config_path.exists():
        return False
    config_path.parent.mkdir(parents=True, exist_ok=True)
    text = (resources.files("nocontact") / "config_template.toml").read_text()
    fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return True


def is_initialised(home: Path, config_path: Path) -> bool:
    if not config_path.exists():
        return False
    cfg = load_config(config_path)
    engine = make_engine(cfg.database.url or sqlite_url(home))
    try:
        with Session(engine) as s:
            return s.exec(select(User).where(User.role == "owner")).first() is not None
    except Exception:  # noqa: BLE001  (no tables yet)
        return False
    finally:
        engine.dispose()


def initialise(home: Path, config_path: Path, owner: str, passphrase: str | None) -> InitResult:
    """Create what is missing. ``passphrase`` is needed only when the owner does not exist."""
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    created_config = write_template(config_path)
    cfg = load_config(config_path)
    engine = make_engine(cfg.database.url or sqlite_url(home))
    migrate(engine)
    signer = Signer.load_or_create(home / "keys" / "signing.pem")
    (home / "blobs").mkdir(exist_ok=True, mode=0o700)
    code: str | None = None
    created_owner = False
    with transaction(engine) as s:
        h = s.exec(select(Household)).first()
        if h is None:
            h = Household(name=cfg.household.name, default_region=cfg.household.default_region)
            s.add(h)
            s.flush()
            ledger.append(s, h.id or 0, "created")
        assert h.id is not None
        if (
            s.exec(select(User).where(User.household_id == h.id, User.role == "owner")).first()
            is None
        ):
            if passphrase is None:
                raise ValueError("a passphrase is needed to create the owner")
            check_passphrase_strength(passphrase)
            add_user(s, h.id, owner, "owner", passphrase)
            created_owner = True
        recovery = select(Recipient).where(
            Recipient.household_id == h.id, Recipient.kind == "recovery"
        )
        if s.exec(recovery).first() is None:
            code = add_recovery(s, h.id)
        ledger.checkpoint(s, h.id, signer)
    engine.dispose()
    return InitResult(created_config, created_owner, code)
