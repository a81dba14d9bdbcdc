"""A throwaway Dovecot (Debian's dovecot-imapd + dovecot-lmtpd) on loopback ports.

Runs as root from a private config, with its login and mail processes under its own users
(dovenull, dovecot), mail owned by the dovecot user, plaintext auth over loopback, no TLS.
Users ``alice`` and ``bob`` with password ``secret``; LMTP accepts ``alice@anything``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.servers.ports import free_port, wait_port

USERS = ("alice", "bob")
PASSWORD = "secret"


@dataclass
class Dovecot:
    root: Path
    imap_port: int
    lmtp_port: int
    host: str = "127.0.0.1"

    def maildir(self, user: str) -> Path:
        return self.root / "mail" / user

    def stop(self) -> None:
        pidfile = self.root / "run" / "master.pid"
        if pidfile.exists():
            pid = int(pidfile.read_text().strip())
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.05)

    def reset_mail(self) -> None:
        """Empty every mailbox (between tests)."""
        for user in USERS:
            shutil.rmtree(self.maildir(user), ignore_errors=True)
            _own(self.maildir(user))


def _own(path: Path) -> None:
    dc = pwd.getpwnam("dovecot")
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, dc.pw_uid, dc.pw_gid)


def start_dovecot(root: Path, extra_conf: str = "") -> Dovecot:
    """``extra_conf`` is appended to the config (e.g. an extra passdb for one test module)."""
    if shutil.which("dovecot") is None:
        raise RuntimeError("dovecot is not installed; run `make deps`")
    dc = pwd.getpwnam("dovecot")
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)  # noqa: S103  (dovecot processes run as other users)
    for d in ("run", "state", "mail"):
        (root / d).mkdir(exist_ok=True)
    _own(root / "mail")
    imap_port, lmtp_port = free_port(), free_port()
    users = root / "users"
    users.write_text(
        "".join(
            f"{u}:{{PLAIN}}{PASSWORD}:{dc.pw_uid}:{dc.pw_gid}::{root}/mail/{u}::\n" for u in USERS
        )
    )
    for u in USERS:
        _own(root / "mail" / u)
    conf = root / "dovecot.conf"
    conf.write_text(
        f"""
protocols = imap lmtp
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = {min(dc.pw_uid, 1)}
mail_location = maildir:~/Maildir
mail_uid = {dc.pw_uid}
mail_gid = {dc.pw_gid}
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Junk {{
    special_use = \\Junk
    auto = create
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = create
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
  unix_listener lmtp {{
    mode = 0666
  }}
}}
service pop3-login {{
  chroot =
}}
service submission-login {{
  chroot =
}}
service imap {{
  process_limit = 64
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
"""
        + extra_conf
    )
    subprocess.run(["dovecot", "-c", str(conf)], check=True)
    server = Dovecot(root, imap_port, lmtp_port)
    try:
        wait_port(imap_port)
        wait_port(lmtp_port)
    except TimeoutError:
        log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
        server.stop()
        raise RuntimeError(f"dovecot did not start:\n{log[-2000:]}") from None
    return server
