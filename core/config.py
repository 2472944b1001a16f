"""Training configuration: every option, its allowed values, presets and validation.

One `validate()` serves the command line, the dashboard form and the sweep grid,
so a bad setting is rejected the same way everywhere, before any work starts.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

MODELS = ("lenet1989", "cnn", "mlp")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid")
POOLINGS = ("max", "avg", "lp", "none")
PADDINGS = ("same", "valid")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("none", "step", "cosine", "onecycle")
LOSSES = ("cross_entropy", "mse")
DEVICES = ("auto", "cpu", "cuda")
TRAIN_SIZE = 60_000
IMAGE_SIZE = 28

DEFAULT_WIDTHS = {"cnn": (32, 64), "mlp": (128, 64), "lenet1989": ()}


class ConfigError(ValueError):
    """A setting outside its allowed range; `field` names the offending option."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass
class TrainConfig:
    # model
    model: str = "cnn"
    activation: str = "relu"
    pooling: str = "max"
    dropout: float = 0.25
    batchnorm: bool = True
    widths: tuple[int, ...] | None = None  # None: the model family's default
    kernel_size: int = 3
    padding: str = "same"
    hidden: int = 128  # width of the fully connected layer after the convolutions
    # optimisation
    optimizer: str = "adamw"
    lr: float = 3e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    scheduler: str = "onecycle"
    step_size: int = 10
    gamma: float = 0.1
    epochs: int = 3
    batch_size: int = 128
    loss: str = "cross_entropy"
    label_smoothing: float = 0.0
    ema: float = 0.0  # decay of an exponential moving average of the weights; 0 = off
    # data
    augment: float = 1.0  # 1.0 = +/-15 deg rotation, +/-10% shift and scale; 0 = off
    val_size: int = 5_000
    train_limit: int | None = None  # train on the first N training images only
    tta: bool = False  # average predictions over small shifts when evaluating
    # run
    seed: int = 0
    device: str = "auto"
    name: str = ""
    preset: str | None = None
    data_dir: str | None = None
    sweep_id: str | None = None

    def resolved_widths(self) -> tuple[int, ...]:
        return tuple(self.widths) if self.widths is not None else DEFAULT_WIDTHS[self.model]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["widths"] = list(self.resolved_widths()) if self.model != "lenet1989" else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        if kwargs.get("widths") is not None:
            kwargs["widths"] = tuple(int(w) for w in kwargs["widths"])
        return cls(**kwargs)


# Named recipes. Options given beside --preset override these values.
PRESETS: dict[str, dict] = {
    # LeCun et al. 1989: 16x16 input, tanh, MSE against +/-1 targets, plain
    # per-example SGD (batch 1, lr 0.03 as in Karpathy's reproduction). The
    # paper's 23 passes over 7,291 digits are ~168k updates; 3 epochs over
    # MNIST's 55,000 training digits are ~165k.
    "lenet1989": dict(
        model="lenet1989", optimizer="sgd", lr=0.03, momentum=0.0, weight_decay=0.0,
        scheduler="none", epochs=3, batch_size=1, loss="mse", augment=0.0,
    ),
    # The 24/36-filter CNN of the seed recipe.
    "seed-cnn": dict(
        model="cnn", widths=(24, 36), kernel_size=3, padding="valid", hidden=128,
        activation="relu", pooling="max", batchnorm=True, dropout=0.5,
        optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4,
        scheduler="step", step_size=10, gamma=0.1, epochs=20, batch_size=64,
        augment=1.0,
    ),
    # >= 99.0% test accuracy in as little CPU time as possible: a small net
    # (valid convolutions keep the maps small), two epochs of AdamW + OneCycle.
    "fast": dict(
        model="cnn", widths=(16, 32), kernel_size=3, padding="valid", hidden=128,
        activation="relu", pooling="max", batchnorm=True, dropout=0.0,
        optimizer="adamw", lr=6e-3, weight_decay=1e-4, scheduler="onecycle",
        epochs=2, batch_size=128, augment=0.0, label_smoothing=0.0,
    ),
    # >= 99.6% test accuracy.
    "best": dict(
        model="cnn", widths=(32, 64, 128), kernel_size=3, padding="same", hidden=256,
        activation="relu", pooling="max", batchnorm=True, dropout=0.3,
        optimizer="adamw", lr=3e-3, weight_decay=5e-4, scheduler="onecycle",
        epochs=12, batch_size=128, augment=1.0, label_smoothing=0.1, ema=0.999,
        tta=True,
    ),
}


# Options that mean something only beside certain others: (does it apply?, when it does).
# Elsewhere the engine would silently ignore them, so a value the user gives there is
# refused, and a default or a preset's value is dropped (None in config.json).
def _not_lenet(c: TrainConfig) -> bool:
    return c.model != "lenet1989"


APPLIES_WHEN: dict[str, tuple] = {
    "activation": (_not_lenet, "model is cnn or mlp (lenet1989 is tanh throughout, as in the paper)"),
    "dropout": (_not_lenet, "model is cnn or mlp (lenet1989 has the paper's fixed layers)"),
    "batchnorm": (_not_lenet, "model is cnn or mlp (lenet1989 has the paper's fixed layers)"),
    "widths": (_not_lenet, "model is cnn or mlp (lenet1989 has the paper's fixed layers)"),
    "pooling": (lambda c: c.model == "cnn", "model is cnn"),
    "kernel_size": (lambda c: c.model == "cnn", "model is cnn"),
    "padding": (lambda c: c.model == "cnn", "model is cnn"),
    "hidden": (lambda c: c.model == "cnn", "model is cnn (an mlp's layers are its widths)"),
    "momentum": (lambda c: c.optimizer == "sgd", "optimizer is sgd"),
    "nesterov": (lambda c: c.optimizer == "sgd", "optimizer is sgd"),
    "step_size": (lambda c: c.scheduler == "step", "scheduler is step"),
    "gamma": (lambda c: c.scheduler == "step", "scheduler is step"),
    "label_smoothing": (lambda c: c.loss == "cross_entropy", "loss is cross_entropy"),
}


def not_applicable(field_name: str) -> ConfigError:
    return ConfigError(field_name, f"has no effect unless {APPLIES_WHEN[field_name][1]}")


def from_preset(preset: str | None, **overrides) -> TrainConfig:
    """A config from a preset (or the defaults) with explicit options on top.

    `overrides` are what the user said (None = not said). An option that has no
    effect with the others is refused when the user gave it, and dropped (None)
    when it came from the defaults or the preset.
    """
    values: dict = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError("preset", f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        values.update(PRESETS[preset])
        values["preset"] = preset
    given = {k: v for k, v in overrides.items() if v is not None}
    values.update(given)
    cfg = TrainConfig.from_dict(values)
    for name, (applies, _) in APPLIES_WHEN.items():
        if not applies(cfg):
            if name in given:
                raise not_applicable(name)
            setattr(cfg, name, None)
    validate(cfg)
    return cfg


def _choice(field_name: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(field_name, f"{value!r} is not one of {', '.join(allowed)}")


def _in_range(field_name: str, value, low, high, *, low_open=False, high_open=False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(field_name, f"{value!r} is not a number")
    too_low = value <= low if low_open else value < low
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        lo = f"({low}" if low_open else f"[{low}"
        hi = "inf)" if high is None else (f"{high})" if high_open else f"{high}]")
        raise ConfigError(field_name, f"{value} is outside the allowed range {lo}, {hi}")


def _whole(field_name: str, value, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field_name, f"{value!r} is not a whole number")
    _in_range(field_name, value, low, high)


def feature_map_sizes(cfg: TrainConfig) -> list[int]:
    """Side length after each conv block of the `cnn` model (28 -> ...)."""
    size, sizes = IMAGE_SIZE, []
    pad = cfg.kernel_size // 2 if cfg.padding == "same" else 0
    for _ in cfg.resolved_widths():
        if cfg.pooling == "none":  # a stride-2 convolution does the downsampling
            size = (size + 2 * pad - cfg.kernel_size) // 2 + 1
        else:
            size = (size + 2 * pad - cfg.kernel_size + 1) // 2
        sizes.append(size)
    return sizes


def check_name(name: str) -> None:
    """A run's display name: free text, but short and printable (it is never a path)."""
    if not isinstance(name, str) or len(name) > 100 or any(ord(c) < 32 for c in name):
        raise ConfigError("name", "at most 100 printable characters")


def validate(cfg: TrainConfig) -> None:
    """Raise ConfigError naming the first field outside its allowed values, or set
    where it has no effect (None marks an option that does not apply)."""
    _choice("model", cfg.model, MODELS)
    _choice("optimizer", cfg.optimizer, OPTIMIZERS)
    _choice("scheduler", cfg.scheduler, SCHEDULERS)
    _choice("loss", cfg.loss, LOSSES)
    _choice("device", cfg.device, DEVICES)
    for name, (applies, _) in APPLIES_WHEN.items():
        if not applies(cfg) and getattr(cfg, name) is not None:
            raise not_applicable(name)
    if cfg.model != "lenet1989":
        _choice("activation", cfg.activation, ACTIVATIONS)
        _in_range("dropout", cfg.dropout, 0, 1, high_open=True)
    if cfg.model == "cnn":
        _choice("pooling", cfg.pooling, POOLINGS)
        _choice("padding", cfg.padding, PADDINGS)
        _whole("kernel_size", cfg.kernel_size, 1, 9)
        _whole("hidden", cfg.hidden, 1, 65_536)
    if cfg.optimizer == "sgd":
        _in_range("momentum", cfg.momentum, 0, 1, high_open=True)
        if cfg.nesterov and cfg.momentum == 0:
            raise ConfigError("nesterov", "needs momentum > 0")
    if cfg.scheduler == "step":
        _whole("step_size", cfg.step_size, 1)
        _in_range("gamma", cfg.gamma, 0, 1, low_open=True)
    if cfg.loss == "cross_entropy":
        _in_range("label_smoothing", cfg.label_smoothing, 0, 1, high_open=True)
    _in_range("lr", cfg.lr, 0, 10, low_open=True)
    _in_range("weight_decay", cfg.weight_decay, 0, 1)
    _in_range("ema", cfg.ema, 0, 1, high_open=True)
    _in_range("augment", cfg.augment, 0, 3)
    _whole("epochs", cfg.epochs, 1, 1000)
    _whole("seed", cfg.seed, 0, 2**32 - 1)
    _whole("val_size", cfg.val_size, 1, TRAIN_SIZE - 1)
    train_size = TRAIN_SIZE - cfg.val_size
    if cfg.train_limit is not None:
        _whole("train_limit", cfg.train_limit, 1, train_size)
        train_size = cfg.train_limit
    _whole("batch_size", cfg.batch_size, 1, train_size)
    check_name(cfg.name)
    widths = cfg.resolved_widths()
    if cfg.model != "lenet1989":
        if not 1 <= len(widths) <= 6:
            raise ConfigError("widths", f"give 1 to 6 layer widths, got {len(widths)}")
        for w in widths:
            _whole("widths", w, 1, 4096)
    if cfg.model == "cnn":
        sizes = feature_map_sizes(cfg)
        if sizes[-1] < 1:
            raise ConfigError(
                "widths",
                f"{len(widths)} conv blocks with kernel {cfg.kernel_size} shrink the 28x28 "
                f"image to nothing (sizes {sizes}); use fewer blocks, a smaller kernel or padding 'same'",
            )
