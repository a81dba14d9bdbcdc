"""MMS media: fetched into the vault with the text that carried it, where the provider allows.

The media go into the item's sealed metadata (base64, bounded by ``[sms] max_media_bytes`` per
text) rather than separate blobs: the intake already seals that metadata with the item's key,
so no change to the vault format is needed. Every URL is recorded even when fetching fails or
is over the limit, so the evidence says what was there.

A text that says where its media may come from (``InboundText.media_origins``: Twilio's hosts)
gets nothing fetched from anywhere else, with or without its basic auth: a URL there can only
come from a request split another way (``twilio``), and fetching it would tell its writer
that the text arrived, and give them the auth token.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Any
from urllib.parse import urlsplit

import httpx

from nocontact.channels.sms.gateway import InboundText

log = logging.getLogger(__name__)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def fetch_media(text: InboundText, budget: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    auth = httpx.BasicAuth(*text.media_auth) if text.media_auth else None
    with httpx.Client(timeout=TIMEOUT, follow_redirects=True, auth=auth) as client:
        for i, url in enumerate(text.media):
            entry: dict[str, Any] = {"url": url}
            out.append(entry)
            if not url.startswith(("https://", "http://")):
                entry["error"] = "not an http(s) URL"
                continue
            if text.media_origins is not None and not allowed(url, text.media_origins):
                entry["error"] = "not the provider's media host"
                continue
            try:
                data, ctype = _get(client, url, budget)
            except (httpx.HTTPError, _TooLarge) as e:
                # ids only in the log: the URL itself may identify the sender
                log.warning(
                    "sms media %s of %s not fetched: %s", i, text.source_key, type(e).__name__
                )
                entry["error"] = "too large" if isinstance(e, _TooLarge) else type(e).__name__
                continue
            budget -= len(data)
            entry.update(
                content_type=ctype,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                data_base64=base64.b64encode(data).decode(),
            )
    return out


def allowed(url: str, origins: tuple[str, ...]) -> bool:
    """Whether ``url`` is at one of ``origins`` (``scheme://host[:port]``, or
    ``scheme://*.domain`` for any host under that domain)."""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return False
    if not host or parts.username is not None or parts.password is not None:
        return False
    for origin in origins:
        o = urlsplit(origin)
        if o.scheme != parts.scheme:
            continue
        if o.netloc.startswith("*."):
            if port is None and host.endswith(o.netloc[1:].lower()):
                return True
        elif (o.hostname or "").lower() == host and o.port == port:
            return True
    return False


class _TooLarge(Exception):
    pass


def _get(client: httpx.Client, url: str, budget: int) -> tuple[bytes, str]:
    with client.stream("GET", url) as resp:
        resp.raise_for_status()
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > budget:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks), resp.headers.get("content-type", "application/octet-stream")
