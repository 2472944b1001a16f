"""What a classifier reads: the input of its last linear layer (every model family ends
in one: cnn's and mlp's output layer, lenet1989's `out`), for a batch of digits."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from core.engine.data import normalize


def last_linear(model: nn.Module) -> nn.Linear:
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1]


def penultimate(model: nn.Module, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """[N, D] features of uint8 [N, side, side] digits."""
    return features_and_scores(model, images, batch)[0]


@torch.no_grad()
def features_and_scores(model: nn.Module, images: torch.Tensor, batch: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """([N, D] features, [N, 10] the model's scores) in one pass over the digits."""
    seen: list[torch.Tensor] = []
    scores: list[torch.Tensor] = []
    handle = last_linear(model).register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    try:
        model.eval()
        for start in range(0, len(images), batch):
            scores.append(model(normalize(images[start:start + batch])))
    finally:
        handle.remove()
    if not seen:
        return torch.empty(0), torch.empty(0)
    return torch.cat(seen).flatten(1), torch.cat(scores)


def stratified_sample(labels: torch.Tensor, n: int, seed: int) -> np.ndarray:
    """Indices of `n` digits, as near an equal share per class as the set allows, drawn
    with `seed`, in the set's order."""
    labels = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    share, picked = n // len(by_class), []
    for members in by_class:
        picked.extend(members[:share])
    # The remainder from the leftovers of every class, at random.
    leftovers = np.concatenate([members[share:] for members in by_class])
    picked.extend(rng.permutation(leftovers)[: n - len(picked)])
    return np.sort(np.asarray(picked, dtype=np.int64))
