"""A model's layers as a table a learner can read: each layer's name, kind, output
shape and parameter count, for the settings of a run before it is trained.

The rows come from a freshly built model fed one blank image, so they are what
training will build, never a second description of it that could drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from core.engine.config import TrainConfig
from core.engine.models import LeNet1989, build_model


@dataclass(frozen=True)
class LayerRow:
    name: str  # conv1, pool1, fc1, ... (H1, H2, ... for the 1989 net)
    kind: str  # "Conv2d 3x3 pad 1", "MaxPool 2x2", "Linear", ...
    output_shape: tuple[int, ...]  # without the batch dimension
    parameters: int


# Short names by layer type, numbered in forward order: conv1, bn1, act1, pool1, ...
# (conv and fc as core.engine.introspect names the kernels and dense maps).
_PREFIXES = ((nn.Conv2d, "conv"), ((nn.BatchNorm1d, nn.BatchNorm2d), "bn"), (nn.Linear, "fc"),
             ((nn.MaxPool2d, nn.AvgPool2d, nn.LPPool2d), "pool"), (nn.Dropout, "drop"), (nn.Flatten, "flatten"))
_POOL_KINDS = {nn.MaxPool2d: "MaxPool", nn.AvgPool2d: "AvgPool", nn.LPPool2d: "LPPool"}


def _prefix(layer: nn.Module) -> str:
    return next((prefix for kinds, prefix in _PREFIXES if isinstance(layer, kinds)), "act")


def _pair(value) -> int:
    return value[0] if isinstance(value, tuple) else value


def _kind(layer: nn.Module) -> str:
    """What the layer does, in the words a course would use."""
    if isinstance(layer, nn.Conv2d):
        k, stride, pad = _pair(layer.kernel_size), _pair(layer.stride), _pair(layer.padding)
        return f"Conv2d {k}x{k}" + (f" stride {stride}" if stride != 1 else "") + (f" pad {pad}" if pad else "")
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return "BatchNorm"
    if type(layer) in _POOL_KINDS:
        k = _pair(layer.kernel_size)
        return f"{_POOL_KINDS[type(layer)]} {k}x{k}"
    if isinstance(layer, nn.Dropout):
        return f"Dropout p={layer.p:g}"
    return type(layer).__name__  # Linear, Flatten, ReLU, Tanh, ...


def _own_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters(recurse=False))


def _leaf_rows(model: nn.Module, x: torch.Tensor) -> list[LayerRow]:
    """One row per leaf layer, in the order the forward pass runs them."""
    leaves = [m for m in model.modules() if not list(m.children())]
    shapes: dict[nn.Module, tuple[int, ...]] = {}  # filled in forward order

    def record(layer, inputs, output):
        shapes[layer] = tuple(output.shape[1:])

    handles = [m.register_forward_hook(record) for m in leaves]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    rows, counts = [], {}
    for layer in shapes:
        prefix = _prefix(layer)
        counts[prefix] = counts.get(prefix, 0) + 1
        name = prefix if prefix == "flatten" else f"{prefix}{counts[prefix]}"
        rows.append(LayerRow(name, _kind(layer), shapes[layer], _own_parameters(layer)))
    return rows


# The 1989 net's parameters by the paper's layer they belong to (h1.weight and h1_bias are H1's).
_LENET_STAGES = {"h1": ("H1", "Conv2d 5x5 stride 2 + tanh"),
                 "h2": ("H2", "Conv2d 5x5 stride 2, each map reads 8 of H1's 12 + tanh"),
                 "h3": ("H3", "Linear + tanh"), "out": ("output", "Linear + tanh")}


def _lenet_rows(model: LeNet1989, x: torch.Tensor) -> list[LayerRow]:
    """The paper's layers: every map has its own bias per unit, so the rows follow
    the paper's stages rather than the torch modules."""
    stages = model.stages(x)
    params: dict[str, int] = {}
    for name, p in model.named_parameters():
        stage = _LENET_STAGES[name.split(".")[0].removesuffix("_bias")][0]
        params[stage] = params.get(stage, 0) + p.numel()
    resize = "Resize to 16x16, scale" if x.shape[-1] != 16 else "Scale"
    rows = [LayerRow("input16", f"{resize} to [-1, 1]", tuple(stages["input16"].shape[1:]), 0)]
    rows += [LayerRow(stage, kind, tuple(stages[stage].shape[1:]), params[stage])
             for stage, kind in _LENET_STAGES.values()]
    return rows


@torch.no_grad()
def layer_table(cfg: TrainConfig) -> list[LayerRow]:
    """The layers `cfg` trains, from its input image to the ten scores."""
    model = build_model(cfg).eval()  # eval: batch norm over one blank image would refuse
    side = cfg.input_side()
    x = torch.zeros(1, 1, side, side)
    rows = [LayerRow("input", "Image", (1, side, side), 0)]
    return rows + (_lenet_rows(model, x) if isinstance(model, LeNet1989) else _leaf_rows(model, x))


def total_parameters(rows: list[LayerRow]) -> int:
    return sum(row.parameters for row in rows)
