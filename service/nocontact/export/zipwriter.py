"""The bundle's ZIP, written entry by entry, remembering each file's SHA-256 for the manifest.

Entries are deflated, dated with the export time, and written as they come (``writestr`` for
one original at a time, ``open(…, "w")`` to stream a large report), so memory stays flat.
"""

from __future__ import annotations

import hashlib
import zipfile
from datetime import datetime
from typing import IO


class ZipWriter:
    """A ZIP being written, remembering the SHA-256 of every file put in it."""

    def __init__(self, fileobj: IO[bytes], when: datetime) -> None:
        self.zf = zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self.stamp = when.timetuple()[:6]
        self.files: dict[str, str] = {}

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def put(self, name: str, data: bytes, *, listed: bool = True) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.zf.writestr(self._info(name), data)
        if listed:
            self.files[name] = sha
        return sha

    def put_stream(self, name: str, src: IO[bytes]) -> str:
        h = hashlib.sha256()
        with self.zf.open(self._info(name), "w", force_zip64=True) as dst:
            while chunk := src.read(1 << 16):
                h.update(chunk)
                dst.write(chunk)
        self.files[name] = h.hexdigest()
        return self.files[name]
