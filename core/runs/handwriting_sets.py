"""Handwriting sets: one person's labelled digits, beside the run store.

`artifacts/handwriting/<set>/<digit>/<id>.png` is torchvision's ImageFolder
layout, the images as drawn or uploaded (decoded and saved as PNG, so a photo's
metadata never travels), plus `manifest.json` (created, canvas size, brush).
It is personal data: it stays in this folder, and deleting a set deletes its files.

Everything that adds to a set is checked whole before a byte is written (a
batch import is all or nothing), and each file lands with a rename, so a
refused import or a killed process never costs a sample already there.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from core.engine.image_reading import ImageError, open_image
from core.runs.files import read_json, write_bytes_atomic, write_json_atomic
from core.runs.handwriting_archive import MAX_ARCHIVE_MEMBERS, ArchiveError, folder_members, is_plain_file, zip_members
from core.runs.store import PROJECT_ROOT

HANDWRITING_DIR_ENV = "DIGIT_LAB_HANDWRITING_DIR"
DEFAULT_HANDWRITING_DIR = PROJECT_ROOT / "artifacts" / "handwriting"
MANIFEST = "manifest.json"
FORMAT = "digit-lab-handwriting/1"
DIGITS = tuple(str(d) for d in range(10))

# A handwriting sample needs no more than this; a bigger one is refused, not shrunk.
MAX_SAMPLE_PIXELS = 2048 * 2048
MAX_SET_SAMPLES = MAX_ARCHIVE_MEMBERS  # one import may fill a set, never more
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")
_SET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")
_SAMPLE_ID = re.compile(r"^\d{8}-\d{6}-\d{6}-[0-9a-f]{4}$")
# Folders and files an archive or a copied folder carries without meaning to.
_IGNORED = ("__MACOSX", ".DS_Store", "Thumbs.db", MANIFEST)


class HandwritingError(ValueError):
    """A set name, sample or import that cannot be taken; the message says why."""


def handwriting_dir_setting() -> Path:
    """Where sets live: $DIGIT_LAB_HANDWRITING_DIR, else artifacts/handwriting."""
    return Path(os.environ.get(HANDWRITING_DIR_ENV) or DEFAULT_HANDWRITING_DIR)


def check_set_name(name: str) -> str:
    """A set's name is its folder's name: letters, digits, space, `_ . -`, at most 40, never a path."""
    if not isinstance(name, str) or not _SET_NAME.match(name) or ".." in name or name != name.strip():
        shown = repr(name[:60]) if isinstance(name, str) else type(name).__name__
        raise HandwritingError(f"{shown} is not a set name: use 1-40 letters, digits, spaces, '_', '.' or '-', "
                               "starting with a letter or digit (no '/' and no '..')")
    return name


def list_sets(root: Path | None = None) -> list[str]:
    root = Path(root or handwriting_dir_setting())
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if _SET_NAME.match(p.name) and not p.is_symlink() and (p / MANIFEST).is_file())


@dataclass(frozen=True)
class Sample:
    digit: int
    id: str
    path: Path


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _new_sample_id() -> str:
    # Time first, so the files sort in the order they were written.
    return f"{_now().strftime('%Y%m%d-%H%M%S-%f')}-{secrets.token_hex(2)}"


def _as_png(source) -> bytes:
    """Any image source -> PNG bytes of its pixels, refused when unreadable or too big."""
    image = open_image(source)  # decoding within core.engine.preprocess's byte and pixel caps
    if image.width * image.height > MAX_SAMPLE_PIXELS:
        raise ImageError(f"the image is {image.width:,} x {image.height:,} pixels; a handwriting sample may have "
                         f"at most {MAX_SAMPLE_PIXELS:,}")
    if image.mode not in ("1", "L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


class HandwritingSet:
    """One set on disk. `HandwritingSet.create` makes one, `HandwritingSet(path)` opens one."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not (self.path / MANIFEST).is_file():
            raise HandwritingError(f"{self.path} is not a handwriting set (it has no {MANIFEST})")
        self.name = self.path.name

    @classmethod
    def create(cls, name: str, root: Path | None = None, canvas: tuple[int, int] | None = None,
               brush: int | None = None) -> "HandwritingSet":
        """A new empty set, or the existing one of that name (its manifest kept)."""
        path = Path(root or handwriting_dir_setting()) / check_set_name(name)
        if path.is_symlink():
            raise HandwritingError(f"the set folder {name!r} is a link; sets are plain folders")
        path.mkdir(parents=True, exist_ok=True)
        if not (path / MANIFEST).is_file():
            write_json_atomic(path / MANIFEST, {
                "format": FORMAT, "name": name, "created_at": _now().isoformat(timespec="seconds"),
                "canvas": list(canvas) if canvas else None, "brush": brush,
            })
        return cls(path)

    def exists(self) -> bool:
        return (self.path / MANIFEST).is_file() and not self.path.is_symlink()

    @property
    def manifest(self) -> dict:
        try:
            manifest = read_json(self.path / MANIFEST)
        except (OSError, ValueError):
            return {}
        return manifest if isinstance(manifest, dict) else {}

    def samples(self) -> list[Sample]:
        """Every sample, by digit then in the order written; anything else in the folder is ignored."""
        out = []
        for digit in DIGITS:
            folder = self.path / digit
            if not folder.is_dir() or folder.is_symlink():
                continue
            for f in sorted(folder.iterdir()):
                if f.suffix == ".png" and _SAMPLE_ID.match(f.stem) and is_plain_file(f):
                    out.append(Sample(int(digit), f.stem, f))
        return out

    def counts(self) -> list[int]:
        """Samples per digit, 0 to 9."""
        counts = [0] * 10
        for s in self.samples():
            counts[s.digit] += 1
        return counts

    def content_hash(self) -> str:
        """sha256 over every sample's file name and bytes: the same digest that
        core.engine.handwriting.read_handwriting gives a set, and config.json records."""
        h = hashlib.sha256()
        for s in self.samples():
            h.update(f"{s.digit}/{s.id}.png\n".encode())
            h.update(hashlib.sha256(s.path.read_bytes()).digest())
        return h.hexdigest()

    def add(self, digit: int, source) -> Sample:
        """One sample (canvas array, bytes, path, file or PIL image); returns it as stored."""
        return self._write([(_check_digit(digit), _as_png(source))])[0]

    def _write(self, items: list[tuple[int, bytes]]) -> list[Sample]:
        if len(self.samples()) + len(items) > MAX_SET_SAMPLES:
            raise HandwritingError(f"a set holds at most {MAX_SET_SAMPLES:,} samples")
        written = []
        for digit, png in items:
            folder = self.path / str(digit)
            folder.mkdir(exist_ok=True)
            sample_id = _new_sample_id()
            write_bytes_atomic(folder / f"{sample_id}.png", png)
            written.append(Sample(digit, sample_id, folder / f"{sample_id}.png"))
        return written

    def delete_sample(self, digit: int, sample_id: str) -> None:
        if not _SAMPLE_ID.match(str(sample_id)):
            raise HandwritingError(f"not a sample id: {str(sample_id)[:40]!r}")
        (self.path / str(_check_digit(digit)) / f"{sample_id}.png").unlink(missing_ok=True)

    def delete(self) -> None:
        """The whole set, files and folder: it is personal data."""
        shutil.rmtree(self.path)

    def import_folder(self, folder: Path) -> list[Sample]:
        """Every image of a folder in the same layout (`<digit>/<file>`), all or nothing."""
        folder = Path(folder)
        if not folder.is_dir():
            raise HandwritingError(f"{folder} is not a folder")
        return self._import(lambda: folder_members(folder))

    def import_zip(self, archive) -> list[Sample]:
        """Every image of a zip (path, bytes or file) in the same layout, all or nothing."""
        return self._import(lambda: zip_members(archive))

    def _import(self, members: Callable[[], list]) -> list[Sample]:
        try:
            return self._write(_checked_members(members()))
        except ArchiveError as e:
            raise HandwritingError(str(e)) from None


def _check_digit(digit) -> int:
    if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= digit <= 9:
        raise HandwritingError(f"{digit!r} is not a digit 0-9")
    return int(digit)


def _checked_members(members: list[tuple[str, Callable[[], bytes]]]) -> list[tuple[int, bytes]]:
    """(relative name, read) pairs -> (digit, PNG bytes), every one checked first.
    `<digit>/<file>` or `<one folder>/<digit>/<file>`; hidden files and a manifest are skipped."""
    kept = [(n.replace("\\", "/").split("/"), read) for n, read in members]
    kept = [(parts, read) for parts, read in kept
            if not any(p.startswith(".") or p in _IGNORED for p in parts)]
    if kept and all(len(parts) == 3 for parts, _ in kept) and len({parts[0] for parts, _ in kept}) == 1:
        kept = [(parts[1:], read) for parts, read in kept]  # the set's own folder around the digits
    if not kept:
        raise HandwritingError("nothing to import: expected images in folders named 0 to 9")
    out = []
    for parts, read in kept:
        where = "/".join(parts)[:80]
        if len(parts) != 2 or parts[0] not in DIGITS:
            raise HandwritingError(f"{where!r} is not in a folder named 0-9; the layout is <digit>/<image>")
        if not parts[1].lower().endswith(IMAGE_SUFFIXES):
            raise HandwritingError(f"{where!r} is not an image file (PNG, JPEG, GIF, BMP or WebP)")
        try:
            out.append((int(parts[0]), _as_png(read())))
        except ImageError as e:
            raise HandwritingError(f"{where!r}: {e}") from None
    return out

