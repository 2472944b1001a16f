"""Which digits a run learns from and is tested on: MNIST or the 1989 zip codes
(USPS), at the side its model is fed, and the other set for the cross-dataset test.

Models see 28x28 digits laid out as MNIST was made; the 1989 net trained on USPS
takes the 16x16 digits as published, and then sees MNIST's laid out as USPS's were.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from core.engine.data import Digits
from core.engine.layout import relayout
from core.engine.mnist import load_mnist
from core.engine.usps import load_usps

OTHER = {"mnist": "usps", "usps": "mnist"}
TITLES = {"mnist": "MNIST", "usps": "USPS zip codes"}


@dataclass
class TestSet:
    dataset: str
    images: torch.Tensor
    labels: torch.Tensor


def load_digits(name: str, data_dir: str | os.PathLike | None = None, side: int = 28) -> Digits:
    """MNIST or USPS from the data folder (torchvision's download as the fallback)."""
    if name == "usps":
        return load_usps(data_dir, side=side)
    return load_mnist(data_dir)  # 28x28 whatever the model: only USPS comes at 16x16


def load_test_set(name: str, data_dir: str | os.PathLike | None = None, side: int = 28) -> TestSet:
    """Only a dataset's test digits (the cross-dataset evaluation needs no more); a
    16x16 model sees MNIST's laid out as USPS's were."""
    digits = load_digits(name, data_dir, side)
    images = digits.test_images
    if images.shape[-1] != side:
        images = torch.from_numpy(relayout(images.numpy(), side))
    return TestSet(name, images, digits.test_labels)
