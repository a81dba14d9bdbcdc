"""`nocontact verify` against bundles built to hurt it: each is refused with a message that names
what is wrong (exit 1, no traceback), in a process of its own whose peak memory stays under
200 MB. The hostile ZIPs are written byte by byte from the real bundle, so each lies in exactly
one way; the same writer's honest copy verifies (the control)."""

from __future__ import annotations

import re
import stat
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from nocontact.export import container
from nocontact.export.verify import BundleFault, verify
from tests.export.conftest import Shared

RSS_LIMIT = 200 * 1024 * 1024
NOCONTACT = Path(sys.executable).parent / "nocontact"
MiB = 1 << 20


@dataclass(frozen=True)
class Raw:
    """One ZIP entry as it will be written, lies included."""

    name: str
    data: bytes  # as stored (deflated unless method is 0)
    size: int  # the uncompressed size the headers declare
    crc: int
    method: int = 8
    flags: int = 0
    external: int = 0o644 << 16
    local_name: str | None = None  # a local header that names another file
    shares: bool = False  # no data of its own: its directory record points at the entry before


def deflated(name: str, content: bytes) -> Raw:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return Raw(name, c.compress(content) + c.flush(), len(content), zlib.crc32(content))


def stored(name: str, content: bytes) -> Raw:
    return Raw(name, content, len(content), zlib.crc32(content), method=0)


def write_zip(path: Path, entries: Iterable[Raw], *, claim: int | None = None) -> None:
    """APPNOTE 4.3: local headers and data, the central directory, the end records (ZIP64 when
    there are more than 65,535 entries). ``claim``: the entry count the end records state."""
    central: list[bytes] = []
    with open(path, "wb") as f:
        offset = 0
        for e in entries:
            name = e.name.encode()
            if not e.shares:
                offset = f.tell()
                local = (e.local_name or e.name).encode()
                f.write(
                    struct.pack(
                        "<IHHHHHIIIHH",
                        0x04034B50,
                        20,
                        e.flags,
                        e.method,
                        0,
                        0x5B21,
                        e.crc,
                        len(e.data),
                        e.size,
                        len(local),
                        0,
                    )
                )
                f.write(local + e.data)
            central.append(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    0x02014B50,
                    (3 << 8) | 20,
                    20,
                    e.flags,
                    e.method,
                    0,
                    0x5B21,
                    e.crc,
                    len(e.data),
                    e.size,
                    len(name),
                    0,
                    0,
                    0,
                    0,
                    e.external,
                    offset,
                )
                + name
            )
        cd_offset = f.tell()
        f.writelines(central)
        cd_size = f.tell() - cd_offset
        total = len(central) if claim is None else claim
        if total > 0xFFFF:
            eocd64 = f.tell()
            f.write(
                struct.pack(
                    "<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, total, total, cd_size, cd_offset
                )
            )
            f.write(struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1))
            total = 0xFFFF
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, total, total, cd_size, cd_offset, 0))


def real_entries(bundle: Path) -> list[Raw]:
    with zipfile.ZipFile(bundle) as z:
        return [deflated(i.filename, z.read(i.filename)) for i in z.infolist()]


def swap(entries: list[Raw], name: str, new: Raw) -> list[Raw]:
    return [new if e.name == name else e for e in entries]


def zeros_deflated(n_mib: int) -> bytes:
    """``n_mib`` MiB of zeros as raw deflate, made from one flushed block repeated: a 2 GiB
    stream in milliseconds (each full flush leaves the compressor as it started)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = c.compress(bytes(MiB)) + c.flush(zlib.Z_FULL_FLUSH)
    return block * n_mib + c.flush()


def zeros_crc(n_mib: int) -> int:
    crc, chunk = 0, bytes(MiB)
    for _ in range(n_mib):
        crc = zlib.crc32(chunk, crc)
    return crc


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    peak_rss: int  # bytes


# A small Python starts ``nocontact verify`` and reports its peak RSS from wait4. Not this
# process: Linux counts the memory of the process that forked into the child's peak (the
# maxrss of the old address space survives exec), and the test process is large.
LAUNCHER = """
import os, sys
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def run_verify(path: Path, tmp: Path) -> Run:
    """``nocontact verify`` as its own process, with its exit code, output and peak RSS."""
    out, err, report = tmp / "verify.out", tmp / "verify.err", tmp / "verify.rss"
    with open(out, "wb") as o, open(err, "wb") as e:
        subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(report), str(NOCONTACT), "verify", str(path)],
            stdout=o,
            stderr=e,
            timeout=120,
            check=True,
        )
    code, rss_kib = map(int, report.read_text().split())
    return Run(code, out.read_text(), err.read_text(), rss_kib * 1024)


# (case, how to make it from the real entries, what the refusal must say)
Maker = Callable[[list[Raw]], Iterable[Raw]]


def _manifest_of(entries: list[Raw]) -> bytes:
    e = next(e for e in entries if e.name == "manifest.json")
    return zlib.decompress(e.data, -zlib.MAX_WBITS)


def declared_1gib_manifest(entries: list[Raw]) -> list[Raw]:
    m = next(e for e in entries if e.name == "manifest.json")
    return swap(entries, "manifest.json", replace(m, size=1 << 30))


def padded_manifest(mib: int) -> Maker:
    """The real manifest with a long field added: really that large, stored uncompressed (so it
    cannot pass for a ZIP bomb), and no longer what was signed."""

    def make(entries: list[Raw]) -> list[Raw]:
        real = _manifest_of(entries).rstrip()
        assert real.endswith(b"}")
        pad = b"A" * (mib * MiB)
        data = real[:-1] + b',\n "padding": "' + pad + b'"\n}\n'
        return swap(entries, "manifest.json", stored("manifest.json", data))

    return make


def zip_bomb(entries: list[Raw]) -> list[Raw]:
    """report.html replaced by 2 GiB of zeros in 2 MiB, honestly declared: ``unzip`` would
    inflate it."""
    bomb = Raw("report.html", zeros_deflated(2048), 2048 * MiB, zeros_crc(2048))
    return swap(entries, "report.html", bomb)


def lying_header(entries: list[Raw]) -> list[Raw]:
    """incidents.csv keeps its declared size and CRC, but its data inflates to 256 MiB."""
    real = next(e for e in entries if e.name == "incidents.csv")
    return swap(entries, "incidents.csv", replace(real, data=zeros_deflated(256)))


def many_entries(entries: list[Raw]) -> Iterator[Raw]:
    yield from entries
    for n in range(100_000):
        yield stored(f"items/extra-{n:06d}.eml", b"x")


def forged_first(entries: list[Raw]) -> list[Raw]:
    forged = deflated("manifest.json", b'{"format": "nocontact-evidence/1", "forged": true}\n')
    return [forged, *entries]


def unlisted(entries: list[Raw]) -> list[Raw]:
    return [*entries, deflated("notes.txt", b"someone added this")]


def symlink(entries: list[Raw]) -> list[Raw]:
    link = replace(
        stored("items/00009-link.eml", b"/etc/passwd"), external=(stat.S_IFLNK | 0o777) << 16
    )
    return [*entries, link]


def encrypted(entries: list[Raw]) -> list[Raw]:
    pdf = next(e for e in entries if e.name == "report.pdf")
    return swap(entries, "report.pdf", replace(pdf, flags=0x1))


def named(name: str) -> Maker:
    return lambda entries: [*entries, deflated(name, b"planted")]


HOSTILE: list[tuple[str, Maker, str]] = [
    ("manifest-declared-1gib", declared_1gib_manifest, "manifest.json would expand"),
    ("manifest-really-50mib", padded_manifest(50), "manifest.sig does not match manifest.json"),
    ("manifest-really-70mib", padded_manifest(70), "manifest.json is 70.0 MiB; it is never"),
    ("zip-bomb-2gib", zip_bomb, "report.html would expand from 2.0 MiB to 2.0 GiB"),
    ("lying-header", lying_header, "incidents.csv holds more than the"),
    ("100k-entries", many_entries, "items/extra-000000.eml was added"),
    ("duplicate-forged-first", forged_first, "manifest.json appears twice in the ZIP"),
    ("unlisted-entry", unlisted, "notes.txt was added: it is not listed in the manifest"),
    ("symlink", symlink, "items/00009-link.eml is a symbolic link"),
    ("encrypted", encrypted, "report.pdf is encrypted"),
    ("dot-dot", named("items/../../evil.sh"), "items/../../evil.sh points outside"),
    ("absolute", named("/etc/cron.d/evil"), "/etc/cron.d/evil is an absolute path"),
    ("windows-absolute", named("C:\\evil.bat"), "C:\\evil.bat is an absolute path"),
]


@pytest.fixture(scope="module")
def entries(shared: Shared) -> list[Raw]:
    return real_entries(shared.path)


def test_the_honest_rewrite_verifies_in_a_process_of_its_own(
    entries: list[Raw], tmp_path: Path
) -> None:
    """The control: the test's own writer makes a ZIP the checker accepts."""
    path = tmp_path / "honest.zip"
    write_zip(path, entries)
    run = run_verify(path, tmp_path)
    print(f"\nhonest: exit {run.code}, peak RSS {run.peak_rss / MiB:.0f} MiB")
    assert run.code == 0, run.out + run.err
    assert run.out.startswith("intact: 4 items")
    assert run.peak_rss < RSS_LIMIT


@pytest.mark.parametrize(("case", "make", "says"), HOSTILE, ids=[c for c, _, _ in HOSTILE])
def test_a_hostile_bundle_is_refused_by_name_under_200_mb(
    entries: list[Raw], tmp_path: Path, case: str, make: Maker, says: str
) -> None:
    path = tmp_path / f"{case}.zip"
    write_zip(path, make(entries))
    run = run_verify(path, tmp_path)
    print(f"\n{case}: exit {run.code}, peak RSS {run.peak_rss / MiB:.0f} MiB: {run.out.strip()}")
    assert run.code == 1, run.out + run.err
    assert run.out.startswith("FAILED: ") and says in run.out, run.out
    assert "Traceback" not in run.err, run.err
    assert run.peak_rss < RSS_LIMIT


# The checks below need no process of their own: what matters is the message.


def test_more_entries_than_the_limit_are_refused_before_the_directory_is_read(
    entries: list[Raw], tmp_path: Path
) -> None:
    path = tmp_path / "claims.zip"
    write_zip(path, entries, claim=container.MAX_ENTRIES + 1)
    with pytest.raises(BundleFault, match="the ZIP holds 200,001 files; a bundle never holds"):
        verify(path)


def test_a_directory_longer_than_its_count_is_refused(
    entries: list[Raw], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "understates.zip"
    write_zip(path, entries, claim=len(entries) - 1)
    with pytest.raises(BundleFault, match="directory holds more than its end record counts"):
        verify(path)
    monkeypatch.setattr(container, "MAX_ENTRIES", len(entries) - 1)
    write_zip(path, entries)
    with pytest.raises(BundleFault, match=f"holds {len(entries)} files"):
        verify(path)


def test_names_that_differ_only_in_case_are_refused(entries: list[Raw], tmp_path: Path) -> None:
    path = tmp_path / "case.zip"
    write_zip(path, [*entries, deflated("Manifest.JSON", b"{}")])
    with pytest.raises(
        BundleFault, match=re.escape("manifest.json and Manifest.JSON would be the same")
    ):
        verify(path)


def test_two_records_sharing_one_copy_of_data_are_refused(
    entries: list[Raw], tmp_path: Path
) -> None:
    """The overlapping-files bomb (one stored copy counted many times)."""
    path = tmp_path / "overlap.zip"
    shared_copy = replace(deflated("items/00009-copy.eml", b""), shares=True)
    first = entries[0]
    write_zip(path, [first, replace(shared_copy, data=first.data), *entries[1:]])
    with pytest.raises(BundleFault, match=r"overlaps .* in the ZIP: the same bytes are used twice"):
        verify(path)


def test_a_local_header_naming_another_file_is_refused(entries: list[Raw], tmp_path: Path) -> None:
    sums = next(e for e in entries if e.name == "SHA256SUMS")
    path = tmp_path / "local.zip"
    write_zip(path, swap(entries, "SHA256SUMS", replace(sums, local_name="SHA256SUMX")))
    with pytest.raises(BundleFault, match="SHA256SUMS: its local header names another file"):
        verify(path)


def test_data_shorter_than_its_header_says_is_refused(entries: list[Raw], tmp_path: Path) -> None:
    ledger = next(e for e in entries if e.name == "ledger.jsonl")
    path = tmp_path / "short.zip"
    write_zip(path, swap(entries, "ledger.jsonl", replace(ledger, size=ledger.size + 1)))
    with pytest.raises(BundleFault, match=r"ledger\.jsonl holds .* bytes, not the"):
        verify(path)


def test_a_symbolic_link_in_an_unzipped_folder_is_refused(shared: Shared, tmp_path: Path) -> None:
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(shared.path) as z:
        z.extractall(folder)
    assert verify(folder).items == 4
    (folder / "items" / "passwd.eml").symlink_to("/etc/passwd")
    with pytest.raises(BundleFault, match=re.escape("items/passwd.eml is a symbolic link")):
        verify(folder)


# Honest ZIPs that look unusual still verify.


def test_zip64_records_and_a_macs_litter_still_verify(
    shared: Shared, entries: list[Raw], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ZIP64 sizes and offsets in the directory (a bundle over 4 GiB), and the folders and
    ``__MACOSX/._*`` files a Mac adds when it re-zips the bundle."""
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 100)  # ZIP64 records for nearly every entry
    path = tmp_path / "zip64.zip"
    with zipfile.ZipFile(shared.path) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename), zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path) as z:
        assert sum(1 for i in z.infolist() if len(i.extra) >= 20) > 10
    assert verify(path).items == 4
    mac = tmp_path / "mac.zip"
    litter = [
        stored("items/", b""),
        stored("__MACOSX/", b""),
        stored("__MACOSX/._report.pdf", b"x"),
    ]
    write_zip(mac, [*entries, *litter, stored(".DS_Store", b"\0\0\0\1Bud1")])
    assert verify(mac).items == 4
