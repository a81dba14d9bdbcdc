"""report.pdf and report.html: the same content for a reader who will not open the originals.

A cover page (who exported, when, the scope, counts, the digests that tie the report to the
signed manifest), a timeline table, then one section per item with its headers, text, hashes.
The PDF uses the DejaVu Sans font shipped in ``fonts/`` (Cyrillic, Greek, Latin and more), so
no system library or system font is needed. The HTML has no script and loads nothing: its
Content-Security-Policy forbids every remote load, and message HTML arrives as plain text.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from importlib import resources
from typing import IO, Any

from fpdf import FPDF

from nocontact.export.content import Readable
from nocontact.export.manifest import ItemRecord

# fpdf2 logs missing glyphs with the character; that could leak content into our logs
logging.getLogger("fpdf").setLevel(logging.ERROR)

FONT = "DejaVu"


@dataclass(frozen=True)
class Cover:
    household: str
    exported_by: str
    exported_at: str
    scope: str
    counts: list[tuple[str, str]]
    items_sha256: str
    ledger_seq: int
    ledger_head: str
    key_fingerprint: str

    def facts(self) -> list[tuple[str, str]]:
        return [
            ("Household", self.household),
            ("Exported by", self.exported_by),
            ("Exported at (UTC)", self.exported_at),
            ("Scope", self.scope),
            *self.counts,
            ("Items digest (items_sha256 in manifest.json)", self.items_sha256),
            ("Ledger entries up to this export", str(self.ledger_seq)),
            ("Ledger head", self.ledger_head),
            ("Signing key (SHA-256 of public-key.pem)", self.key_fingerprint),
        ]


INTRO = (
    "This report is a readable copy. The evidence is the original files in items/, byte for "
    "byte as received. manifest.json lists every file with its SHA-256 and is signed "
    "(manifest.sig); VERIFY.txt explains how to check all of it with sha256sum and openssl."
)
TIMELINE = ("#", "Received (UTC)", "Channel", "Sender", "Person", "Contact")
_WIDTHS = (12, 36, 14, 58, 40, 20)


class _Pdf(FPDF):
    def multi_cell(self, *args: Any, **kwargs: Any) -> Any:
        # fpdf2 justifies by default; evidence text reads better (and extracts cleaner) left-aligned
        kwargs.setdefault("align", "L")
        return super().multi_cell(*args, **kwargs)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.cell(0, 6, f"Evidence file · page {self.page_no()} of {{nb}}", align="C")


def _clip(pdf: FPDF, text: str, width: float) -> str:
    if pdf.get_string_width(text) <= width - 2:
        return text
    while text and pdf.get_string_width(text + "…") > width - 2:
        text = text[:-1]
    return text + "…"


class PdfReport:
    def __init__(self, cover: Cover) -> None:
        pdf = _Pdf(format="A4")
        fonts = resources.files("nocontact.export") / "fonts"
        pdf.add_font(FONT, "", str(fonts / "DejaVuSans.ttf"))
        pdf.add_font(FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
        pdf.set_auto_page_break(True, margin=16)
        pdf.set_title("Evidence file")
        pdf.set_creator("No Contact")
        self.pdf = pdf
        pdf.add_page()
        pdf.set_font(FONT, "B", 18)
        pdf.multi_cell(0, 10, "Evidence file", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 9)
        pdf.multi_cell(0, 5, INTRO, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        for label, value in cover.facts():
            self._fact(label, value)

    def _fact(self, label: str, value: str) -> None:
        pdf = self.pdf
        pdf.set_font(FONT, "B", 9)
        pdf.multi_cell(0, 5, label, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 9)
        pdf.multi_cell(0, 5, value or "—", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    def timeline(self, records: list[ItemRecord]) -> None:
        pdf = self.pdf
        pdf.add_page()
        pdf.set_font(FONT, "B", 13)
        pdf.cell(0, 9, "Timeline", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "B", 8)
        for title, w in zip(TIMELINE, _WIDTHS, strict=True):
            pdf.cell(w, 6, title, border="B")
        pdf.ln()
        pdf.set_font(FONT, "", 8)
        for n, r in enumerate(records, start=1):
            row = (str(n), r.received_at, r.channel, r.sender, r.person or "—", r.contact)
            for text, w in zip(row, _WIDTHS, strict=True):
                pdf.cell(w, 5, _clip(pdf, text, w))
            pdf.ln()

    def item(self, n: int, rec: ItemRecord, view: Readable) -> None:
        pdf = self.pdf
        pdf.add_page()
        pdf.set_font(FONT, "B", 12)
        pdf.multi_cell(
            0, 7, f"Item {n}: {rec.channel}, {rec.received_at}", new_x="LMARGIN", new_y="NEXT"
        )
        for label, value in _item_facts(rec):
            pdf.set_font(FONT, "B", 8)
            pdf.cell(34, 4.5, label)
            pdf.set_font(FONT, "", 8)
            pdf.multi_cell(0, 4.5, value, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        for name, value in view.headers:
            pdf.set_font(FONT, "B", 9)
            pdf.cell(24, 5, name + ":")
            pdf.set_font(FONT, "", 9)
            pdf.multi_cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        pdf.set_font(FONT, "", 9)
        pdf.multi_cell(0, 4.6, view.text or "(no text)", new_x="LMARGIN", new_y="NEXT")
        for line in [f"Attachment: {a}" for a in view.attachments] + view.notes:
            pdf.set_font(FONT, "", 8)
            pdf.multi_cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _item_facts(rec: ItemRecord) -> list[tuple[str, str]]:
    sender = f"{rec.sender_name} <{rec.sender}>" if rec.sender_name else rec.sender
    return [
        ("Sender", sender or "—"),
        ("Person", f"{rec.person} ({rec.relation})" if rec.person else "not on the list"),
        ("Contact", rec.contact),
        ("File", rec.file),
        ("SHA-256", rec.sha256),
        ("Ledger entry", str(rec.ledger_seq)),
        ("Item id", str(rec.id)),
    ]


_STYLE = (
    "body{font-family:'DejaVu Sans',sans-serif;max-width:52em;margin:2em auto;padding:0 1em;"
    "line-height:1.45}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid "
    "#ccc;padding:.2em .4em;text-align:left;vertical-align:top;font-size:.9em}"
    "section{border-top:2px solid #444;margin-top:2em}pre{white-space:pre-wrap;"
    "word-break:break-word}.h{word-break:break-all;font-family:monospace}"
)
# nothing is loaded from anywhere; inline style only, no script (report.html may be opened
# on any machine, and message text must never reach out to the sender)
CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


class HtmlReport:
    """Written straight to a stream as items pass, so a large export stays small in memory."""

    def __init__(self, out: IO[str], cover: Cover) -> None:
        self.out = out
        w = out.write
        w('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n')
        w(f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n')
        w('<meta name="referrer" content="no-referrer">\n')
        w(f"<title>Evidence file</title><style>{_STYLE}</style></head><body>\n")
        w(f"<h1>Evidence file</h1>\n<p>{_e(INTRO)}</p>\n<dl>\n")
        for label, value in cover.facts():
            w(f'<dt>{_e(label)}</dt><dd class="h">{_e(value)}</dd>\n')
        w("</dl>\n")

    def timeline(self, records: list[ItemRecord]) -> None:
        w = self.out.write
        w("<h2>Timeline</h2>\n<table><thead><tr>")
        w("".join(f"<th>{_e(t)}</th>" for t in TIMELINE) + "</tr></thead><tbody>\n")
        for n, r in enumerate(records, start=1):
            row = (r.received_at, r.channel, r.sender, r.person or "—", r.contact)
            cells = "".join(f"<td>{_e(c)}</td>" for c in row)
            w(f'<tr><td><a href="#item-{n}">{n}</a></td>{cells}</tr>\n')
        w("</tbody></table>\n")

    def item(self, n: int, rec: ItemRecord, view: Readable) -> None:
        w = self.out.write
        w(f'<section id="item-{n}"><h2>Item {n}: {_e(rec.channel)}, {_e(rec.received_at)}</h2>')
        w("<table>")
        for label, value in _item_facts(rec):
            w(f'<tr><th>{_e(label)}</th><td class="h">{_e(value)}</td></tr>')
        w("</table>\n<table>")
        for name, value in view.headers:
            w(f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>")
        w(f"</table>\n<pre>{_e(view.text or '(no text)')}</pre>\n")
        for line in [f"Attachment: {a}" for a in view.attachments] + view.notes:
            w(f"<p>{_e(line)}</p>")
        w("</section>\n")

    def finish(self) -> None:
        self.out.write("</body></html>\n")
