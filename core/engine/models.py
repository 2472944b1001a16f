"""The three model families. All take normalized [N, 1, 28, 28] input and return
ten scores, so training, evaluation, introspection and prediction treat them alike.
Each family takes a small typed config of what builds it (the 1989 net: nothing);
`build_model` cuts it out of the run's TrainConfig."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.engine.config import TrainConfig
from core.engine.data import MNIST_MEAN, MNIST_STD
from core.engine.model_size import block_sides


def make_activation(name: str) -> nn.Module:
    return {
        "relu": nn.ReLU,
        "leaky_relu": lambda: nn.LeakyReLU(0.1),
        "elu": nn.ELU,
        "gelu": nn.GELU,
        "silu": nn.SiLU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
    }[name]()


class LeNet1989(nn.Module):
    """LeCun et al. 1989, "Backpropagation Applied to Handwritten Zip Code Recognition".

    16x16 input in [-1, 1] (28x28 input is resized to it); H1: 12 maps 8x8 (5x5, stride 2); H2: 12 maps 4x4
    (5x5, stride 2), each map reading 8 of the 12 H1 maps; H3: 30 units; 10
    outputs; tanh everywhere; every unit has its own bias, as in the paper.
    9,760 free parameters. Follows Karpathy's lecun1989-repro.
    """

    # Which 8 of the 12 H1 maps each group of 4 H2 maps reads.
    H2_INPUTS = (list(range(0, 8)), list(range(4, 12)), list(range(0, 4)) + list(range(8, 12)))

    def __init__(self):
        super().__init__()
        self.h1 = nn.Conv2d(1, 12, 5, stride=2, bias=False)
        self.h1_bias = nn.Parameter(torch.zeros(12, 8, 8))
        self.h2 = nn.ModuleList(nn.Conv2d(8, 4, 5, stride=2, bias=False) for _ in self.H2_INPUTS)
        self.h2_bias = nn.Parameter(torch.zeros(12, 4, 4))
        self.h3 = nn.Linear(12 * 4 * 4, 30)
        self.out = nn.Linear(30, 10)
        # The paper's init: uniform in +/- 2.4 / sqrt(fan_in); biases zero.
        for layer in [self.h1, *self.h2, self.h3, self.out]:
            fan_in = layer.weight[0].numel()
            nn.init.uniform_(layer.weight, -2.4 / fan_in**0.5, 2.4 / fan_in**0.5)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)

    def stages(self, x) -> dict[str, torch.Tensor]:
        """Every layer's output by the paper's names (the dashboard shows them all)."""
        # Back to [0, 1], down to the paper's 16x16, then to its [-1, 1] range.
        # USPS digits come as published, at 16x16 already.
        x = x * MNIST_STD + MNIST_MEAN
        if x.shape[-2:] != (16, 16):
            x = F.interpolate(x, size=(16, 16), mode="bilinear", antialias=True, align_corners=False)
        x16 = x * 2 - 1
        # Pad with -1 (background), so 16x16 gives 8x8 with stride 2.
        h1 = torch.tanh(self.h1(F.pad(x16, (2, 2, 2, 2), value=-1.0)) + self.h1_bias)
        padded = F.pad(h1, (2, 2, 2, 2), value=-1.0)
        h2 = torch.cat([conv(padded[:, idx]) for conv, idx in zip(self.h2, self.H2_INPUTS)], dim=1)
        h2 = torch.tanh(h2 + self.h2_bias)
        h3 = torch.tanh(self.h3(h2.flatten(1)))
        return {"input16": x16, "H1": h1, "H2": h2, "H3": h3, "output": torch.tanh(self.out(h3))}

    def forward(self, x):
        return self.stages(x)["output"]


# No defaults here: the option table (core.engine.options) holds them, once.
@dataclass(frozen=True)
class ConvNetConfig:
    widths: tuple[int, ...]
    kernel_size: int
    padding: str
    hidden: int
    activation: str
    pooling: str
    pool_first: bool | None
    batchnorm: bool
    dropout: float


@dataclass(frozen=True)
class MLPConfig:
    widths: tuple[int, ...]
    activation: str
    batchnorm: bool
    dropout: float


POOLS = {"max": lambda: nn.MaxPool2d(2), "avg": lambda: nn.AvgPool2d(2), "lp": lambda: nn.LPPool2d(2, 2)}


def conv_block(cin: int, cout: int, cfg: ConvNetConfig) -> nn.Sequential:
    """Conv -> [BatchNorm] -> activation -> pooling; with `pool_first`, conv -> pooling ->
    [BatchNorm] -> activation (the same shapes, a quarter of the values to normalize and
    activate); with pooling "none", a stride-2 conv does the downsampling."""
    pad = cfg.kernel_size // 2 if cfg.padding == "same" else 0
    stride = 2 if cfg.pooling == "none" else 1
    conv = nn.Conv2d(cin, cout, cfg.kernel_size, stride=stride, padding=pad, bias=not cfg.batchnorm)
    norm_and_activation = [*([nn.BatchNorm2d(cout)] if cfg.batchnorm else []), make_activation(cfg.activation)]
    if cfg.pooling not in POOLS:
        return nn.Sequential(conv, *norm_and_activation)
    pool = POOLS[cfg.pooling]()
    if cfg.pool_first:
        return nn.Sequential(conv, pool, *norm_and_activation)
    return nn.Sequential(conv, *norm_and_activation, pool)


class ConvNet(nn.Module):
    """Configurable modern CNN: conv blocks, then FC hidden -> dropout -> FC 10."""

    def __init__(self, cfg: ConvNetConfig):
        super().__init__()
        widths = cfg.widths
        self.features = nn.Sequential(
            *(conv_block(cin, cout, cfg) for cin, cout in zip((1, *widths[:-1]), widths))
        )
        # Worked out, not measured with a forward pass: on the meta device (where checkpoints
        # are checked) that pass would import torch's compiler, 1.4 s.
        side = block_sides(len(widths), cfg.kernel_size, cfg.padding, cfg.pooling)[-1][1]
        if side < 1:  # validation refuses such a config; a crafted checkpoint's is refused here
            raise ValueError(f"{len(widths)} conv blocks of kernel {cfg.kernel_size} shrink 28x28 to nothing")
        flat = widths[-1] * side * side
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, cfg.hidden),
            make_activation(cfg.activation),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class MLP(nn.Module):
    """Fully connected baseline, 784-128-64-10 by default."""

    def __init__(self, cfg: MLPConfig):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        widths = cfg.widths
        for cin, cout in zip((28 * 28, *widths[:-1]), widths):
            layers.append(nn.Linear(cin, cout, bias=not cfg.batchnorm))
            if cfg.batchnorm:
                layers.append(nn.BatchNorm1d(cout))
            layers += [make_activation(cfg.activation), nn.Dropout(cfg.dropout)]
        layers.append(nn.Linear(widths[-1], 10))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def family_config(family: type, cfg: TrainConfig):
    """The fields of `family` (ConvNetConfig, MLPConfig) taken from a run's config."""
    values = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(family) if f.name != "widths"}
    return family(widths=cfg.resolved_widths(), **values)


def build_model(cfg: TrainConfig) -> nn.Module:
    if cfg.model == "lenet1989":
        return LeNet1989()
    if cfg.model == "cnn":
        return ConvNet(family_config(ConvNetConfig, cfg))
    return MLP(family_config(MLPConfig, cfg))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
