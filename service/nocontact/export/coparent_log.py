"""coparent-log.csv: every recorded co-parent message, for a family court.

One row per message, oldest first, with the file in ``items/`` and its SHA-256 so each row can
be checked against the original. Times are UTC (the server clock at intake), as in
incidents.csv.
"""

from __future__ import annotations

import csv
import io

from nocontact.export.incidents import safe_cell
from nocontact.export.manifest import ItemRecord

COPARENT_LOG = "coparent-log.csv"
COLUMNS = ("date_utc", "time_utc", "channel", "person", "sha256", "file")


class CoparentLog:
    def __init__(self) -> None:
        self._buf = io.StringIO(newline="")
        self._csv = csv.writer(self._buf, lineterminator="\r\n")
        self._csv.writerow(COLUMNS)

    def add(self, rec: ItemRecord) -> None:
        date, _, time = rec.received_at.partition("T")
        row = [date, time.rstrip("Z")[:8], rec.channel, safe_cell(rec.person), rec.sha256]
        self._csv.writerow([*row, rec.file])

    def data(self) -> bytes:
        return self._buf.getvalue().encode("utf-8")
