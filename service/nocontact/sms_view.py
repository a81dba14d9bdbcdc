"""One reading of a kept text message for people to look at: its words, wherever the gateway
put them. Used by the web pages and the evidence report; never raises. The evidence is the
gateway's request, kept whole elsewhere."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

from nocontact import decoding
from nocontact.decoding import Text

TEXT_KEYS = ("Body", "text", "message", "content", "Text", "Message", "body")
SEARCH_DEPTH = 5  # how deep into a gateway's JSON the words are looked for
SEARCH_WIDTH = 20  # items of each list looked at


def _values(obj: Any, key: str, depth: int = 0) -> Iterator[str]:
    """Every string under ``key`` in a gateway's JSON, shallowest first."""
    if depth > SEARCH_DEPTH:
        return
    children: list[Any] = []
    if isinstance(obj, dict):
        if isinstance(obj.get(key), str):
            yield str(obj[key])
        children = list(obj.values())[:SEARCH_WIDTH]
    elif isinstance(obj, list):
        children = obj[:SEARCH_WIDTH]
    for child in children:
        yield from _values(child, key, depth + 1)


def _json(raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except Exception:  # noqa: BLE001  (not JSON, or nested too deep to read)
        return None


def find_text(obj: Any, depth: int = 0) -> str | None:
    """The message text, wherever the gateway puts it (Twilio ``Body``, Telnyx
    ``data.payload.text``, android-sms-gateway ``payload.message``, …). A raw request body
    kept as a string is parsed as JSON or as a form and searched in turn."""
    for key in TEXT_KEYS:
        for value in _values(obj, key):
            if key != "body" or depth > 1:
                return value
            inner = _json(value)
            if inner is None:
                inner = dict(urllib.parse.parse_qsl(value, errors="replace"))
            found = find_text(inner, depth + 1) if inner else None
            return found if found is not None else value
    return None


def sms_text(raw: bytes, meta_text: str | None, *, limit: int) -> tuple[Text, bool]:
    """(the words, whether they were found in the request rather than shown as received)."""
    text = meta_text
    if text is None:
        text = find_text(_json(raw))
    found = text is not None
    lossy = False
    if text is None:
        decoded = decoding.decode_bytes(raw, "utf-8")
        text, lossy = decoded.text, decoded.lossy
    cleaned = decoding.clean(text[: limit + 1], one_line=False)
    shortened = len(cleaned) > limit
    return Text(cleaned[:limit], lossy or "\ufffd" in cleaned, shortened), found


def sender(value: object) -> str:
    return decoding.line(value, limit=200)
