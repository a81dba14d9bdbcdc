"""`nocontact init`: create a home, or finish one that is half made. Never overwrites keys."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from nocontact.config import Config, load_config
from nocontact.db import make_engine, migrate, read_engine, sqlite_url, transaction
from nocontact.errors import NoContactError
from nocontact.models import Household, Recipient, User
from nocontact.users import add_recovery, add_user, check_passphrase_strength
from nocontact.vault import ledger
from nocontact.vault.signing import Signer, verify_signature


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


class ForeignHousehold(NoContactError):
    """The database holds a household another home set up (exit code 1): one home, one
    database. Joining it would put a second service on the same mail and a second key under
    the same ledger."""


_FIRST_HOUSEHOLD = text("SELECT id, name FROM household ORDER BY id LIMIT 1")
# the checkpoint ``initialise`` signs with the household's creation, in the same transaction
_FIRST_CHECKPOINT = text(
    "SELECT statement, signature FROM checkpoint WHERE household_id = :h ORDER BY id LIMIT 1"
)


def refuse_foreign_household(engine: Engine, key_path: Path, config_path: Path) -> None:
    """Raise ForeignHousehold unless the database has no household yet or its first signed
    checkpoint verifies under this home's key (``key_path``). Reads only, in plain SQL (an
    older schema has these columns too), before anything is written anywhere."""
    if not {"household", "checkpoint"} <= set(inspect(engine).get_table_names()):
        return  # a new database
    with read_engine(engine).connect() as c:
        household = c.execute(_FIRST_HOUSEHOLD).first()
        if household is None:
            return
        first = c.execute(_FIRST_CHECKPOINT, {"h": household[0]}).first()
    where = f"the database named in {config_path} already holds the household {household[1]!r}"
    if not key_path.exists():
        why = f"this home has no signing key for it ({key_path} does not exist)"
    elif first is None:
        why = "it has no signed checkpoint to show it is this home's"
    else:
        public = Signer.load(key_path).public_pem()
        if verify_signature(public, bytes.fromhex(first[1]), str(first[0]).encode()):
            return
        why = f"its ledger is signed by another home's key, not {key_path}"
    raise ForeignHousehold(
        f"{where}, and {why}. Nothing was written. One home, one database: give this home a "
        "database of its own, or run the home that set this one up."
    )


def initialise(home: Path, config_path: Path, owner: str, passphrase: str | None) -> InitResult:
    """Create what is missing. ``passphrase`` is needed only when the owner does not exist.
    A database that holds another home's household is refused (``ForeignHousehold``)."""
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    created_config = write_template(config_path)
    cfg = load_config(config_path)
    key_path = home / "keys" / "signing.pem"
    engine = make_engine(cfg.database.url or sqlite_url(home))
    try:
        refuse_foreign_household(engine, key_path, config_path)
        migrate(engine)
        signer = Signer.load_or_create(key_path)
        (home / "blobs").mkdir(exist_ok=True, mode=0o700)
        code, created_owner = _fill(engine, cfg, signer, owner, passphrase)
    finally:
        engine.dispose()
    return InitResult(created_config, created_owner, code)


def _fill(
    engine: Engine, cfg: Config, signer: Signer, owner: str, passphrase: str | None
) -> tuple[str | None, bool]:
    """The household, its owner and recovery code where missing; a signed checkpoint."""
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
    return code, created_owner
