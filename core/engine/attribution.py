"""Why this answer: per-pixel attribution maps for one digit, built on Captum.

Every map answers "how much did this pixel's ink push the class score up (> 0)
or down (< 0), compared with a blank page?". The blank page (no ink, in
normalized form) is the baseline of both methods, so a pixel with no ink and no
change from blank gets no credit.

The app shares one cached model between sessions and threads, so nothing here
touches it: no hooks, no train/eval switch, no weight or .grad change. Captum's
Integrated Gradients and Occlusion only run the model forward and ask autograd
for the gradient with respect to the input (torch.autograd.grad), never .backward().
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from captum.attr import IntegratedGradients, Occlusion

from core.engine.data import normalize

METHODS = {"integrated_gradients": "Integrated Gradients", "occlusion": "Occlusion"}

# 64 steps keep IG's completeness error (sum of the map vs the score change) to
# a few percent on the trained CNNs; the batch bound keeps memory small.
IG_STEPS = 64
IG_BATCH = 64
OCCLUSION_BATCH = 64  # occluded copies per forward pass


@dataclass(frozen=True)
class Explanation:
    """Attribution maps for one input, [H, W] like the input. `predicted` and
    `runner_up` are the two classes explained: the model's top two unless
    explain() was given `target` / `versus`."""

    method: str
    predicted: int
    runner_up: int
    probs: np.ndarray  # [10] softmax of the model's scores
    toward_predicted: np.ndarray  # [H, W] float32
    toward_runner_up: np.ndarray  # [H, W] float32

    @property
    def contrast(self) -> np.ndarray:
        """Why `predicted` rather than `runner_up`. For IG this is exactly IG of the
        score difference: IG is linear in the output and both use the same path."""
        return self.toward_predicted - self.toward_runner_up


def blank_like(x: torch.Tensor) -> torch.Tensor:
    """A page with no ink, normalized as the model's inputs are (not zeros:
    zero in normalized form is light grey ink)."""
    side_h, side_w = x.shape[-2:]
    return normalize(torch.zeros(1, side_h, side_w, dtype=torch.uint8)).to(x.device)


def occlusion_window(side: int) -> tuple[int, int]:
    """(window, stride) that scale with the image: 4x4 stride 2 at 28, 3x3 stride 1 at 16."""
    window = math.ceil(side / 7)
    return window, max(1, window // 2)


def _top_two(probs: torch.Tensor, target: int | None, versus: int | None) -> tuple[int, int]:
    order = [int(c) for c in probs.argsort(descending=True)]
    target = order[0] if target is None else int(target)
    versus = next(c for c in order if c != target) if versus is None else int(versus)
    if not (0 <= target < len(order) and 0 <= versus < len(order)) or target == versus:
        raise ValueError(f"target and versus must be two different classes in 0..{len(order) - 1}, "
                         f"got {target} and {versus}")
    return target, versus


def explain(model: nn.Module, x: torch.Tensor, method: str = "integrated_gradients",
            target: int | None = None, versus: int | None = None) -> Explanation:
    """Attribution maps for one normalized input [1, 1, H, W], exactly as the model takes it.

    Attributes the class scores (logits), not the probabilities: a confident
    softmax is flat, so its gradients vanish and occluding a stroke barely moves
    it, and one class's probability also depends on every other class's score.
    Scores keep the maps readable and make the contrast a plain difference.
    """
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    if x.dim() != 4 or x.shape[:2] != (1, 1):
        raise ValueError(f"explain takes one input shaped [1, 1, H, W], got {list(x.shape)}")
    if model.training:  # dropout would make the maps random, BatchNorm would update its statistics
        raise ValueError("explain needs a model in eval mode")
    device = next(model.parameters()).device
    # Our own copy, outside any caller's inference mode: Captum marks it requires_grad.
    with torch.inference_mode(False), torch.enable_grad():
        x = x.detach().clone().float().to(device)
        with torch.no_grad():
            probs = model(x).softmax(1)[0].cpu()
        target, versus = _top_two(probs, target, versus)
        baseline = blank_like(x)
        if method == "integrated_gradients":
            # One row per class: each needs its own gradient.
            maps = IntegratedGradients(model).attribute(
                x.expand(2, -1, -1, -1).clone(), baselines=baseline, target=[target, versus],
                n_steps=IG_STEPS, internal_batch_size=IG_BATCH)
        else:
            # Both scores as the output: Captum attributes each output element, so
            # one set of occluded copies serves both classes (half the forward passes).
            window, stride = occlusion_window(x.shape[-1])
            maps = Occlusion(lambda batch: model(batch)[:, [target, versus]]).attribute(
                x, sliding_window_shapes=(1, window, window), strides=(1, stride, stride),
                baselines=baseline, perturbations_per_eval=OCCLUSION_BATCH)
    maps = maps.detach().reshape(2, *x.shape[-2:]).cpu().numpy().astype(np.float32)
    return Explanation(method=method, predicted=target, runner_up=versus, probs=probs.numpy().astype(np.float64),
                       toward_predicted=maps[0], toward_runner_up=maps[1])


