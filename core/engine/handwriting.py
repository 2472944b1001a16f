"""One person's digits as a model sees them: a folder in torchvision's ImageFolder
layout (`<digit>/<image>`, digits 0-9) read through the drawing path, laid out
for the model's input side, and split per digit into taught and held-out digits.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS

from core.engine.image_reading import ImageError
from core.engine.ink import NoDigitError
from core.engine.preprocess import prepare_digit
from core.engine.scoring import predict_scores, test_report

DIGIT_FOLDERS = tuple(str(d) for d in range(10))
HOLDOUT_SEED = 1989


class HandwritingDataError(ValueError):
    """The folder holds no readable digits in the ImageFolder layout."""


class _DigitFolder(ImageFolder):
    """ImageFolder whose classes are the folders named 0-9, each labelled by its own
    name (not its rank: a set without 3s still labels its 4s as 4), links skipped."""

    def find_classes(self, directory):
        present = sorted(d.name for d in os.scandir(directory)
                         if d.name in DIGIT_FOLDERS and d.is_dir(follow_symlinks=False))
        if not present:
            raise HandwritingDataError(f"{directory} has no folders named 0 to 9")
        return present, {d: int(d) for d in present}


def _plain_image(path: str) -> bool:
    return path.lower().endswith(IMG_EXTENSIONS) and not os.path.islink(path) and os.path.isfile(path)


@dataclass
class HandwritingDigits:
    """A set's readable digits at the model's side: uint8 [N, side, side], labels, file names."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    files: list[str]
    sha256: str  # over every file's digit, name and bytes: names the set's exact contents
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)

    def counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=10).tolist()

    def subset(self, index: torch.Tensor) -> "HandwritingDigits":
        idx = index.tolist()
        return HandwritingDigits(self.name, self.images[index], self.labels[index], [self.files[i] for i in idx],
                                 self.sha256)


def read_handwriting(folder: str | os.PathLike, side: int = 28) -> HandwritingDigits:
    """Every image under `folder/<digit>/`, through the drawing path; an image without
    ink or that cannot be read is skipped and named in `skipped`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise HandwritingDataError(f"{folder} is not a folder")
    dataset = _DigitFolder(str(folder), is_valid_file=_plain_image, allow_empty=True)
    images, labels, files, skipped = [], [], [], []
    digest = hashlib.sha256()
    for path, label in dataset.samples:
        relative = Path(path).relative_to(folder).as_posix()
        try:
            raw = Path(path).read_bytes()
            prepared = prepare_digit(raw, side)
        except (ImageError, NoDigitError, OSError) as e:
            skipped.append((relative, str(e)))
            continue
        digest.update(f"{relative}\n".encode())
        digest.update(hashlib.sha256(raw).digest())
        images.append(prepared.laid_out)
        labels.append(label)
        files.append(relative)
    if not images:
        raise HandwritingDataError(f"{folder} holds no readable digit images in folders named 0 to 9")
    return HandwritingDigits(folder.name, torch.from_numpy(np.stack(images)), torch.tensor(labels),
                             files, digest.hexdigest(), skipped)


def default_holdout(counts: list[int]) -> float:
    """A fifth of each digit is held out when every digit has at least 5 samples; else none."""
    return 0.2 if min(counts) >= 5 else 0.0


def holdout_split(labels: torch.Tensor, fraction: float, seed: int = HOLDOUT_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """(taught, held-out) indices: `fraction` of each digit's samples (rounded, at
    least one taught) held out, chosen at random with a fixed seed."""
    gen = torch.Generator().manual_seed(seed)
    taught, held = [], []
    for digit in range(10):
        idx = (labels == digit).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_held = min(int(len(idx) * fraction + 0.5), max(0, len(idx) - 1)) if fraction > 0 else 0
        held.append(idx[:n_held])
        taught.append(idx[n_held:])
    return torch.cat(taught).sort().values, torch.cat(held).sort().values


def handwriting_report(model, digits: HandwritingDigits) -> dict:
    """Accuracy, per-digit figures, confusion and every misread sample of a set."""
    report = test_report(predict_scores(model, digits.images, torch.device("cpu")), digits.labels)
    for wrong in report["misclassified"]:
        wrong["file"] = digits.files[wrong["index"]]
    report["accuracy"] = report.pop("test_acc")
    report["samples"] = len(digits.labels)
    return report
