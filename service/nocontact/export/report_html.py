"""report.html: self-contained, no script, loads nothing. Its Content-Security-Policy forbids
every remote load, and message HTML arrives here already reduced to escaped plain text.
Written straight to a stream as items pass, so a large export stays small in memory."""

from __future__ import annotations

import html
from typing import IO

from nocontact.export.content import Readable
from nocontact.export.manifest import ItemRecord
from nocontact.export.report import INTRO, TIMELINE, Cover, item_facts, item_title, timeline_row

_STYLE = (
    "body{font-family:'DejaVu Sans',sans-serif;max-width:52em;margin:2em auto;padding:0 1em;"
    "line-height:1.45}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid "
    "#ccc;padding:.2em .4em;text-align:left;vertical-align:top;font-size:.9em}"
    "section{border-top:2px solid #444;margin-top:2em}pre{white-space:pre-wrap;"
    "word-break:break-word}.h{word-break:break-all;font-family:monospace}"
)
CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


class HtmlReport:
    def __init__(self, out: IO[str], cover: Cover) -> None:
        self.out = out
        w = out.write
        w('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n')
        w(f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n')
        w('<meta name="referrer" content="no-referrer">\n')
        w(f"<title>Evidence file</title><style>{_STYLE}</style></head><body>\n")
        w(f"<h1>Evidence file</h1>\n<p>{_e(INTRO)}</p>\n<dl>\n")
        for label, value in cover.facts():
            w(f'<dt>{_e(label)}</dt><dd class="h">{_e(value or "—")}</dd>\n')
        w("</dl>\n")

    def timeline(self, records: list[ItemRecord]) -> None:
        w = self.out.write
        w("<h2>Timeline</h2>\n<table><thead><tr>")
        w("".join(f"<th>{_e(t)}</th>" for t in TIMELINE) + "</tr></thead><tbody>\n")
        for n, r in enumerate(records, start=1):
            first, *rest = timeline_row(n, r)
            cells = "".join(f"<td>{_e(c)}</td>" for c in rest)
            w(f'<tr><td><a href="#item-{n}">{first}</a></td>{cells}</tr>\n')
        w("</tbody></table>\n")

    def item(self, n: int, rec: ItemRecord, view: Readable) -> None:
        """One section, written whole or not at all (so a fallback section never follows half
        of one)."""
        parts = [f'<section id="item-{n}"><h2>{_e(item_title(n, rec))}</h2><table>']
        for label, value in item_facts(rec):
            parts.append(f'<tr><th>{_e(label)}</th><td class="h">{_e(value)}</td></tr>')
        parts.append("</table>\n<table>")
        for name, value in view.headers:
            parts.append(f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>")
        parts.append(f"</table>\n<pre>{_e(view.text or '(no text)')}</pre>\n")
        for line in [f"Attachment: {a}" for a in view.attachments] + view.notes:
            parts.append(f"<p>{_e(line)}</p>")
        parts.append("</section>\n")
        self.out.write("".join(parts))

    def finish(self) -> None:
        self.out.write("</body></html>\n")
