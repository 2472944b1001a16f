"""Scoring a model on a labelled set: loss and accuracy per epoch, and the full
test report (confusion matrix, per-class metrics, misclassified digits)."""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.engine.data import normalize

# Measured on 2 cores (bench/score_throughput.py), images/s with 2 threads, batches of 64/128/256/512:
# the fast preset's model 37.7k/38.9k/38.9k/15.2k, the default model's 8.1k/9.3k/8.4k/3.5k; one thread
# about half. Larger batches fall out of the cache.
EVAL_BATCH = 128
# Every core torch was given at start: what a run scores with, even one whose training
# steps are too small for a second thread (core.engine.trainer).
SCORING_THREADS = torch.get_num_threads()
# Test-time augmentation: the image itself plus one-pixel shifts (never flips:
# a flipped 2 is not a 2).
TTA_SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))


def loss_fn(loss: str, label_smoothing: float = 0.0):
    """Scores -> scalar loss. `mse` is the 1989 paper's: tanh outputs against +/-1 targets."""
    if loss == "mse":
        def mse(scores, target):
            target = F.one_hot(target, 10).to(scores.dtype) * 2 - 1
            return F.mse_loss(scores, target)
        return mse
    return nn.CrossEntropyLoss(label_smoothing=label_smoothing)


@torch.inference_mode()
def predict_scores(model: nn.Module, images: torch.Tensor, device: torch.device, tta: bool = False) -> torch.Tensor:
    """Scores for [N, 28, 28] uint8 images, in batches, returned on the CPU, on the
    threads the process has (scoring never changes them: it runs beside other threads)."""
    return _predict_scores(model, images, device, tta)


@contextlib.contextmanager
def using_threads(n: int):
    """torch's intra-op threads set to `n` for the block, then put back. The count is the
    whole process's (a thread created meanwhile keeps `n`): only for a process of one
    thread, such as a run's."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _predict_scores(model: nn.Module, images: torch.Tensor, device: torch.device, tta: bool) -> torch.Tensor:
    model.eval()
    # One copy each way, not one per batch (on a GPU each .cpu() would also wait for the device).
    images, outs = images.to(device), []
    for start in range(0, len(images), EVAL_BATCH):
        x = normalize(images[start : start + EVAL_BATCH])
        if tta:
            probs = sum(
                model(torch.roll(x, shifts=s, dims=(2, 3))).softmax(1) for s in TTA_SHIFTS
            ) / len(TTA_SHIFTS)
            outs.append(probs.log())  # log-probs: softmax of them gives the mean probs back
        else:
            outs.append(model(x).float())
    return torch.cat(outs).cpu()


def score(model, images, labels, device, loss: str) -> tuple[float, float]:
    """(mean loss, accuracy) on a labelled set; the loss is plain, without smoothing."""
    return loss_and_accuracy(predict_scores(model, images, device), labels, loss)


def loss_and_accuracy(scores: torch.Tensor, labels: torch.Tensor, loss: str) -> tuple[float, float]:
    """(mean plain loss, accuracy) of scores already computed."""
    return loss_fn(loss)(scores, labels).item(), (scores.argmax(1) == labels).float().mean().item()


def test_report(scores: torch.Tensor, labels: torch.Tensor) -> dict:
    """Confusion matrix (rows = true class), per-class P/R/F1, every misclassified digit."""
    # For the 1989 net's tanh outputs softmax is not calibrated, but it ranks them and sums to 1.
    probs = scores.softmax(1)
    pred = probs.argmax(1)
    confusion = torch.bincount(labels * 10 + pred, minlength=100).reshape(10, 10)
    tp = confusion.diag().double()
    precision = tp / confusion.sum(0).clamp(min=1)
    recall = tp / confusion.sum(1).clamp(min=1)
    f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
    wrong = (pred != labels).nonzero().flatten()
    return {
        "test_acc": (tp.sum() / len(labels)).item(),
        "confusion": confusion.tolist(),
        "per_class": [
            {"class": c, "precision": precision[c].item(), "recall": recall[c].item(),
             "f1": f1[c].item(), "support": int(confusion[c].sum())}
            for c in range(10)
        ],
        "misclassified": [
            {"index": int(i), "true": int(labels[i]), "pred": int(pred[i]),
             "probs": [round(p, 5) for p in probs[i].tolist()]}
            for i in wrong
        ],
    }
