"""Which digits a run learns from and is tested on: MNIST or the 1989 zip codes
(USPS), at the side its model is fed, and the other set for the cross-dataset test.

Models see 28x28 digits laid out as MNIST was made; the 1989 net trained on USPS
takes the 16x16 digits as published, and then sees MNIST's laid out as USPS's were.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from core.engine.data import load_mnist
from core.engine.layout import relayout
from core.engine.usps import load_usps

OTHER = {"mnist": "usps", "usps": "mnist"}
TITLES = {"mnist": "MNIST", "usps": "USPS zip codes"}


@dataclass
class Digits:
    """A dataset's training and test digits, uint8 [N, side, side] with int64 labels."""

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    root: Path


@dataclass
class TestSet:
    dataset: str
    images: torch.Tensor
    labels: torch.Tensor


def load_digits(name: str, data_dir: str | os.PathLike | None = None, side: int = 28) -> Digits:
    """MNIST or USPS from the data folder (torchvision's download as the fallback)."""
    if name == "usps":
        u = load_usps(data_dir)
        if side == 16:
            return Digits(name, u.train_images16, u.train_labels, u.test_images16, u.test_labels, u.root)
        return Digits(name, u.train_images, u.train_labels, u.test_images, u.test_labels, u.root)
    m = load_mnist(data_dir)  # 28x28 whatever the model: only USPS comes at 16x16
    return Digits(name, m.train_images, m.train_labels, m.test_images, m.test_labels, m.root)


def load_test_set(name: str, data_dir: str | os.PathLike | None = None, side: int = 28) -> TestSet:
    """Only a dataset's test digits (the cross-dataset evaluation needs no more); a
    16x16 model sees MNIST's laid out as USPS's were."""
    digits = load_digits(name, data_dir, side)
    images = digits.test_images
    if images.shape[-1] != side:
        images = torch.from_numpy(relayout(images.numpy(), side))
    return TestSet(name, images, digits.test_labels)
