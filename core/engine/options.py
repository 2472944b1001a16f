"""Every training option, defined once: name, type, allowed values or range,
default, help, and which models or settings it applies to.

`core.engine.config` builds TrainConfig and validation from this table, `core.runs.command_line`
the command line, the Train form its widgets and `core.runs.sweeps.plan` the typing
of grid values. Adding an option is one entry here plus its use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

MODELS = ("lenet1989", "cnn", "mlp")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid")
POOLINGS = ("max", "avg", "lp", "none")
PADDINGS = ("same", "valid")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("none", "step", "cosine", "onecycle")
LOSSES = ("cross_entropy", "mse")
DEVICES = ("auto", "cpu", "cuda")
DATASETS = ("mnist", "usps")
TRAIN_SIZES = {"mnist": 60_000, "usps": 7_291}
# Held out to pick the best epoch when --val-size is not given: about a tenth.
DEFAULT_VAL_SIZES = {"mnist": 5_000, "usps": 729}
DEFAULT_WIDTHS = {"cnn": (32, 64), "mlp": (128, 64), "lenet1989": ()}


class ConfigError(ValueError):
    """A setting outside its allowed range; `field` names the offending option."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def parse_widths(text: str) -> tuple[int, ...]:
    """'32,64' or '32/64' -> (32, 64); '' -> (). The one parser of layer lists."""
    try:
        return tuple(int(w) for w in text.replace(" ", "").replace("/", ",").split(",") if w)
    except ValueError:
        raise ValueError(f"widths are whole numbers like 32,64, got {text!r}") from None


@dataclass(frozen=True)
class Option:
    name: str
    kind: type  # bool, int, float, str, or tuple for a list of layer widths
    default: object
    label: str  # as the Train form shows it
    help: str = ""
    group: str = "run"  # model, optimisation, data, run
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    applies: Callable | None = None  # cfg -> whether the option has any effect
    applies_when: str = ""  # the same, in words
    optional: bool = False  # None is a meaning of its own (train_limit: all images)
    step: float | None = None  # the Train form's +/- step for a number

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, text: str):
        """A value typed from text (a grid value, a form field); raises ValueError."""
        text = text.strip()
        if self.kind is bool:
            if text.lower() in ("true", "on", "yes", "1"):
                return True
            if text.lower() in ("false", "off", "no", "0"):
                return False
            raise ValueError(f"{text!r} is not true/false (on/off, 1/0)")
        if self.choices is not None and text not in self.choices:
            raise ValueError(f"{text!r} is not one of {', '.join(self.choices)}")
        if self.kind is tuple:
            return parse_widths(text)
        try:
            return self.kind(text)
        except ValueError:
            kind = {int: "a whole number", float: "a number"}.get(self.kind, "valid")
            raise ValueError(f"{text!r} is not {kind}") from None

    def check(self, value) -> None:
        """Raise ConfigError unless `value` is allowed (type, choices, range)."""
        if value is None and self.optional:
            return
        if self.choices is not None:
            if value not in self.choices:
                raise ConfigError(self.name, f"{value!r} is not one of {', '.join(self.choices)}")
            return
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(self.name, f"{value!r} is not true or false")
            return
        if self.kind is str:
            if not isinstance(value, str):
                raise ConfigError(self.name, f"{value!r} is not text")
            return
        if self.kind is tuple:
            return  # layer lists are checked against the model in core.engine.config
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(self.name, f"{value!r} is not a number")
        if self.kind is int and not isinstance(value, int):
            raise ConfigError(self.name, f"{value!r} is not a whole number")
        check_range(self.name, value, self.low, self.high, low_open=self.low_open, high_open=self.high_open)


def check_range(name: str, value, low, high, *, low_open=False, high_open=False) -> None:
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        lo = "(-inf" if low is None else (f"({low}" if low_open else f"[{low}")
        hi = "inf)" if high is None else (f"{high})" if high_open else f"{high}]")
        raise ConfigError(name, f"{value} is outside the allowed range {lo}, {hi}")


def _cnn(c) -> bool:
    return c.model == "cnn"


def _pooled(c) -> bool:
    return c.model == "cnn" and c.pooling != "none"


def _not_lenet(c) -> bool:
    return c.model != "lenet1989"


FIXED_LENET = "model is cnn or mlp (lenet1989 has the paper's fixed layers)"

OPTIONS: tuple[Option, ...] = (
    # model
    Option("model", str, "cnn", "Model family", group="model", choices=MODELS,
           help="lenet1989: the 1989 paper's fixed net; cnn: configurable; mlp: fully connected baseline"),
    Option("activation", str, "relu", "Activation", group="model", choices=ACTIVATIONS,
           applies=_not_lenet, applies_when="model is cnn or mlp (lenet1989 is tanh throughout, as in the paper)"),
    Option("pooling", str, "max", "Pooling", group="model", choices=POOLINGS, help="none = stride-2 convolution",
           applies=_cnn, applies_when="model is cnn"),
    Option("pool_first", bool, False, "Pool first", group="model",
           help="conv -> pool -> batch norm -> activation: the norm and the activation work on a "
                "quarter of the values (faster to train; off: conv -> norm -> activation -> pool)",
           applies=_pooled, applies_when="model is cnn and pooling is not none"),
    Option("dropout", float, 0.25, "Dropout", group="model", step=0.05, low=0, high=1, high_open=True,
           applies=_not_lenet, applies_when=FIXED_LENET),
    Option("batchnorm", bool, True, "Batch norm", group="model", applies=_not_lenet, applies_when=FIXED_LENET),
    Option("widths", tuple, None, "Widths", group="model", optional=True,
           help="conv channels (cnn) or hidden sizes (mlp), e.g. 32,64; empty = the family's default "
                "(cnn 32,64; mlp 128,64)", applies=_not_lenet, applies_when=FIXED_LENET),
    Option("kernel_size", int, 3, "Kernel size", group="model", low=1, high=9, applies=_cnn,
           applies_when="model is cnn"),
    Option("padding", str, "same", "Padding", group="model", choices=PADDINGS, applies=_cnn,
           applies_when="model is cnn"),
    Option("hidden", int, 128, "Hidden units", group="model", low=1, high=65_536,
           help="units of the cnn's fully connected layer", applies=_cnn,
           applies_when="model is cnn (an mlp's layers are its widths)"),
    # optimisation
    Option("optimizer", str, "adamw", "Optimizer", group="optimisation", choices=OPTIMIZERS),
    Option("lr", float, 3e-3, "Learning rate", group="optimisation", step=1e-4, low=0, high=10, low_open=True,
           help="the peak rate under onecycle"),
    Option("momentum", float, 0.9, "Momentum", group="optimisation", step=0.05, low=0, high=1, high_open=True,
           applies=lambda c: c.optimizer == "sgd", applies_when="optimizer is sgd"),
    Option("nesterov", bool, False, "Nesterov", group="optimisation",
           applies=lambda c: c.optimizer == "sgd", applies_when="optimizer is sgd"),
    Option("weight_decay", float, 5e-4, "Weight decay", group="optimisation", step=1e-4, low=0, high=1),
    Option("scheduler", str, "onecycle", "LR schedule", group="optimisation", choices=SCHEDULERS),
    Option("step_size", int, 10, "Step size (epochs)", group="optimisation", low=1,
           help="epochs between decays of the step schedule",
           applies=lambda c: c.scheduler == "step", applies_when="scheduler is step"),
    Option("gamma", float, 0.1, "Gamma", group="optimisation", step=0.05, low=0, high=1, low_open=True,
           help="decay factor of the step schedule",
           applies=lambda c: c.scheduler == "step", applies_when="scheduler is step"),
    Option("epochs", int, 3, "Epochs", group="optimisation", low=1, high=1000),
    Option("batch_size", int, 128, "Batch size", group="optimisation", low=1),
    Option("loss", str, "cross_entropy", "Loss", group="optimisation", choices=LOSSES,
           help="mse is the 1989 paper's: tanh outputs against +/-1 targets"),
    Option("label_smoothing", float, 0.0, "Label smoothing", group="optimisation", step=0.05, low=0, high=1,
           high_open=True,
           applies=lambda c: c.loss == "cross_entropy", applies_when="loss is cross_entropy"),
    Option("ema", float, 0.0, "EMA decay", group="optimisation", step=0.001, low=0, high=1, high_open=True,
           help="decay of a moving average of the weights, e.g. 0.999; 0 = off"),
    # data
    Option("dataset", str, "mnist", "Dataset", group="data", choices=DATASETS,
           help="mnist: 60,000 + 10,000 digits; usps: the 1989 paper's 7,291 + 2,007 zip-code digits, at "
                "28x28 as MNIST was made (16x16 as published for lenet1989). Every run is also scored on the "
                "other one's test set."),
    Option("augment", float, 1.0, "Affine augmentation", group="data", step=0.25, low=0, high=3,
           help="1 = +/-15 deg rotation, +/-10% shift and scale; 0 = off"),
    Option("elastic", float, 0.0, "Elastic distortion", group="data", step=0.25, low=0, high=3,
           help="1 = Simard et al. 2003 (random displacements smoothed with sigma 4 px, scaled by 34); 0 = off"),
    Option("thickness", float, 0.0, "Stroke thickness", group="data", step=0.25, low=0, high=1,
           help="strokes made up to this much thinner or bolder at random (1 = about 2 px bolder or 1 px "
                "thinner); 0 = off"),
    Option("slant", float, 0.0, "Slant (degrees)", group="data", step=5.0, low=0, high=45,
           help="digits leaned left or right by up to this many degrees; 0 = off"),
    Option("val_size", int, None, "Validation images", group="data", step=1000, low=0, optional=True,
           help="training images held out to pick the best epoch (empty = the dataset's default: "
                "5,000 for MNIST, 729 for USPS); 0 = none held out: no selection, the last epoch is kept"),
    Option("train_limit", int, None, "Train limit", group="data", step=1000, low=1, optional=True,
           help="train on the first N training images only (empty = all)"),
    Option("tta", bool, False, "Test-time augmentation", group="data",
           help="average the final report's predictions over one-pixel shifts"),
    Option("data_dir", str, None, "Data folder", group="data", optional=True,
           help="a folder holding MNIST/raw/ and USPS/ (else $MNIST_DATA_DIR, else a per-user cache where "
                "torchvision downloads them)"),
    # run
    Option("seed", int, 0, "Seed", low=0, high=2**32 - 1),
    Option("device", str, "auto", "Device", choices=DEVICES),
    Option("name", str, "", "Run name", help="a display name for the run"),
)

OPTION = {o.name: o for o in OPTIONS}
GROUPS = ("model", "optimisation", "data", "run")
