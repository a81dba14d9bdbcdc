"""A thin adapter over imapclient: connect with timeouts and the configured security, log in.

Only the commands the poller needs, each named for what it does, so the rest of the channel
never builds raw IMAP and can never issue a fetch that sets ``\\Seen`` (RFC 3501 §6.4.5: only
``BODY.PEEK`` leaves the flag alone).
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.response_parser import parse_fetch_response

from nocontact.config import ImapAccount
from nocontact.errors import ChannelError, ConfigError

log = logging.getLogger(__name__)

DELETED = b"\\Deleted"


class ImapError(ChannelError):
    """An IMAP account could not be read or changed; the message names no content."""


def _tls_context(account: ImapAccount) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=account.ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _describe(e: BaseException) -> str:
    """A short, content-free reason for the status row and the log."""
    if isinstance(e, LoginError):
        return "the server refused the login (check the password or token)"
    if isinstance(e, socket.timeout | TimeoutError):
        return "the server did not answer in time"
    if isinstance(e, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(e, ssl.SSLError):
        return f"TLS failed ({e.__class__.__name__})"
    if isinstance(e, OSError):
        return f"network error ({e.strerror or e.__class__.__name__})"
    return f"IMAP error ({e.__class__.__name__})"


def _refuse_seen(items: list[str]) -> None:
    for item in items:
        # A fetch without PEEK would mark the message read; refuse it outright.
        up = item.upper()
        if up.startswith(("BODY[", "BINARY[")) or up in ("RFC822", "RFC822.TEXT"):
            raise ValueError(f"refusing a fetch that sets \\Seen: {item}")


Fetched = dict[int, dict[bytes, Any]]

# The triage fetch (``RFC822.SIZE`` and a ``BODY.PEEK[]<0.n>`` prefix) as Dovecot and most
# servers answer it: the items in the order asked, the prefix as one literal that imaplib has
# already read to its exact length. imapclient's general parser costs about 24 us a message
# there (0.12 s of a 5,000-message first pass), this about 2. Any other shape (another order,
# a quoted string or NIL, an unsolicited FLAGS update) goes to imapclient's parser.
_TRIAGE_HEAD = re.compile(rb"(\d+) \(UID (\d+) RFC822\.SIZE (\d+) BODY\[\]<0> \{(\d+)\}\Z")


def _is_triage(items: list[str]) -> bool:
    return (
        len(items) == 2
        and items[0].upper() == "RFC822.SIZE"
        and items[1].upper().startswith("BODY.PEEK[]<0.")
    )


def _parse_triage(data: list[Any], wanted: set[int]) -> Fetched | None:
    """The responses as ``imapclient`` would return them, or None when any is not of the
    plain shape (the caller then uses imapclient's parser on all of them)."""
    out: Fetched = {}
    items = iter(data)
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            return None
        head, literal = item
        m = _TRIAGE_HEAD.match(head) if isinstance(head, bytes) else None
        if m is None or len(literal) != int(m[4]) or next(items, None) != b")":
            return None
        uid = int(m[2])
        if uid in wanted:  # as imapclient: unsolicited responses for other mail are dropped
            out[uid] = {b"SEQ": int(m[1]), b"RFC822.SIZE": int(m[3]), b"BODY[]<0>": literal}
    return out


class Connection:
    """One logged-in IMAP session for one account.

    One fetch may run ahead on a worker thread (``fetch_ahead``); imapclient serves one command
    at a time, so every other command here first waits for it (``_settle``). Code that uses
    ``client`` directly must not have a fetch ahead pending.
    """

    def __init__(self, account: ImapAccount, client: imapclient.IMAPClient) -> None:
        self.account = account
        self.client = client
        self._caps = {c.upper() for c in client.capabilities()}
        self._folders: set[str] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: tuple[tuple[tuple[int, ...], tuple[str, ...]], Future[Fetched]] | None = None

    def _settle(self) -> None:
        """Wait until a fetch started ahead is done; its result (or error) stays for the
        ``fetch`` that asks for it."""
        if self._ahead is not None:
            wait([self._ahead[1]])

    def _forget_ahead(self) -> None:
        """Another folder is about to be selected: UIDs there mean other messages."""
        self._settle()
        self._ahead = None

    def has(self, capability: bytes) -> bool:
        return capability.upper() in self._caps

    def select(self, folder: str) -> tuple[int, int]:
        """Open a folder read-write; returns (UIDVALIDITY, UIDNEXT or 0)."""
        self._forget_ahead()
        info = self.client.select_folder(folder)
        return int(info[b"UIDVALIDITY"]), int(info.get(b"UIDNEXT", 0))

    def uids_from(self, first: int) -> list[int]:
        """UIDs >= first. RFC 3501 §6.4.4: ``n:*`` with n past the end still returns the last
        message, so results below ``first`` are dropped here."""
        self._settle()
        found = self.client.search(["UID", f"{first}:*"])
        return sorted(u for u in found if u >= first)

    def fetch(self, uids: Iterable[int], items: list[str]) -> Fetched:
        wanted = list(uids)
        if not wanted:
            return {}
        _refuse_seen(items)
        if self._ahead is not None and self._ahead[0] == (tuple(wanted), tuple(items)):
            future = self._ahead[1]
            self._ahead = None
            return future.result()
        self._settle()
        return self._fetch_now(wanted, items)

    def _fetch_now(self, wanted: list[int], items: list[str]) -> Fetched:
        if not _is_triage(items):
            result: Fetched = self.client.fetch(wanted, items)
            return result
        # the same command imapclient sends (UID FETCH), read by imaplib, parsed here
        imap = self.client._imap
        typ, data = imap.uid("FETCH", ",".join(map(str, wanted)), f"({' '.join(items)})")
        if typ != "OK":
            raise IMAPClientError(f"fetch failed: {typ}")
        fast = _parse_triage(data, set(wanted))
        if fast is not None:
            return fast
        parsed = parse_fetch_response(data, self.client.normalise_times, True)
        return {u: parsed[u] for u in wanted if u in parsed}

    def fetch_ahead(self, uids: Iterable[int], items: list[str]) -> None:
        """Start the fetch a later ``fetch(uids, items)`` will ask for, on a worker thread, so
        the server's reading and the transfer overlap the caller's work (sealing the batch
        before). Only reads (PEEK); nothing changes on the server until it is asked for."""
        wanted = list(uids)
        if not wanted:
            return
        _refuse_seen(items)
        self._settle()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap-ahead")
        future = self._pool.submit(self._fetch_now, wanted, items)
        self._ahead = ((tuple(wanted), tuple(items)), future)

    def ensure_folder(self, folder: str) -> None:
        """Create the quarantine folder if missing; never subscribe it (stays out of clients'
        folder lists that show subscribed folders only)."""
        self._settle()
        if folder in self._folders:
            return
        if not self.client.folder_exists(folder):
            self.client.create_folder(folder)
            log.info("account %s: created the holding folder", self.account.name)
        self._folders.add(folder)

    def move(self, uids: list[int], folder: str) -> None:
        """From the selected folder to another: RFC 6851 MOVE where offered, otherwise COPY +
        \\Deleted + UID EXPUNGE (RFC 4315)."""
        self._settle()
        if not uids:
            return
        if self.has(b"MOVE"):
            self.client.move(uids, folder)
            return
        self._require_uidplus()
        self.client.copy(uids, folder)
        self._expunge(uids)

    def delete(self, uids: list[int]) -> None:
        self._settle()
        if uids:
            self._require_uidplus()
            self._expunge(uids)

    def _require_uidplus(self) -> None:
        # Never a bare EXPUNGE: it would also remove what the person marked deleted themselves.
        if not self.has(b"UIDPLUS"):
            raise ImapError("the server offers neither MOVE nor UIDPLUS", permanent=True)

    def _expunge(self, uids: list[int]) -> None:
        self.client.add_flags(uids, [DELETED], silent=True)
        self.client.uid_expunge(uids)

    def search_message_id(self, folder: str, message_id: str) -> list[int]:
        self._forget_ahead()
        self.client.select_folder(folder)
        found: list[int] = self.client.search(["HEADER", "Message-ID", message_id])
        return found

    def append(self, folder: str, raw: bytes) -> None:
        self._settle()
        self.client.append(folder, raw)

    def logout(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # a fetch ahead nobody asked for: let it finish
            self._ahead = None
        # the server may already have gone; nothing to release on our side
        with suppress(IMAPClientError, OSError):
            self.client.logout()


def connect(account: ImapAccount) -> Connection:
    """Connect and log in; raises ImapError (content-free) or ConfigError (a missing secret)."""
    seconds = account.timeout_seconds
    timeout = imapclient.SocketTimeout(connect=seconds, read=seconds)
    try:
        client = imapclient.IMAPClient(
            account.host,
            port=account.port,
            ssl=account.security == "tls",
            ssl_context=_tls_context(account) if account.security == "tls" else None,
            timeout=timeout,
        )
    except (OSError, IMAPClientError) as e:
        raise ImapError(f"cannot connect: {_describe(e)}") from e
    # imapclient turns imaplib's debug output up to its highest level (5) and sends it to a
    # logger. imaplib then builds every message line, and the repr of every literal it reads,
    # twice (once as it arrives, once when the command ends), as strings for that logger,
    # whatever its level: 0.1 s of a 5,000-message first pass. We never log protocol data.
    client._imap.debug = 0
    try:
        if account.security == "starttls":
            client.starttls(_tls_context(account))
        token = account.oauth2_token()
        if token is not None:
            client.oauth2_login(account.username, token)
        else:
            client.login(account.username, account.secret("password") or "")
    except ConfigError:
        _close(client)
        raise
    except (OSError, IMAPClientError) as e:
        _close(client)
        raise ImapError(_describe(e), permanent=isinstance(e, LoginError)) from e
    return Connection(account, client)


def _close(client: imapclient.IMAPClient) -> None:
    with suppress(OSError, IMAPClientError):
        client.shutdown()


@contextmanager
def session(account: ImapAccount) -> Iterator[Connection]:
    conn = connect(account)
    try:
        yield conn
    finally:
        conn.logout()


def describe(e: BaseException) -> str:
    return _describe(e)
