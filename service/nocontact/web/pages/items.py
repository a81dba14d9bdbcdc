"""The parts of an item page that the browser fetches on its own: the body frame and files.

The body is its own document under ``Content-Security-Policy: default-src 'none'`` and is
framed with ``sandbox`` (no scripts, no forms, no navigation). Attachments download only on a
click, as ``application/octet-stream`` with ``attachment`` disposition, so none renders inline.
"""

from __future__ import annotations

import re
import urllib.parse

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import Response

from nocontact.web.access import read_item
from nocontact.web.deps import AnyUserDep, rt_of
from nocontact.web.render import attachment, frame_document, show
from nocontact.web.security import BODY_CSP, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])


@router.get("/items/{item_id}/body")
def body(request: Request, cur: AnyUserDep, item_id: int) -> Response:
    item, raw, meta = read_item(request, cur, item_id, "body_viewed")
    shown = show(item.channel, raw, meta, rt_of(request).config.limits.read())
    return Response(
        frame_document(shown.body_html),
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": BODY_CSP, "X-Frame-Options": "SAMEORIGIN"},
    )


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._ -]", "_", name).strip(" .") or "attachment"
    return cleaned[:100]


@router.get("/items/{item_id}/files/{index}")
def file(request: Request, cur: AnyUserDep, item_id: int, index: int) -> Response:
    item, raw, _meta = read_item(request, cur, item_id, "attachment_opened")
    limits = rt_of(request).config.limits.read()
    found = attachment(raw, index, limits) if item.channel == "email" else None
    if found is None:
        raise HTTPException(status_code=404)
    name, data = found
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{_safe_name(name)}"; '
            f"filename*=UTF-8''{urllib.parse.quote(name, safe='')}",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
