"""Log setup. Convention everywhere: lazy ``%s`` arguments, ids only; never message content,
subjects or the addresses of held messages (they would end up in journald, backups, support
tickets)."""

from __future__ import annotations

import logging
import os


def setup_logging(level: str | None = None) -> None:
    logging.basicConfig(
        level=(level or os.environ.get("NOCONTACT_LOG_LEVEL") or "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Third-party loggers that could print protocol data (IMAP lines, SMTP AUTH) stay quiet.
    for noisy in (
        "imapclient",
        "mail.log",
        "aiosmtpd",
        "aiosmtplib",
        "httpx",
        "apscheduler",
        "alembic",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def origin(e: BaseException) -> str:
    """Where an exception was raised, as ``file.py:line``: safe to log, unlike its message (a
    database error's text can carry the row's values, a decoding error the bytes)."""
    tb = e.__traceback__
    if tb is None:
        return "?"
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
