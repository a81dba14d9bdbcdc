"""report.pdf with fpdf2 and the DejaVu Sans font shipped in ``fonts/`` (Latin, Greek,
Cyrillic and more; no system library or system font needed), page numbers in the footer.

Lines are wrapped here and placed with ``FPDF.text``: fpdf2's ``multi_cell`` re-measures the
whole line for every character (about 80 ms per item here), far too slow for 10,000 items.
Widths come from a per-character cache, so wrapping costs one lookup per character.
"""

from __future__ import annotations

import logging
from importlib import resources

from fpdf import FPDF
from fpdf.fonts import TTFFont

from nocontact.export.content import Readable
from nocontact.export.manifest import ItemRecord
from nocontact.export.report import INTRO, TIMELINE, Cover, compact_facts, item_title, timeline_row

# fpdf2 logs missing glyphs with the character; that could leak content into our logs
logging.getLogger("fpdf").setLevel(logging.ERROR)

FONT = "DejaVu"
LEFT, TOP, BOTTOM = 15.0, 15.0, 282.0  # A4 in mm; the footer sits below BOTTOM
WIDTH = 180.0
_LEAD = 62.0  # "#", received, channel
_COLUMNS = (60, 38, 20)  # sender, person, contact
FIGURE = "\u2007"
MISSING_GLYPHS = (
    "Some characters of this item (for example Chinese, Japanese or emoji) cannot be drawn "
    "with this PDF's font and are left out here; report.html and the original file show them."
)  # FIGURE SPACE: as wide as a digit
NB = "{total_pages}"  # the page-count alias; long enough to reserve room for 5 digits


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_font(FONT, "", 8)
        # cell(), not text(): only cell() fills in the page-count alias with a Unicode font
        self.set_xy(LEFT, 286)
        self.cell(WIDTH, 6, f"Evidence file · page {self.page_no()} of {NB}", align="C")


class PdfReport:
    def __init__(self, cover: Cover) -> None:
        pdf = _Pdf(format="A4")
        fonts = resources.files("nocontact.export") / "fonts"
        pdf.add_font(FONT, "", str(fonts / "DejaVuSans.ttf"))
        pdf.add_font(FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
        pdf.alias_nb_pages(NB)
        pdf.set_auto_page_break(False)  # placement is ours (see the module docstring)
        pdf.set_title("Evidence file")
        pdf.set_creator("No Contact")
        self.pdf = pdf
        self._widths: dict[tuple[str, float], dict[str, float]] = {}
        self._current: tuple[str, float] = ("", 0.0)
        self.y = TOP
        self._page()
        self._font(9, False)
        font = pdf.current_font
        assert isinstance(font, TTFFont)
        self._glyphs: set[int] = set(font.cmap)
        self.lines("Evidence file", 18, bold=True)
        self.lines(INTRO, 9)
        self.y += 4
        for label, value in cover.facts():
            self.lines(label, 9, bold=True)
            self.lines(value or "—", 9)
            self.y += 1

    def _page(self) -> None:
        self.pdf.add_page()  # the footer switches font: ours must be set again
        self._current = ("", 0.0)
        self.y = TOP

    def _font(self, size: float, bold: bool) -> dict[str, float]:
        style = "B" if bold else ""
        if self._current != (style, size):
            self.pdf.set_font(FONT, style, size)
            self._current = (style, size)
        return self._widths.setdefault((style, size), {})

    def _width(self, cache: dict[str, float], text: str) -> float:
        total = 0.0
        for ch in text:
            w = cache.get(ch)
            if w is None:
                w = cache[ch] = self.pdf.get_string_width(ch)
            total += w
        return total

    def _wrap(self, cache: dict[str, float], text: str, width: float) -> list[str]:
        out: list[str] = []
        for para in text.split("\n"):
            line, line_w = "", 0.0
            for word in para.split(" "):
                word_w = self._width(cache, word)
                space = self._width(cache, " ") if line else 0.0
                if line and line_w + space + word_w <= width:
                    line, line_w = line + " " + word, line_w + space + word_w
                    continue
                if line:
                    out.append(line)
                line, line_w = "", 0.0
                while word_w > width:  # a word longer than the line: break it by characters
                    cut, cut_w = "", 0.0
                    for ch in word:
                        if cut_w + cache[ch] > width:
                            break
                        cut, cut_w = cut + ch, cut_w + cache[ch]
                    out.append(cut)
                    word = word[len(cut) :]
                    word_w = self._width(cache, word)
                line, line_w = word, word_w
            out.append(line)
        return out

    def lines(self, text: str, size: float, *, bold: bool = False, x: float = LEFT) -> None:
        cache = self._font(size, bold)
        height = size * 0.5
        for line in self._wrap(cache, text, LEFT + WIDTH - x):
            if self.y + height > BOTTOM:
                self._page()
            self.y += height
            if line:
                self.pdf.text(x, self.y, line)

    def timeline(self, records: list[ItemRecord]) -> None:
        self._page()
        self.lines("Timeline", 13, bold=True)
        self.y += 2
        cache = self._font(8, False)
        # "#", "Received", "Channel" are drawn as one run per row: DejaVu's digits and the
        # figure space share one width, so the columns line up; the heading is placed to match
        x_received = LEFT + self._width(cache, FIGURE * 5 + "  ")
        x_channel = x_received + self._width(cache, "2026-01-01T00:00:00Z  ")
        for n, r in enumerate(records, start=1):
            if n == 1 or self.y + 4.5 > BOTTOM:
                if n > 1:
                    self._page()
                self.y += 4.5
                self._font(8, True)
                for x, title in zip((LEFT, x_received, x_channel), TIMELINE[:3], strict=True):
                    self.pdf.text(x, self.y, title)
                self._cells(TIMELINE[3:], bold=True)
            num, received, channel, *rest = timeline_row(n, r)
            self.y += 4.5
            self._font(8, False)
            self.pdf.text(LEFT, self.y, f"{num.rjust(5, FIGURE)}  {received}  {channel}")
            self._cells(tuple(rest), bold=False)

    def _cells(self, cells: tuple[str, ...], *, bold: bool) -> None:
        cache = self._font(8, bold)
        x = LEFT + _LEAD
        for text, w in zip(cells, _COLUMNS, strict=True):
            clipped = text
            if self._width(cache, text) > w - 1.5:
                while clipped and self._width(cache, clipped + "…") > w - 1.5:
                    clipped = clipped[:-1]
                clipped += "…"
            self.pdf.text(x, self.y, clipped)
            x += w

    def item(self, n: int, rec: ItemRecord, view: Readable) -> None:
        self._page()
        self.lines(item_title(n, rec), 12, bold=True)
        self.y += 1
        # one text run per line (label and value together): runs are what cost time here
        for line in compact_facts(rec):
            self.lines(line, 8)
        self.y += 2
        for name, value in view.headers:
            self.lines(f"{name}: {value}", 9)
        self.y += 2
        self.lines(view.text or "(no text)", 9)
        notes = [f"Attachment: {a}" for a in view.attachments] + view.notes
        shown = "".join(compact_facts(rec)) + "".join(v for _, v in view.headers) + view.text
        if any(ord(c) not in self._glyphs and c.isprintable() for c in set(shown)):
            notes.append(MISSING_GLYPHS)
        for line in notes:
            self.lines(line, 8)

    def section(self, title: str, lines: list[str]) -> None:
        self._page()
        self.lines(title, 13, bold=True)
        self.y += 2
        for line in lines:
            self.lines(line, 9)

    def output(self) -> bytes:
        return bytes(self.pdf.output())
