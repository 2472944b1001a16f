"""Files that a reader never sees half-written: write to a temporary name in the
same folder, fsync, rename. A run killed at any moment leaves what it had."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def _current_umask() -> int:
    """The process's umask, read without changing it: Linux says it in /proc (changing it
    to read it, even for a moment, would give a file another thread creates then mode 0666)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022  # the usual default where /proc says nothing


_UMASK = _current_umask()

def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; a run store is meant to be read
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj) -> None:
    write_bytes_atomic(path, json.dumps(obj, indent=2).encode())


def read_json(path: Path):
    """JSON from a file of the store, read the guarded way (core.runs.store_files)."""
    from core.runs.store_files import read_json as guarded

    return guarded(path)
