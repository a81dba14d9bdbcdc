"""Draw report.pdf in a second process while the first decrypts, parses and zips the items.

Drawing the PDF is about half of an export's work and fpdf2 is pure Python, so on two cores
this nearly halves the wall time of a large export. The worker is ``python -m
nocontact.export.pdf_worker OUT``, fed pickled items on its stdin by a thread; a bounded queue
limits how far ahead the exporter gets (memory stays flat). Unlike multiprocessing's ``spawn``
it never re-imports the caller's main module, so any program (CLI, web app, script) can
export. The worker writes the PDF beside the bundle's own temporary file; the exporter
deletes it.
"""

from __future__ import annotations

import contextlib
import pickle
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from nocontact.errors import VaultError
from nocontact.export.content import Readable, not_laid_out
from nocontact.export.manifest import ItemRecord
from nocontact.export.report import Cover

JOIN_SECONDS = 600
AHEAD = 2048  # items queued for the worker at most (a few MiB)


class PdfWorker:
    def __init__(self, cover: Cover, records: list[ItemRecord], path: Path) -> None:
        self.path = path
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nocontact.export.pdf_worker", str(path)],
            stdin=subprocess.PIPE,
        )
        # A feeder thread writes to the pipe, so the exporter keeps decrypting while the worker
        # draws the timeline first; the queue bounds how far ahead it gets (memory stays flat).
        self._q: queue.Queue[object] = queue.Queue(maxsize=AHEAD)
        self._error: BaseException | None = None
        self._feeder = threading.Thread(target=self._feed, name="nocontact-pdf-feed", daemon=True)
        self._feeder.start()
        self._put((cover, records))

    def _feed(self) -> None:
        assert self.proc.stdin is not None
        try:
            while True:
                msg = self._q.get()
                pickle.dump(msg, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                if msg is None:  # the end, for the worker too
                    break
            self.proc.stdin.close()
        except (OSError, ValueError) as e:  # the worker died (broken pipe) or was stopped
            self._error = e

    def _put(self, msg: object) -> None:
        while True:
            try:
                self._q.put(msg, timeout=1)
                return
            except queue.Full:
                if not self._feeder.is_alive():
                    raise VaultError("the PDF report could not be written") from self._error

    def item(self, n: int, rec: ItemRecord, view: Readable) -> None:
        self._put((n, rec, view))

    def section(self, title: str, lines: list[str]) -> None:
        """A closing section of plain lines (the protective-order timeline)."""
        self._put(("section", title, lines))

    def finish(self) -> bytes:
        self._put(None)
        self._feeder.join(JOIN_SECONDS)
        code = self.proc.wait(JOIN_SECONDS)
        if self._error is not None or code != 0:
            raise VaultError(f"the PDF report could not be written (exit {code})")
        return self.path.read_bytes()

    def stop(self) -> None:
        """Always called: ends the worker if the export failed, and removes its file."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        with contextlib.suppress(queue.Full):
            self._q.put_nowait(None)  # wakes the feeder if it waits for work
        self._feeder.join(10)
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        self.path.unlink(missing_ok=True)


def _serve(src: IO[bytes], out: Path) -> None:
    from nocontact.export.report_pdf import PdfReport

    cover, records = pickle.load(src)  # noqa: S301  (from our own parent process, over a pipe)
    pdf = PdfReport(cover)
    pdf.timeline(records)
    while (msg := pickle.load(src)) is not None:  # noqa: S301
        if msg[0] == "section":
            pdf.section(msg[1], msg[2])
        else:
            try:
                pdf.item(*msg)
            except Exception as e:  # noqa: BLE001  (one item never stops an export)
                print(
                    f"report.pdf: item {msg[0]} not laid out ({type(e).__name__})", file=sys.stderr
                )
                pdf.item(msg[0], msg[1], not_laid_out())
    out.write_bytes(pdf.output())


if __name__ == "__main__":
    _serve(sys.stdin.buffer, Path(sys.argv[1]))
