"""Looking inside a trained network: conv kernels and per-layer feature maps,
as plain numpy arrays with the layer names the dashboard labels them by."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from core.models import LeNet1989


@dataclass
class Kernels:
    layer: str
    weights: np.ndarray  # [out_channels, in_channels, k, k]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.weights.shape)


def conv_kernels(model: nn.Module) -> list[Kernels]:
    """The weights of every conv layer, in forward order."""
    if isinstance(model, LeNet1989):
        # H2's three partial convolutions are one layer in the paper: show 12 maps x 8 inputs.
        h2 = torch.cat([conv.weight for conv in model.h2])
        return [Kernels("H1", model.h1.weight.detach().numpy().copy()),
                Kernels("H2", h2.detach().numpy().copy())]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    # "conv1", "conv2", ... in forward order: module paths like "features.1.0" say little.
    return [Kernels(f"conv{i + 1}", m.weight.detach().cpu().numpy().copy()) for i, m in enumerate(convs)]


@dataclass
class FeatureMaps:
    layer: str
    maps: np.ndarray  # [channels, H, W] for spatial layers, [units] for dense ones


def _watched_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers worth showing: the output of each conv block / dense layer."""
    watched = []
    features = getattr(model, "features", None)
    if features is not None:
        watched += [(f"block{i + 1}", block) for i, block in enumerate(features)]
        watched += [(f"fc{i + 1}", m) for i, m in enumerate(m for m in model.classifier if isinstance(m, nn.Linear))]
    else:
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        watched += [(f"fc{i + 1}", m) for i, m in enumerate(linears)]
    return watched


@torch.inference_mode()
def feature_maps(model: nn.Module, x: torch.Tensor) -> list[FeatureMaps]:
    """Activations of every layer for one normalized [1, 1, 28, 28] input."""
    model.eval()
    if isinstance(model, LeNet1989):
        return [FeatureMaps(name, t[0].float().numpy().copy()) for name, t in model.stages(x).items()]
    captured: list[FeatureMaps] = []
    handles = [
        module.register_forward_hook(
            lambda _m, _inp, out, name=name: captured.append(FeatureMaps(name, out[0].float().cpu().numpy().copy()))
        )
        for name, module in _watched_layers(model)
    ]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return captured
