"""Draw report.pdf in a second process while the first decrypts, parses and zips the items.

Drawing the PDF is about half of an export's work and fpdf2 is pure Python, so on two cores
this nearly halves the wall time of a large export. The worker is ``python -m
nocontact.export.pdf_worker OUT``, fed pickled items on its stdin: the pipe's small buffer
bounds what is in flight (memory stays flat), and unlike multiprocessing's ``spawn`` it never
re-imports the caller's main module, so any program (CLI, web app, script) can export. The
worker writes the PDF beside the bundle's own temporary file; the exporter deletes it.
"""

from __future__ import annotations

import contextlib
import pickle
import subprocess
import sys
from pathlib import Path
from typing import IO

from nocontact.errors import VaultError
from nocontact.export.content import Readable
from nocontact.export.manifest import ItemRecord
from nocontact.export.report import Cover

JOIN_SECONDS = 600


class PdfWorker:
    def __init__(self, cover: Cover, records: list[ItemRecord], path: Path) -> None:
        self.path = path
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nocontact.export.pdf_worker", str(path)],
            stdin=subprocess.PIPE,
        )
        self._send((cover, records))

    def _send(self, msg: object) -> None:
        assert self.proc.stdin is not None
        try:
            pickle.dump(msg, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        except (BrokenPipeError, OSError) as e:
            raise VaultError("the PDF report could not be written") from e

    def item(self, n: int, rec: ItemRecord, view: Readable) -> None:
        self._send((n, rec, view))

    def finish(self) -> bytes:
        self._send(None)
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(JOIN_SECONDS)
        if code != 0:
            raise VaultError(f"the PDF report could not be written (exit {code})")
        return self.path.read_bytes()

    def stop(self) -> None:
        """Always called: ends the worker if the export failed, and removes its file."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        self.path.unlink(missing_ok=True)


def _serve(src: IO[bytes], out: Path) -> None:
    from nocontact.export.report_pdf import PdfReport

    cover, records = pickle.load(src)  # noqa: S301  (from our own parent process, over a pipe)
    pdf = PdfReport(cover)
    pdf.timeline(records)
    while (msg := pickle.load(src)) is not None:  # noqa: S301
        pdf.item(*msg)
    out.write_bytes(pdf.output())


if __name__ == "__main__":
    _serve(sys.stdin.buffer, Path(sys.argv[1]))
