"""Looking inside a trained network: conv kernels and per-layer feature maps,
as plain numpy arrays with the layer names the dashboard labels them by."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from core.engine.models import MLP, ConvNet, LeNet1989


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


def _dense_stages(layers: nn.Sequential, x: torch.Tensor, captured: list[FeatureMaps]) -> None:
    """Run `layers` one by one, recording the output of each Linear as fc1, fc2, ..."""
    dense = 0
    for layer in layers:
        x = layer(x)
        if isinstance(layer, nn.Linear):
            dense += 1
            captured.append(FeatureMaps(f"fc{dense}", x[0].float().cpu().numpy().copy()))


@torch.inference_mode()
def feature_maps(model: nn.Module, x: torch.Tensor) -> list[FeatureMaps]:
    """Activations of every layer for one normalized [1, 1, 28, 28] input.

    The forward pass is walked stage by stage rather than hooked: the app shares
    one cached model between sessions, and a hook on a shared module would hand
    one session's activations to another.
    """
    model.eval()
    if isinstance(model, LeNet1989):
        return [FeatureMaps(name, t[0].float().numpy().copy()) for name, t in model.stages(x).items()]
    captured: list[FeatureMaps] = []
    if isinstance(model, ConvNet):
        for i, block in enumerate(model.features):
            x = block(x)
            captured.append(FeatureMaps(f"block{i + 1}", x[0].float().cpu().numpy().copy()))
        _dense_stages(model.classifier, x, captured)
    elif isinstance(model, MLP):
        _dense_stages(model.layers, x, captured)
    else:
        raise TypeError(f"no feature maps for {type(model).__name__}")
    return captured
