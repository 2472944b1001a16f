"""TrainConfig (one field per option of `core.engine.options`, plus the preset it came
from and its sweep), the named recipes, and validation.

One `validate()` serves the command line, the dashboard form and the sweep grid,
so a bad setting is rejected the same way everywhere, before any work starts.
"""

from __future__ import annotations

import dataclasses

from core.engine.model_size import (
    MAX_ACTIVATIONS,
    MAX_PARAMETERS,
    activations_per_image,
    feature_map_sizes,
    parameter_count,
)
from core.engine.options import (
    ACTIVATIONS,
    DATASETS,
    DEFAULT_VAL_SIZES,
    DEFAULT_WIDTHS,
    DEVICES,
    LOSSES,
    MODELS,
    OPTIMIZERS,
    OPTION,
    OPTIONS,
    PADDINGS,
    POOLINGS,
    SCHEDULERS,
    TRAIN_SIZES,
    ConfigError,
    check_range,
)

__all__ = ["TrainConfig", "PRESETS", "ConfigError", "from_preset", "validate", "check_name", "feature_map_sizes",
           "MODELS", "ACTIVATIONS", "POOLINGS", "PADDINGS", "OPTIMIZERS", "SCHEDULERS", "LOSSES", "DEVICES",
           "DATASETS", "TRAIN_SIZES", "IMAGE_SIZE"]

IMAGE_SIZE = 28


@dataclasses.dataclass
class TrainConfig:
    """Every option of a training run, in the order of `core.engine.options.OPTIONS`
    (which holds each one's help, range, choices and when it applies; a test checks the
    two agree). None marks an option that does not apply to this configuration."""

    # model
    model: str = "cnn"
    activation: str | None = "relu"
    pooling: str | None = "max"
    pool_first: bool | None = False
    dropout: float | None = 0.25
    batchnorm: bool | None = True
    widths: tuple[int, ...] | None = None  # None: the model family's default
    kernel_size: int | None = 3
    padding: str | None = "same"
    hidden: int | None = 128
    # optimisation
    optimizer: str = "adamw"
    lr: float = 0.003
    momentum: float | None = 0.9
    nesterov: bool | None = False
    weight_decay: float = 0.0005
    scheduler: str = "onecycle"
    step_size: int | None = 10
    gamma: float | None = 0.1
    epochs: int = 3
    batch_size: int = 128
    loss: str = "cross_entropy"
    label_smoothing: float | None = 0.0
    ema: float = 0.0
    # data
    dataset: str = "mnist"
    augment: float = 1.0
    elastic: float = 0.0
    thickness: float = 0.0
    slant: float = 0.0
    val_size: int | None = None  # None: the dataset's default
    train_limit: int | None = None
    tta: bool = False
    data_dir: str | None = None
    # run
    seed: int = 0
    device: str = "auto"
    name: str = ""
    # where it came from
    preset: str | None = None
    sweep_id: str | None = None

    def resolved_widths(self) -> tuple[int, ...]:
        """The layer widths, the model family's default when none were given."""
        return tuple(self.widths) if self.widths is not None else DEFAULT_WIDTHS[self.model]

    def resolved_val_size(self) -> int:
        """Images held out for validation, the dataset's default when none was given."""
        return self.val_size if self.val_size is not None else DEFAULT_VAL_SIZES.get(self.dataset, 0)

    def input_side(self) -> int:
        """The side of the images the model is fed: the 1989 net takes USPS's 16x16 as published."""
        return 16 if self.model == "lenet1989" and self.dataset == "usps" else IMAGE_SIZE

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["widths"] = list(self.resolved_widths()) if self.model != "lenet1989" else None
        d["val_size"] = self.resolved_val_size()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        if kwargs.get("widths") is not None:
            kwargs["widths"] = tuple(int(w) for w in kwargs["widths"])
        cfg = cls(**kwargs)
        # An option newer than the run that wrote `d` takes its default where it applies, None elsewhere.
        for option in OPTIONS:
            if option.name not in d and option.applies is not None and not option.applies(cfg):
                setattr(cfg, option.name, None)
        return cfg


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
    # The paper on its own data: all 7,291 zip-code digits at 16x16, 23 passes of
    # per-example SGD, nothing held out and no selection (the last pass is kept),
    # train and test error after every pass. Plain SGD stands in for the paper's
    # diagonal Levenberg-Marquardt step sizes, as in Karpathy's reproduction.
    "lenet1989-paper": dict(
        model="lenet1989", dataset="usps", optimizer="sgd", lr=0.03, momentum=0.0, weight_decay=0.0,
        scheduler="none", epochs=23, batch_size=1, loss="mse", augment=0.0, val_size=0,
    ),
    # The 24/36-filter CNN of the seed recipe.
    "seed-cnn": dict(
        model="cnn", widths=(24, 36), kernel_size=3, padding="valid", hidden=128,
        activation="relu", pooling="max", batchnorm=True, dropout=0.5,
        optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4,
        scheduler="step", step_size=10, gamma=0.1, epochs=20, batch_size=64,
        augment=1.0,
    ),
    # >= 99.0% test accuracy in as little CPU time as possible: a small net (valid 5x5
    # convolutions keep the maps small and see more of the stroke than 3x3) that pools
    # before batch norm and ReLU (a quarter of their work, and 0.1 point better here),
    # one epoch of AdamW + OneCycle in batches of 128; label smoothing is worth 0.2-0.3
    # points. Seeds 0-4: 99.15-99.29% (bench/time_to_99.py).
    "fast": dict(
        model="cnn", widths=(16, 32), kernel_size=5, padding="valid", hidden=64,
        activation="relu", pooling="max", pool_first=True, batchnorm=True, dropout=0.0,
        optimizer="adamw", lr=6e-3, weight_decay=1e-4, scheduler="onecycle",
        epochs=1, batch_size=128, augment=0.0, label_smoothing=0.1,
    ),
    # The default model: MNIST's best recipe made for real handwriting, with pens
    # thinner and bolder than MNIST's, slanted writing and shaky hands; no TTA, so
    # the Draw page and core.predict see exactly what the report scores.
    "handwriting": dict(
        model="cnn", widths=(32, 64, 128), kernel_size=3, padding="same", hidden=256,
        activation="relu", pooling="max", batchnorm=True, dropout=0.3,
        optimizer="adamw", lr=3e-3, weight_decay=5e-4, scheduler="onecycle",
        epochs=20, batch_size=128, augment=1.0, thickness=0.7, slant=12.0,
        label_smoothing=0.1, ema=0.999,
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



def not_applicable(field_name: str) -> ConfigError:
    return ConfigError(field_name, f"has no effect unless {OPTION[field_name].applies_when}")


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
    for option in OPTIONS:  # without effect: dropped if nobody said it, refused by validate if someone did
        if option.applies is not None and not option.applies(cfg) and option.name not in given:
            setattr(cfg, option.name, None)
    validate(cfg)
    return cfg


def check_name(name: str) -> None:
    """A run's display name: free text, but short and printable (it is never a path)."""
    if not isinstance(name, str) or len(name) > 100 or any(ord(c) < 32 for c in name):
        raise ConfigError("name", "at most 100 printable characters")


def validate(cfg: TrainConfig) -> None:
    """Raise ConfigError naming the first field outside its allowed values, or set
    where it has no effect (None marks an option that does not apply)."""
    for option in OPTIONS:  # the options others depend on come first in the table
        value = getattr(cfg, option.name)
        if option.applies is not None and not option.applies(cfg):
            if value is not None:
                raise not_applicable(option.name)
            continue
        option.check(value)
    _check_together(cfg)


def _check_together(cfg: TrainConfig) -> None:
    """The rules that involve more than one option."""
    if cfg.optimizer == "sgd" and cfg.nesterov and cfg.momentum == 0:
        raise ConfigError("nesterov", "needs momentum > 0")
    val_size = cfg.resolved_val_size()
    check_range("val_size", val_size, 0, TRAIN_SIZES[cfg.dataset] - 1)
    train_size = TRAIN_SIZES[cfg.dataset] - val_size
    if cfg.train_limit is not None:
        check_range("train_limit", cfg.train_limit, 1, train_size)
        train_size = cfg.train_limit
    check_range("batch_size", cfg.batch_size, 1, train_size)
    check_name(cfg.name)
    if cfg.model == "lenet1989":
        return
    widths = cfg.resolved_widths()
    if not 1 <= len(widths) <= 6:
        raise ConfigError("widths", f"give 1 to 6 layer widths, got {len(widths)}")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, int):
            raise ConfigError("widths", f"{w!r} is not a whole number")
        check_range("widths", w, 1, 4096)
    if cfg.model == "cnn":
        sizes = feature_map_sizes(cfg)
        if sizes[-1] < 1:
            raise ConfigError(
                "widths",
                f"{len(widths)} conv blocks with kernel {cfg.kernel_size} shrink the 28x28 "
                f"image to nothing (sizes {sizes}); use fewer blocks, a smaller kernel or padding 'same'",
            )
    _check_size(cfg)


def _check_size(cfg: TrainConfig) -> None:
    """A model the app can build, time and train without exhausting the machine."""
    parameters = parameter_count(cfg)
    if parameters > MAX_PARAMETERS:
        raise ConfigError("widths", f"these settings make a model of {parameters:,} parameters; at most "
                                    f"{MAX_PARAMETERS:,} (fewer or narrower layers, fewer hidden units)")
    activations = activations_per_image(cfg)
    if activations > MAX_ACTIVATIONS:
        raise ConfigError("widths", f"these layers make {activations:,} values per image; at most "
                                    f"{MAX_ACTIVATIONS:,} (narrower layers, or a larger kernel with padding 'valid')")
