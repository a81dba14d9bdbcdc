"""The hostile corpus (tests/data/hostile/index.json) and how each item is offered to a channel.

``index.json`` lists ``{"file", "kind": "email"|"sms", "expect": "kept"|"refused"|"not_kept",
"note"}``. An email is the raw bytes of ``email/*.eml``, where the placeholder ``CANARY`` stands
for the loopback canary's ``127.0.0.1:PORT``. A text is ``sms/*.json``: ``{"gateway",
"content_type", "body_base64", "expect", "note"}``; the test signs the body as that gateway does
(``tests/channels/sms/signers.py``). Until the corpus exists, a few items of our own stand in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from tests.channels.sms import signers
from tests.channels.sms.conftest import (
    GENERIC_KEY,
    HTTPSMS_KEY,
    SMSGATE_KEY,
    TELNYX_KEY,
    TWILIO_TOKEN,
)

DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS = DATA / "hostile"
INDEX = CORPUS / "index.json"
PLACEHOLDER = b"CANARY"

ABUSER_NAME = "Jordan Reed"
ABUSER_EMAIL = "jordan@example.org"
ABUSER_PHONE = "+447700900123"

# the URL path of each gateway's webhook (the corpus names them as the config does)
WEBHOOK = {
    "twilio": "twilio",
    "telnyx": "telnyx",
    "android_gateway": "android-gateway",
    "httpsms": "httpsms",
    "generic": "generic",
}


@dataclass(frozen=True)
class Item:
    file: str  # as in index.json: "email/07-raw-utf8-from.eml", "sms/03-twilio.json"
    kind: str  # email | sms
    expect: str  # kept | refused | not_kept
    note: str
    raw: bytes  # email: the message with CANARY unreplaced; sms: the request body
    gateway: str = ""  # sms only
    content_type: str = ""  # sms only

    def __repr__(self) -> str:  # (pytest shows parameters; some are megabytes)
        return f"<Item {self.file}>"

    def body(self, canary_hostport: str) -> bytes:
        return self.raw.replace(PLACEHOLDER, canary_hostport.encode())


def load() -> list[Item]:
    if not INDEX.is_file():
        return own_items()
    items = []
    for entry in json.loads(INDEX.read_text()):
        path = CORPUS / entry["file"]
        if entry["kind"] == "email":
            items.append(
                Item(
                    entry["file"],
                    "email",
                    entry["expect"],
                    entry.get("note", ""),
                    path.read_bytes(),
                )
            )
        else:
            doc = json.loads(path.read_text())
            items.append(
                Item(
                    entry["file"],
                    "sms",
                    entry.get("expect", doc.get("expect", "")),
                    entry.get("note", doc.get("note", "")),
                    base64.b64decode(doc["body_base64"]),
                    doc["gateway"],
                    doc.get("content_type", ""),
                )
            )
    return items


def _mail(sender: bytes, subject: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"From: " + sender + b"\r\nTo: alice@example.org\r\nSubject: " + subject + b"\r\n"
        b"Message-ID: <"
        + hashlib.sha1(sender + subject + body).hexdigest().encode()
        + b"@hostile.test>\r\nDate: Thu, 26 Nov 2026 05:00:00 +0000\r\n"
        + extra
        + b"\r\n"
        + body
    )


def own_items() -> list[Item]:
    """Stand-ins until the corpus lands: malformed MIME, raw UTF-8 headers, a tracking HTML
    body pointing at the canary, and texts for two gateways."""
    html = (
        b'<html><body><img src="http://CANARY/img.gif"><p>Look at me</p>'
        b'<a href="http://CANARY/click">x</a><style>@import "http://CANARY/s.css";</style>'
        b"</body></html>"
    )
    twilio = signers.twilio_body(
        {
            "MessageSid": "SMhostile0001",
            "AccountSid": "AC" + "1" * 32,
            "From": ABUSER_PHONE,
            "To": "+447700900300",
            "Body": "J\u00f6rdan here \u202e\u0000 call me",
            "NumMedia": "0",
        }
    )
    generic_ok = json.dumps(
        {"id": "hostile-g1", "from": "07700 900123", "text": "\U0001f600" * 50}
    ).encode()
    return [
        Item("email/own-malformed.eml", "email", "kept", "", (DATA / "malformed.eml").read_bytes()),
        Item(
            "email/own-raw-utf8-from.eml",
            "email",
            "kept",
            "raw UTF-8 in From",
            _mail("J\u00f6rdan <jordan@example.org>".encode(), b"hi", b"hello\r\n"),
        ),
        Item(
            "email/own-tracking.eml",
            "email",
            "kept",
            "tracking HTML",
            _mail(
                b"Jordan Reed <jordan@example.org>",
                b"=?utf-8?q?tracked?=",
                html + b"\r\n",
                b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n",
            ),
        ),
        Item(
            "email/own-stranger.eml",
            "email",
            "not_kept",
            "unrelated mail",
            _mail(b"Library <news@library.example>", b"hours", b"Open late.\r\n..dot\r\n"),
        ),
        Item(
            "sms/own-twilio.json",
            "sms",
            "kept",
            "",
            twilio,
            "twilio",
            "application/x-www-form-urlencoded",
        ),
        Item("sms/own-generic.json", "sms", "kept", "", generic_ok, "generic", "application/json"),
        Item(
            "sms/own-generic-bad.json",
            "sms",
            "refused",
            "",
            b"{not json",
            "generic",
            "application/json",
        ),
    ]


# --- signing a text as its gateway does ----------------------------------------------------


def sign(item: Item, body: bytes, base_url: str) -> tuple[str, dict[str, str]]:
    """The path to post to (with any query) and the headers the gateway would send."""
    name = WEBHOOK[item.gateway]
    path = f"/webhooks/sms/{name}"
    url = base_url + path
    if item.gateway == "twilio":
        if item.content_type.startswith("application/json"):
            # Twilio signs a JSON body through the URL: ?bodySHA256=<hex>, signature over the URL
            path += "?bodySHA256=" + hashlib.sha256(body).hexdigest()
            headers = signers.twilio(TWILIO_TOKEN, base_url + path, {})
        else:
            headers = _twilio_form(body, url)
    elif item.gateway == "telnyx":
        headers = signers.telnyx(TELNYX_KEY, body)
    elif item.gateway == "android_gateway":
        headers = signers.smsgate(SMSGATE_KEY, body)
    elif item.gateway == "httpsms":
        headers = signers.httpsms(HTTPSMS_KEY, url)
    elif item.gateway == "generic":
        headers = signers.generic(GENERIC_KEY, body)
    else:
        raise ValueError(f"unknown gateway {item.gateway!r} in {item.file}")
    if item.content_type:
        headers["Content-Type"] = item.content_type
    return path, headers


def _twilio_form(body: bytes, url: str) -> dict[str, str]:
    """Twilio's documented scheme over every POST field, repeated names included (Twilio's
    own helper sorts by name, then by value)."""
    import base64 as b64
    import hmac

    try:
        params = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        params = []  # Twilio sends UTF-8; a body that is not cannot be signed field by field
    data = url + "".join(k + v for k, v in sorted(params))
    sig = b64.b64encode(hmac.new(TWILIO_TOKEN.encode(), data.encode(), hashlib.sha1).digest())
    return {"X-Twilio-Signature": sig.decode(), "Content-Type": "application/x-www-form-urlencoded"}


# --- a plain SMTP client that sends exactly the bytes it is given ---------------------------


@dataclass(frozen=True)
class SmtpResult:
    code: int  # the reply to the end of DATA (or to the step that failed)
    text: str
    stored: bytes  # what the server must have received: DATA after dot-unstuffing


def smtp_send(port: int, mail_from: str, rcpt: str, data: bytes, timeout: float = 60) -> SmtpResult:
    """One transaction; dot-stuffing by hand (RFC 5321 4.5.2) so nothing else is changed.
    A message that does not end in CRLF gets one, which then belongs to the message."""
    stored = data if data.endswith(b"\r\n") else data + b"\r\n"
    lines = stored[:-2].split(b"\r\n")
    stuffed = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        f = s.makefile("rb")

        def reply() -> tuple[int, str]:
            text = []
            while True:
                line = f.readline()
                if not line:
                    return 0, "connection closed"
                text.append(line.decode("utf-8", "replace").rstrip())
                if line[3:4] != b"-":
                    return int(line[:3]), "\n".join(text)

        def step(cmd: bytes, want: int) -> tuple[int, str] | None:
            s.sendall(cmd + b"\r\n")
            code, text = reply()
            return None if code == want else (code, text)

        code, text = reply()
        if code != 220:
            return SmtpResult(code, text, stored)
        eight = any(b > 127 for b in data)
        for cmd, want in (
            (b"EHLO hostile.test", 250),
            (
                b"MAIL FROM:<" + mail_from.encode() + b">" + (b" BODY=8BITMIME" if eight else b""),
                250,
            ),
            (b"RCPT TO:<" + rcpt.encode() + b">", 250),
            (b"DATA", 354),
        ):
            failed = step(cmd, want)
            if failed is not None:
                return SmtpResult(failed[0], f"{cmd.split()[0].decode()}: {failed[1]}", stored)
        s.sendall(stuffed + b"\r\n.\r\n")
        code, text = reply()
        try:
            s.sendall(b"QUIT\r\n")
            reply()
        except OSError:
            pass
        return SmtpResult(code, text, stored)
