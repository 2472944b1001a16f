"""The guarded reader and the atomic writer, as a server with many threads needs them:
reading a model.pt allocates about its size (not its kind's 256 MB cap), and the
umask is read without ever being changed."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

from core.runs.store import DEFAULT_MODEL_DIR
from core.runs.store_files import read_bytes

ROOT = Path(__file__).resolve().parents[2]


def test_reading_a_model_allocates_about_its_size():
    path = DEFAULT_MODEL_DIR / "model.pt"
    size = path.stat().st_size
    tracemalloc.start()
    try:
        data = read_bytes(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(data) == size
    assert peak <= 3 * size, f"reading {size:,} bytes peaked at {peak:,}"


def test_the_umask_is_read_without_changing_it():
    script = ("import os; os.umask(0o027); import core.runs.files as f; "
              "print(oct(f._UMASK), oct(os.umask(0o027)))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0o27", "0o27"], out.stdout
