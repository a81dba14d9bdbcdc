"""The bundle's ZIP, read without trusting it (APPNOTE.TXT 6.3 is the format).

``zipfile`` believes what a ZIP says about itself: it builds an object for every directory
record before anyone can count them, lets two records share a name (``open`` returns the last),
follows no rule about overlapping data, and inflates whatever the sizes say. A bundle checked
by ``nocontact verify`` may come from anyone, so it is read here instead, in two steps:

1. The central directory is walked once, record by record, before a byte of any file is
   inflated. Refused there: more than ``MAX_ENTRIES`` records or ``MAX_DIRECTORY_BYTES``; a
   name that is empty, absolute or climbs out with ``..``; the same name twice (or twice once
   case is ignored, as on Windows and macOS); an encrypted entry; a symbolic link or device; a
   compression other than stored or deflate; a size over ``MAX_ENTRY_BYTES``; a ZIP bomb (over
   ``BOMB_FLOOR`` and more than ``MAX_RATIO`` times its compressed size); entries whose data
   overlap (one stored copy counted many times) or run into the directory.
2. A file is read as a stream, in chunks, and never trusts its header: inflating stops one
   byte past the size the directory declares, the deflate stream must end exactly where its
   compressed size says, and the CRC-32 must match. Memory stays flat whatever the sizes.

The limits, and why. A manifest lists ~600 bytes per item, so the verifier's 64 MiB manifest
limit holds about 110,000 items; a bundle has one entry per item plus a dozen fixed files, and
a Mac that re-zips it may add a ``__MACOSX/._name`` entry per file: ``MAX_ENTRIES`` (200,000)
covers about 100,000 items even then. A directory record is ~100 bytes (46 fixed, a name of
~50, a few extra fields): 32 MiB for 200,000 of them bounds the names too. At both limits the
directory takes about 100 MB of memory, and the whole check stays under 200 MB. Originals
are at most 50 MiB by default (``max_message_bytes``) and the reports grow with the items;
4 GiB per file is far above either. Deflate reaches 1,032:1, and a message of one repeated
character is real evidence that compresses that well, so only a file that is also larger than
any original (64 MiB) counts as a bomb.
"""

from __future__ import annotations

import io
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from nocontact.errors import NoContactError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MAX_ENTRIES = 200_000
MAX_DIRECTORY_BYTES = 32 << 20
MAX_ENTRY_BYTES = 4 << 30
BOMB_FLOOR = 64 << 20
MAX_RATIO = 100
CHUNK = 1 << 16

STORED, DEFLATED = 0, 8
_ENCRYPTED_FLAGS = 0x0001 | 0x0040 | 0x2000  # traditional, strong, central directory (4.4.4)
_UTF8_FLAG = 0x0800
_MAX16, _MAX32 = 0xFFFF, 0xFFFFFFFF

_EOCD = struct.Struct("<4sHHHHIIH")  # end of central directory record (4.3.16)
_LOCATOR = struct.Struct("<4sIQI")  # ZIP64 end of central directory locator (4.3.15)
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")  # ZIP64 end of central directory record (4.3.14)
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")  # central directory file header (4.3.12)
_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # local file header (4.3.7)


class BundleFault(NoContactError):
    """The bundle does not verify; the message names the first fault."""


@dataclass(slots=True)
class Entry:
    name: str
    utf8: bool  # the name's encoding: UTF-8, or else code page 437 (APPNOTE 4.4.4, bit 11)
    method: int
    crc: int
    csize: int  # compressed size, from the central directory
    size: int  # uncompressed size, from the central directory
    offset: int  # of the local header
    end: int = 0  # where the next entry (or the directory) starts: its data stops before


def size_text(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n:,} bytes"


class Zip:
    """A ZIP whose directory passed every check; ``open`` streams one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as f:
            self.entries = _directory(f, path)

    def names(self) -> list[str]:
        return [n for n in self.entries if not n.endswith("/")]

    def size(self, name: str) -> int:
        return self.entries[name].size

    def open(self, name: str) -> IO[bytes]:
        entry = self.entries[name]
        f = open(self.path, "rb")  # noqa: SIM115  (closed with the stream)
        try:
            start = _data_start(f, entry)
        except BaseException:
            f.close()
            raise
        return io.BufferedReader(_Inflating(f, entry, start), CHUNK)


def _fault(message: str) -> BundleFault:
    return BundleFault(message)


def _end(f: BinaryIO, path: Path) -> tuple[int, int, int, int]:
    """(entries, directory size, directory offset, where the directory must end)."""
    file_size = f.seek(0, io.SEEK_END)
    back = min(file_size, _EOCD.size + _MAX16)
    f.seek(file_size - back)
    tail = f.read(back)
    at = tail.rfind(b"PK\x05\x06")
    # the last record whose comment reaches exactly to the end of the file (a comment may
    # itself contain the signature)
    while at >= 0 and (
        len(tail) - at < _EOCD.size or at + _EOCD.size + _EOCD.unpack_from(tail, at)[7] != back
    ):
        at = tail.rfind(b"PK\x05\x06", 0, at)
    if at < 0:
        raise _fault(f"{path} is not a readable ZIP file (it has no end-of-directory record)")
    _, disk, cd_disk, on_disk, total, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    eocd_at = file_size - back + at
    cd_end = eocd_at
    locator_at = at - _LOCATOR.size
    if locator_at >= 0 and tail[locator_at : locator_at + 4] == b"PK\x06\x07":
        _, _, eocd64_at, _ = _LOCATOR.unpack_from(tail, locator_at)
        if eocd64_at > eocd_at - _LOCATOR.size - _EOCD64.size:
            raise _fault("the ZIP's end records are damaged (the ZIP64 record is misplaced)")
        f.seek(eocd64_at)
        record = f.read(_EOCD64.size)
        if len(record) != _EOCD64.size or record[:4] != b"PK\x06\x06":
            raise _fault("the ZIP's end records are damaged (no ZIP64 record where it should be)")
        _, _, _, _, disk, cd_disk, on_disk, total, cd_size, cd_offset = _EOCD64.unpack(record)
        cd_end = eocd64_at
    if disk != 0 or cd_disk != 0 or on_disk != total:
        raise _fault("the ZIP is split across several files; join it into one first")
    if total > MAX_ENTRIES:
        raise _fault(
            f"the ZIP holds {total:,} files; a bundle never holds more than {MAX_ENTRIES:,}, "
            "so it was not read"
        )
    if cd_size > MAX_DIRECTORY_BYTES:
        raise _fault(
            f"the ZIP's directory is {size_text(cd_size)}; a bundle's is never more than "
            f"{size_text(MAX_DIRECTORY_BYTES)}, so it was not read"
        )
    if cd_offset + cd_size != cd_end:
        raise _fault(
            "the ZIP's directory is not where its end record says "
            "(data was added to the file, or it is damaged)"
        )
    return total, cd_size, cd_offset, cd_end


def _directory(f: BinaryIO, path: Path) -> dict[str, Entry]:
    total, cd_size, cd_offset, _ = _end(f, path)
    f.seek(cd_offset)
    directory = io.BufferedReader(_Window(f, cd_size), CHUNK)
    entries: dict[str, Entry] = {}
    folded: set[int] = set()  # hashes, not names: a name costs ~100 bytes, and there may be 200k
    for n in range(1, total + 1):
        entry = _record(directory, n, cd_offset)
        if entry.name in entries:
            raise _fault(
                f"{entry.name} appears twice in the ZIP: one copy could hide a forged one, "
                "so neither is trusted"
            )
        key = entry.name.casefold()
        if hash(key) in folded:
            other = next((e for e in entries if e.casefold() == key), None)
            if other is not None:
                raise _fault(
                    f"{other} and {entry.name} would be the same file on Windows or a Mac: "
                    "one could hide the other when the bundle is unzipped"
                )
        folded.add(hash(key))
        entries[entry.name] = entry
    if directory.read(1):
        raise _fault("the ZIP's directory holds more than its end record counts")
    return _no_overlaps(entries, cd_offset)


def _record(directory: IO[bytes], n: int, cd_offset: int) -> Entry:
    head = directory.read(_CENTRAL.size)
    if len(head) != _CENTRAL.size or head[:4] != b"PK\x01\x02":
        raise _fault(f"the ZIP's directory is damaged at entry {n}")
    (
        _,
        _made_by,
        _needed,
        flags,
        method,
        _time,
        _date,
        crc,
        csize,
        size,
        name_len,
        extra_len,
        comment_len,
        _disk,
        _internal,
        external,
        offset,
    ) = _CENTRAL.unpack(head)
    raw_name = directory.read(name_len)
    extra = directory.read(extra_len)
    directory.read(comment_len)
    if len(raw_name) != name_len or len(extra) != extra_len:
        raise _fault(f"the ZIP's directory is damaged at entry {n}")
    try:
        name = raw_name.decode("utf-8" if flags & _UTF8_FLAG else "cp437")
    except UnicodeDecodeError as e:
        raise _fault(f"entry {n} of the ZIP has a name that is not valid UTF-8") from e
    _check_name(name, n)
    size, csize, offset = _zip64(extra, size, csize, offset, name)
    if flags & _ENCRYPTED_FLAGS:
        raise _fault(f"{name} is encrypted (a password-protected ZIP entry); no bundle file is")
    kind = stat.S_IFMT(external >> 16)
    if kind == stat.S_IFLNK:
        raise _fault(f"{name} is a symbolic link, not a file; a bundle holds only files")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise _fault(f"{name} is not a file (a device or pipe); a bundle holds only files")
    if method not in (STORED, DEFLATED):
        raise _fault(f"{name} uses compression method {method}; bundles use only deflate")
    if name.endswith("/") and size:
        raise _fault(f"{name} is a folder that holds data")
    if size > MAX_ENTRY_BYTES:
        raise _fault(
            f"{name} would be {size_text(size)}; no file in a bundle is larger than "
            f"{size_text(MAX_ENTRY_BYTES)}, so it was not read"
        )
    if size > BOMB_FLOOR and size > MAX_RATIO * csize:
        raise _fault(
            f"{name} would expand from {size_text(csize)} to {size_text(size)} "
            f"({size // max(csize, 1):,} times): refused as a ZIP bomb"
        )
    if method == STORED and csize != size:
        raise _fault(f"{name} is stored uncompressed but its two sizes differ")
    if offset + _LOCAL.size + name_len + csize > cd_offset:
        raise _fault(f"{name}'s data runs past the end of the files into the ZIP's directory")
    return Entry(name, bool(flags & _UTF8_FLAG), method, crc, csize, size, offset)


def _check_name(name: str, n: int) -> None:
    if not name or "\x00" in name:
        raise _fault(f"entry {n} of the ZIP has an empty or invalid name")
    if name[0] in "/\\" or (len(name) > 1 and name[1] == ":"):
        raise _fault(f"{name} is an absolute path; every file of a bundle is inside its folder")
    if ".." in name.replace("\\", "/").split("/"):
        raise _fault(f"{name} points outside the bundle's folder (..)")


def _zip64(extra: bytes, size: int, csize: int, offset: int, name: str) -> tuple[int, int, int]:
    """The real sizes and offset from the ZIP64 extra field (4.5.3), for those set to 0xFFFFFFFF:
    in that order, each present only if its 32-bit field is full."""
    if _MAX32 not in (size, csize, offset):
        return size, csize, offset
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, at)
        if tag == 0x0001:
            body = extra[at + 4 : at + 4 + length]
            values = [size, csize, offset]
            pos = 0
            for i, value in enumerate(values):
                if value == _MAX32:
                    if pos + 8 > len(body):
                        break
                    (values[i],) = struct.unpack_from("<Q", body, pos)
                    pos += 8
            else:
                return values[0], values[1], values[2]
            break
        at += 4 + length
    raise _fault(f"{name} has a damaged ZIP64 record: its sizes cannot be read")


def _no_overlaps(entries: dict[str, Entry], cd_offset: int) -> dict[str, Entry]:
    """Each entry's data must stop before the next entry starts: a ZIP whose records point at
    the same bytes (or into each other) would make one stored copy count many times."""
    ordered = sorted(entries.values(), key=lambda e: e.offset)
    for i, e in enumerate(ordered):
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        e.end = nxt.offset if nxt is not None else cd_offset
        if e.offset + _LOCAL.size + len(_encoded(e)) + e.csize > e.end:
            other = nxt.name if nxt is not None else "the ZIP's directory"
            raise _fault(f"{e.name} overlaps {other} in the ZIP: the same bytes are used twice")
    return entries


def _encoded(e: Entry) -> bytes:
    return e.name.encode("utf-8" if e.utf8 else "cp437")


def _data_start(f: BinaryIO, e: Entry) -> int:
    f.seek(e.offset)
    head = f.read(_LOCAL.size)
    if len(head) != _LOCAL.size or head[:4] != b"PK\x03\x04":
        raise _fault(f"{e.name}: the ZIP file is damaged (no local header where it should be)")
    _, _, flags, method, _, _, _, _, _, name_len, extra_len = _LOCAL.unpack(head)
    if f.read(name_len) != _encoded(e):
        raise _fault(f"{e.name}: its local header names another file; the ZIP was tampered with")
    if flags & _ENCRYPTED_FLAGS:
        raise _fault(f"{e.name} is encrypted (a password-protected ZIP entry); no bundle file is")
    if method != e.method:
        raise _fault(f"{e.name}: its two ZIP headers disagree on how it is compressed")
    start = e.offset + _LOCAL.size + int(name_len) + int(extra_len)
    if start + e.csize > e.end:
        raise _fault(f"{e.name}'s data runs into the next file of the ZIP")
    return start


class _Window(io.RawIOBase):
    """``length`` bytes of ``f`` from where it stands: the directory, read as a stream."""

    def __init__(self, f: BinaryIO, length: int) -> None:
        self._f = f
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._f.read(min(len(view), self._left))
        self._left -= len(data)
        view[: len(data)] = data
        return len(data)


class _Inflating(io.RawIOBase):
    """One file's data, inflated in chunks, held to the sizes and CRC-32 of the directory."""

    def __init__(self, f: BinaryIO, entry: Entry, start: int) -> None:
        f.seek(start)
        self._f = f
        self._e = entry
        self._left = entry.csize  # compressed bytes not read yet
        self._out = 0
        self._crc = 0
        self._z = zlib.decompressobj(-zlib.MAX_WBITS) if entry.method == DEFLATED else None
        self._done = False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        piece = self._next(min(len(view), CHUNK))
        view[: len(piece)] = piece
        return len(piece)

    def _next(self, n: int) -> bytes:
        while not self._done:
            piece = self._stored(n) if self._z is None else self._inflate(self._z, n)
            if piece:
                self._out += len(piece)
                if self._out > self._e.size:
                    raise _fault(
                        f"{self._e.name} holds more than the {self._e.size:,} bytes its ZIP "
                        "header declares: refused (a ZIP bomb, or a damaged file)"
                    )
                self._crc = zlib.crc32(piece, self._crc)
                return piece
        return b""

    def _read(self, n: int) -> bytes:
        data = self._f.read(min(n, self._left))
        if not data:
            raise _fault(f"{self._e.name}: the ZIP file is damaged (its data ends too soon)")
        self._left -= len(data)
        return data

    def _stored(self, n: int) -> bytes:
        if not self._left:
            self._finish()
            return b""
        return self._read(n)

    def _inflate(self, z: zlib._Decompress, n: int) -> bytes:
        if z.eof:
            if self._left or z.unused_data:
                raise _fault(f"{self._e.name}: the ZIP file is damaged (data after its end)")
            self._finish()
            return b""
        data = z.unconsumed_tail or self._read(CHUNK)
        try:
            return z.decompress(data, n)
        except zlib.error as e:
            raise _fault(f"{self._e.name}: the ZIP file is damaged ({e})") from e

    def _finish(self) -> None:
        if self._out != self._e.size:
            raise _fault(
                f"{self._e.name} holds {self._out:,} bytes, not the {self._e.size:,} its ZIP "
                "header declares: the ZIP file is damaged"
            )
        if self._crc != self._e.crc:
            raise _fault(f"{self._e.name} fails its CRC-32 check: the ZIP file is damaged")
        self._done = True
