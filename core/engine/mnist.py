"""MNIST from its four IDX files (torchvision's layout: <data>/MNIST/raw/), as uint8
tensors in memory."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

from core.engine.data import DATA_DIR_ENV, DataError, Digits, download_with_torchvision, resolve_data_dir

RAW_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# The IDX type byte for unsigned bytes; MNIST uses nothing else.
_IDX_UBYTE = 0x08


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) of unsigned bytes into an array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read {path}: {e}") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    if raw[2] != _IDX_UBYTE:
        raise DataError(f"{path} holds IDX type 0x{raw[2]:02x}; only unsigned bytes (0x08) are supported")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated: its header is incomplete")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != expected:
        raise DataError(
            f"{path} is truncated or corrupt: header promises {expected:,} bytes of data "
            f"for shape {shape}, file has {len(raw) - header:,}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find_raw(root: Path, name: str) -> Path | None:
    for candidate in (root / "MNIST" / "raw" / name, root / "raw" / name, root / name):
        for path in (candidate, candidate.with_name(candidate.name + ".gz")):
            if path.is_file():
                return path
    return None


def _missing_message(root: Path, reason: str) -> str:
    names = ", ".join(RAW_FILES.values())
    return (
        f"MNIST not found in {root} ({reason}). Put {names} in {root}/MNIST/raw/, "
        f"or point --data-dir or the {DATA_DIR_ENV} environment variable at a folder that has them."
    )


def load_mnist(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> Digits:
    root = resolve_data_dir(data_dir)
    paths = {key: _find_raw(root, name) for key, name in RAW_FILES.items()}
    if any(p is None for p in paths.values()):
        if not download:
            raise DataError(_missing_message(root, "files missing"))
        download_with_torchvision("MNIST", root, lambda reason: _missing_message(root, reason))
        paths = {key: _find_raw(root, name) for key, name in RAW_FILES.items()}
        if any(p is None for p in paths.values()):
            raise DataError(_missing_message(root, "files missing after download"))
    arrays = {key: read_idx(path) for key, path in paths.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (images.shape[0],):
            raise DataError(f"MNIST {split} files in {root} have shapes {images.shape} and {labels.shape}")
    return Digits(
        name="mnist",
        train_images=torch.from_numpy(arrays["train_images"].copy()),
        train_labels=torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        test_images=torch.from_numpy(arrays["test_images"].copy()),
        test_labels=torch.from_numpy(arrays["test_labels"].astype(np.int64)),
        root=root,
    )
