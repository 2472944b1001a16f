"""The files of a batch to import into a handwriting set, from a folder or a zip, read
within caps: an archive's size, entry count and unpacked size are checked against its
directory before anything is decompressed (a zip bomb is refused), each entry is read
capped (the directory may lie), and links or names that climb out are refused."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path
from typing import Callable

MAX_ARCHIVE_BYTES = 100 * 2**20
MAX_ARCHIVE_MEMBERS = 5_000  # also a set's limit (handwriting_sets.MAX_SET_SAMPLES)
MAX_MEMBER_BYTES = 8 * 2**20
MAX_UNPACKED_BYTES = 200 * 2**20


class ArchiveError(ValueError):
    """A batch that cannot be read safely; the message is one line."""


def folder_members(folder: Path) -> list[tuple[str, Callable[[], bytes]]]:
    """(relative name, read) for every file under `folder`; links refused."""
    members = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise ArchiveError(f"{relative} is a link; import plain files only")
        if path.is_file():
            members.append((relative, lambda p=path: _read_capped(p)))
    return members


def zip_members(archive) -> list[tuple[str, Callable[[], bytes]]]:
    """(name, read) for every file of a zip (path, bytes or binary file), its directory
    checked before anything is decompressed."""
    data = archive.read(MAX_ARCHIVE_BYTES + 1) if hasattr(archive, "read") else archive
    if isinstance(data, (str, os.PathLike)):
        data = _read_capped(Path(data), MAX_ARCHIVE_BYTES)
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ArchiveError(f"the archive is over {MAX_ARCHIVE_BYTES // 2**20} MB")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as e:
        raise ArchiveError(f"the file is not a zip archive that can be read ({e})") from None
    if len(infos) > MAX_ARCHIVE_MEMBERS:
        raise ArchiveError(f"the archive has {len(infos):,} entries; at most {MAX_ARCHIVE_MEMBERS:,}")
    if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
        raise ArchiveError(f"the archive unpacks to over {MAX_UNPACKED_BYTES // 2**20} MB; refused")
    members = []
    for info in infos:
        name = info.filename
        if _climbs_out(name):
            raise ArchiveError(f"the archive entry {name[:80]!r} points outside the set; refused")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ArchiveError(f"the archive entry {name[:80]!r} is a link; refused")
        if not info.is_dir():
            members.append((name, lambda i=info: _read_member(zf, i)))
    return members


def _climbs_out(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ":" in parts[0] or ".." in parts


def is_plain_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _read_capped(path: Path, limit: int = MAX_MEMBER_BYTES) -> bytes:
    if not is_plain_file(path):
        raise ArchiveError(f"{path.name} is not a plain file")
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ArchiveError(f"{path.name} is over {limit // 2**20} MB")
    return data


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    if info.file_size > MAX_MEMBER_BYTES:
        raise ArchiveError(f"{info.filename[:80]} unpacks to over {MAX_MEMBER_BYTES // 2**20} MB; refused")
    try:
        with zf.open(info) as f:  # read capped: the size in the directory may lie
            data = f.read(MAX_MEMBER_BYTES + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as e:
        raise ArchiveError(f"{info.filename[:80]} cannot be unpacked ({e})") from None
    if len(data) > MAX_MEMBER_BYTES:
        raise ArchiveError(f"{info.filename[:80]} unpacks to over {MAX_MEMBER_BYTES // 2**20} MB; refused")
    return data
