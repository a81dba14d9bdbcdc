"""incidents.csv: one row per contact attempt, in the shape a police incident log asks for.

Times are UTC (the server clock at intake), stated in the column names so nobody has to guess.
"""

from __future__ import annotations

import csv
import io
import re

from nocontact.export.manifest import ItemRecord

COLUMNS = (
    "date_utc",
    "time_utc",
    "channel",
    "sender_identifier",
    "sender_name",
    "person",
    "relation",
    "contact",
    "sha256",
    "item_id",
    "file",
)


_PHONE = re.compile(r"\+?[0-9 ().-]*")


def safe_cell(value: str) -> str:
    """Spreadsheets run a cell starting with = + - @ as a formula (CWE-1236); phone numbers
    such as +447700900123 stay as they are."""
    if value[:1] in ("=", "+", "-", "@", "\t", "\r") and not _PHONE.fullmatch(value):
        return "'" + value
    return value


class IncidentLog:
    """Collects rows as items stream past; small (ids and identifiers only)."""

    def __init__(self) -> None:
        self._buf = io.StringIO(newline="")
        self._csv = csv.writer(self._buf, lineterminator="\r\n")
        self._csv.writerow(COLUMNS)

    def add(self, rec: ItemRecord) -> None:
        date, _, time = rec.received_at.partition("T")
        self._csv.writerow(
            [
                date,
                time.rstrip("Z")[:8],
                rec.channel,
                safe_cell(rec.sender),
                safe_cell(rec.sender_name),
                safe_cell(rec.person),
                rec.relation,
                rec.contact,
                rec.sha256,
                str(rec.id),
                rec.file,
            ]
        )

    def data(self) -> bytes:
        return self._buf.getvalue().encode("utf-8")
