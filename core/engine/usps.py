"""The USPS zip-code digits of LeCun et al. 1989 (7,291 training, 2,007 test),
16x16, deslanted and size-normalized, in the format torchvision's `USPS` reads:
`USPS/usps.bz2` and `USPS/usps.t.bz2`, one digit a line, `label 1:v1 ... 256:v256`
with labels 1..10 for digits 0..9 and pixels in [-1, 1], +1 the ink.

Models see them as MNIST was made (`relayout`, `mnist_layout`: box to 20 px, centre of mass
at the centre of 28x28); the 16x16 originals are kept for a model that takes
16x16 itself.
"""

from __future__ import annotations

import bz2
import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import torch

from core.engine import ink, layout, strokes
from core.engine.data import DATA_DIR_ENV, DataError, Digits, cache_dir, download_with_torchvision, resolve_data_dir
from core.engine.layout import relayout

FILES = {"train": "usps.bz2", "test": "usps.t.bz2"}
SIDE = 16


def read_usps(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One USPS file -> (uint8 [N, 16, 16], ink bright on dark; int64 [N] digits)."""
    try:
        with bz2.open(path, "rt") as f:
            lines = [line.split() for line in f if line.strip()]
    except (OSError, EOFError, ValueError) as e:
        raise DataError(f"cannot read {path}: {e}") from e
    images = np.full((len(lines), SIDE * SIDE), -1.0, dtype=np.float32)
    labels = np.empty(len(lines), dtype=np.int64)
    try:
        for row, (label, *pixels) in enumerate(lines):
            labels[row] = int(float(label)) - 1
            for item in pixels:
                index, value = item.split(":")
                images[row, int(index) - 1] = float(value)
    except (ValueError, IndexError) as e:
        raise DataError(f"{path} is not in the USPS format (line {row + 1}: {e})") from None
    if len(lines) == 0 or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path} has no digits or labels outside 1..10")
    gray = np.rint((images.clip(-1, 1) + 1) * 127.5).astype(np.uint8)
    return gray.reshape(-1, SIDE, SIDE), labels


def _missing_message(folder: Path, reason: str) -> str:
    return (f"USPS not found in {folder} ({reason}). Put {FILES['train']} and {FILES['test']} in {folder}/, "
            f"or point --data-dir or the {DATA_DIR_ENV} environment variable at a folder whose USPS/ has them.")


def load_usps(data_dir: str | os.PathLike | None = None, *, side: int = 28, download: bool = True) -> Digits:
    """The zip codes at 28x28 in MNIST's layout (the models' input), or at 16x16 as
    published (`side=16`, for the 1989 net trained on them)."""
    if side not in (SIDE, 28):
        raise ValueError(f"USPS comes at 16x16 or laid out at 28x28, not {side}")
    root = resolve_data_dir(data_dir)
    folder = root / "USPS"
    paths = {split: folder / name for split, name in FILES.items()}
    if not all(p.is_file() for p in paths.values()):
        if not download:
            raise DataError(_missing_message(folder, "files missing"))
        download_with_torchvision("USPS", folder, lambda reason: _missing_message(folder, reason))
        if not all(p.is_file() for p in paths.values()):
            raise DataError(_missing_message(folder, "files missing after download"))
    t = _decoded(paths)
    if side == SIDE:
        return Digits("usps", t["train_images16"], t["train_labels"], t["test_images16"], t["test_labels"], root)
    return Digits("usps", t["train_images"], t["train_labels"], t["test_images"], t["test_labels"], root)


def _decoded(paths: dict[str, Path]) -> dict[str, torch.Tensor]:
    """The two files parsed and laid out (about 6 s on 2 cores, most of a short run's
    scoring), kept in a cache file named for the exact bytes read and the code that
    reads them: a changed file or a changed layout never meets a stale cache."""
    digest = hashlib.sha256()
    for source in (paths["train"], paths["test"], Path(__file__), *(Path(m.__file__) for m in (ink, layout, strokes))):
        digest.update(source.read_bytes())
    cached = cache_dir() / f"usps-{digest.hexdigest()[:32]}.pt"
    try:
        return torch.load(cached, weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):
        pass  # absent or damaged: decode again
    (train16, train_y), (test16, test_y) = read_usps(paths["train"]), read_usps(paths["test"])
    tensors = {
        "train_images": torch.from_numpy(relayout(train16)), "train_labels": torch.from_numpy(train_y),
        "test_images": torch.from_numpy(relayout(test16)), "test_labels": torch.from_numpy(test_y),
        "train_images16": torch.from_numpy(train16), "test_images16": torch.from_numpy(test16),
    }
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f".{cached.name}.{os.getpid()}")
        torch.save(tensors, partial)
        os.replace(partial, cached)
    except OSError:
        pass  # a cache that cannot be written costs time, never the run
    return tensors
