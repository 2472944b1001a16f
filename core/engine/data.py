"""MNIST as uint8 tensors in memory: find the folder, read the IDX files, split.

The whole set is 47 MB, so it is read once and batches are sliced from tensors;
normalization and augmentation happen per batch on the training device.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
DATA_DIR_ENV = "MNIST_DATA_DIR"
USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "digit-lab"
DEFAULT_DATA_DIR = USER_CACHE / "data"
CACHE_DIR_ENV = "DIGIT_LAB_CACHE_DIR"
RAW_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# The IDX type byte for unsigned bytes; MNIST uses nothing else.
_IDX_UBYTE = 0x08


class DataError(RuntimeError):
    """MNIST could not be found, downloaded or read; the message says what to do."""


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


def cache_dir() -> Path:
    """Where decoded datasets are kept between processes: $DIGIT_LAB_CACHE_DIR, else the
    per-user cache. Only derived copies of public data go here, never a person's digits."""
    return Path(os.environ.get(CACHE_DIR_ENV) or USER_CACHE / "decoded").expanduser()


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """--data-dir, else $MNIST_DATA_DIR, else the per-user default folder."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    return DEFAULT_DATA_DIR


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


def download_with_torchvision(dataset: str, root: Path, missing_message) -> None:
    """torchvision's download of `datasets.<dataset>` (train and test) into `root`;
    any network or mirror failure ends in `missing_message(reason)`, one line."""
    from torchvision import datasets  # imported late: only users without the files need it

    try:
        for train in (True, False):
            getattr(datasets, dataset)(root=str(root), train=train, download=True)
    except Exception as e:
        raise DataError(missing_message(f"download failed: {type(e).__name__}")) from e


@dataclass
class MNIST:
    """The four MNIST arrays as uint8/int64 tensors, [N, 28, 28] and [N]."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    root: Path


def load_mnist(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> MNIST:
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
    return MNIST(
        train_images=torch.from_numpy(arrays["train_images"].copy()),
        train_labels=torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        test_images=torch.from_numpy(arrays["test_images"].copy()),
        test_labels=torch.from_numpy(arrays["test_labels"].astype(np.int64)),
        root=root,
    )


@dataclass
class Splits:
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


# The validation split uses its own fixed seed, so every run, whatever its
# training seed, picks its best epoch on the same held-out images.
SPLIT_SEED = 20_231_989


def split(digits, val_size: int, train_limit: int | None = None) -> Splits:
    """Hold out `val_size` training digits (0: none), keep the test set apart. `digits`
    is an MNIST or a core.engine.datasets.Digits (the same four tensors)."""
    order = torch.randperm(len(digits.train_labels), generator=torch.Generator().manual_seed(SPLIT_SEED))
    val_idx, train_idx = order[:val_size], order[val_size:]
    if train_limit is not None:
        train_idx = train_idx[:train_limit]
    return Splits(
        train_x=digits.train_images[train_idx], train_y=digits.train_labels[train_idx],
        val_x=digits.train_images[val_idx], val_y=digits.train_labels[val_idx],
        test_x=digits.test_images, test_y=digits.test_labels,
    )


def normalize(images_uint8: torch.Tensor) -> torch.Tensor:
    """[N, 28, 28] uint8 -> [N, 1, 28, 28] float, normalized as in training."""
    x = images_uint8.unsqueeze(1).float().div_(255.0)
    return x.sub_(MNIST_MEAN).div_(MNIST_STD)
