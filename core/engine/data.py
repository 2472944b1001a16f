"""What every dataset shares: the data folder setting and torchvision's download as the
fallback, the cache of decoded copies, the tensors of a dataset's digits, the fixed
train/validation split and the normalization every model is fed.

A whole set is at most 47 MB, so it is read once and batches are sliced from tensors;
normalization and augmentation happen per batch on the training device.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
DATA_DIR_ENV = "MNIST_DATA_DIR"
USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "digit-lab"
DEFAULT_DATA_DIR = USER_CACHE / "data"
CACHE_DIR_ENV = "DIGIT_LAB_CACHE_DIR"


class DataError(RuntimeError):
    """A dataset could not be found, downloaded or read; the message says what to do."""


@dataclass
class Digits:
    """A dataset's training and test digits, uint8 [N, side, side] with int64 labels."""

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    root: Path


def cache_dir() -> Path:
    """Where decoded datasets are kept between processes: $DIGIT_LAB_CACHE_DIR, else the
    per-user cache. Only derived copies of public data go here, never a person's digits."""
    return Path(os.environ.get(CACHE_DIR_ENV) or USER_CACHE / "decoded").expanduser()


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """--data-dir, else $MNIST_DATA_DIR, else the per-user default folder."""
    if data_dir:
        return Path(data_dir).expanduser().absolute()
    if os.environ.get(DATA_DIR_ENV):
        # Absolute, from this process's working folder: a child told the same setting starts
        # in the project folder (core.runs.launcher), and must mean the same folder.
        return Path(os.environ[DATA_DIR_ENV]).expanduser().absolute()
    return DEFAULT_DATA_DIR


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


def split(digits: Digits, val_size: int, train_limit: int | None = None) -> Splits:
    """Hold out `val_size` training digits (0: none), keep the test set apart."""
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
