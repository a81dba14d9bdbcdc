"""Everything a command or a channel needs, opened once from a home folder.

The home holds: ``nocontact.toml`` (config), ``nocontact.db`` (SQLite, unless a database URL is
configured), ``blobs/`` (sealed originals), ``keys/signing.pem`` (the service's Ed25519 key).
The owner's and reviewers' secret keys are in the database, wrapped by their passphrases.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from nocontact.config import CONFIG_NAME, DEFAULT_HOME, Config, load_config
from nocontact.db import make_engine, migrate, sqlite_url
from nocontact.errors import UsageError
from nocontact.models import Household
from nocontact.schema import is_current
from nocontact.vault.blobs import BlobStore

if TYPE_CHECKING:  # cryptography loads only when something is signed
    from nocontact.vault.signing import Signer


def resolve_home(home: str | None) -> Path:
    return Path(home or os.environ.get("NOCONTACT_HOME") or DEFAULT_HOME)


def config_path_for(home: Path, config: str | None) -> Path:
    return Path(config) if config else home / CONFIG_NAME


@dataclass
class Runtime:
    home: Path
    config_path: Path
    config: Config
    engine: Engine
    blobs: BlobStore
    household_id: int = 1
    _signer: Signer | None = field(default=None, repr=False)

    @property
    def signing_key_path(self) -> Path:
        return self.home / "keys" / "signing.pem"

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            from nocontact.vault.signing import Signer

            self._signer = Signer.load(self.signing_key_path)
        return self._signer

    @classmethod
    def open(cls, home: Path, config_path: Path, *, upgrade: bool = True) -> Runtime:
        config = load_config(config_path)
        url = config.database.url or sqlite_url(home)
        engine = make_engine(url)
        if upgrade and not is_current(engine):  # Alembic only when there is work for it
            migrate(engine)
        rt = cls(home, config_path, config, engine, BlobStore(home / "blobs"))
        with Session(engine) as s:
            h = s.exec(select(Household).order_by(Household.id)).first()  # type: ignore[arg-type]
            if h is None or h.id is None:
                raise UsageError(f"{home} is not set up yet; run `nocontact init`")
            rt.household_id = h.id
        return rt
