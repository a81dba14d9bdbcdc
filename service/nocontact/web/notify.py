"""Content-free notices by email: reviewer digests, "please look instead", urgent notes.

Every mail says only that there is something to look at and where; never a sender, subject,
name on the list or any words of a message (DESIGN §1.2). Sending uses the ``[notify]`` config;
without it nothing is sent and the pages say so. A failure to send is logged by user id and
never stops the page or the job that asked.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr

from sqlmodel import Session, col, func, select

from nocontact.db import transaction
from nocontact.errors import ConfigError
from nocontact.models import ReviewNote, User, VaultItem, utcnow
from nocontact.runtime import Runtime
from nocontact.web.models import NotifyPrefs
from nocontact.web.sessions import aware

log = logging.getLogger(__name__)
PERIOD = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}


def send(rt: Runtime, to: str, subject: str, text: str) -> bool:
    """Mail one notice; False (and one log line, no address or words) if it was not sent.

    TLS always checks the server's certificate and name, against the system's CAs or
    ``ca_file``: a notice is never handed to whoever answers in the middle. ``smtps://`` is
    TLS from the first byte (port 465); ``smtp://`` with ``starttls`` upgrades. The sender is
    shown as the household's ``display_name``, never this software's name.
    """
    cfg = rt.config.notify
    if cfg is None or not to:
        return False
    msg = EmailMessage()
    msg["From"] = formataddr((rt.config.household.display_name, cfg.from_address))
    msg["To"], msg["Subject"] = to, subject
    msg.set_content(text)
    try:
        implicit, host, port = _target(cfg.smtp_url)
        tls = ssl.create_default_context(cafile=cfg.ca_file)
        smtp: smtplib.SMTP
        if implicit:
            smtp = smtplib.SMTP_SSL(host, port or 465, timeout=30, context=tls)
        else:
            smtp = smtplib.SMTP(host, port or 25, timeout=30)
        with smtp:
            if cfg.starttls and not implicit:
                smtp.starttls(context=tls)
            password = cfg.secret("password")
            if cfg.username and password:
                smtp.login(cfg.username, password)
            smtp.send_message(msg)
    except ssl.SSLCertVerificationError as e:
        log.warning(
            "a content-free notice was not sent: the mail server's certificate was refused (%s)",
            e.verify_message,
        )
        return False
    except (OSError, smtplib.SMTPException, ValueError, ConfigError):
        log.warning("a content-free notice could not be sent")
        return False
    return True


def _target(url: str) -> tuple[bool, str, int | None]:
    """(implicit TLS?, host, port or None) from ``smtp://host:port`` or ``smtps://host:port``."""
    scheme, _, rest = url.strip().rpartition("://")
    rest = rest.rstrip("/")
    if rest.startswith("["):  # [IPv6]:port
        host, _, after = rest[1:].partition("]")
        port = after.removeprefix(":")
    else:
        host, _, port = rest.partition(":")
    return scheme.lower() == "smtps", host, int(port) if port else None


def _prefs(s: Session, role: str, household_id: int) -> list[tuple[User, NotifyPrefs]]:
    q = (
        select(User, NotifyPrefs)
        .join(NotifyPrefs, col(NotifyPrefs.user_id) == col(User.id))
        .where(User.household_id == household_id, User.role == role, col(User.active))
    )
    return [(u, p) for u, p in s.exec(q).all() if p.email]


def ask_reviewers(rt: Runtime) -> int:
    with Session(rt.engine) as s:
        targets = [p.email for _u, p in _prefs(s, "reviewer", rt.household_id)]
    text = (
        "The person you support has asked you to look at their held messages for them.\n\n"
        f"{rt.config.web.base_url()}/review\n"
    )
    return sum(send(rt, to, "Please take a look when you can", text) for to in targets)


def urgent_notice(rt: Runtime) -> int:
    with Session(rt.engine) as s:
        targets = [p.email for _u, p in _prefs(s, "owner", rt.household_id) if p.urgent]
    text = (
        "Your trusted person has left you a note they marked as urgent.\n"
        "You can read the note (not the message) when you are ready:\n\n"
        f"{rt.config.web.base_url()}/notes\n"
    )
    return sum(send(rt, to, "A note from your trusted person", text) for to in targets)


def digest_job(rt: Runtime) -> int:
    """Send due digests ("3 new items to review" and a link). Returns how many were sent.

    The due list is worked out and marked in one transaction, then mailed after it commits, so
    no database lock is held while talking to a mail server.
    """
    now, due = utcnow(), []
    with transaction(rt.engine) as s:
        for user, prefs in _prefs(s, "reviewer", rt.household_id):
            period = PERIOD.get(prefs.digest)
            last = aware(prefs.last_digest_at) if prefs.last_digest_at else None
            if period is None or (last is not None and now - last < period):
                continue
            q = (
                select(func.count())
                .select_from(VaultItem)
                .outerjoin(ReviewNote, col(ReviewNote.item_id) == col(VaultItem.id))
                .where(VaultItem.household_id == rt.household_id, col(ReviewNote.item_id).is_(None))
            )
            if last is not None:
                q = q.where(VaultItem.created_at > last)
            n = s.exec(q).one()
            prefs.last_digest_at = now
            s.add(prefs)
            if n:
                due.append((user.id, prefs.email, n))
    sent = 0
    for user_id, email, n in due:
        word = "item" if n == 1 else "items"
        text = f"{n} new {word} to review.\n\n{rt.config.web.base_url()}/review\n"
        if send(rt, email, f"{n} new {word} to review", text):
            sent += 1
        else:
            log.warning("digest for user %s not sent", user_id)
    return sent


def account_changed(rt: Runtime, user_id: int | None) -> int:
    """A sign-in setting of an account changed (the second factor): tell that account and the
    owner, so a change made at an unlocked phone does not go unseen. Says nothing else."""
    with Session(rt.engine) as s:
        targets = {
            p.email
            for u, p in _prefs(s, "owner", rt.household_id) + _prefs(s, "reviewer", rt.household_id)
            if u.role == "owner" or u.id == user_id
        }
    text = (
        "A sign-in setting of your account, or of someone you trust, was just changed.\n"
        "If that was not you, look at Settings and Activity:\n\n"
        f"{rt.config.web.base_url()}/settings\n"
    )
    return sum(send(rt, to, "A sign-in setting was changed", text) for to in sorted(targets))
