"""Command-line plumbing shared by core.train, core.predict and core.sweep:
one option per config field, and errors as one line with exit code 2."""

from __future__ import annotations

import argparse
import sys

from core import config as C


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (no usage dump), exit 2."""

    def error(self, message: str):
        fail(f"{self.prog}: error: {message}")


def fail(message: str, code: int = 2):
    print(message.splitlines()[0] if message else "error", file=sys.stderr)
    raise SystemExit(code)


def _widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(w) for w in text.replace(" ", "").split(",") if w)
    except ValueError:
        raise argparse.ArgumentTypeError(f"widths must be comma-separated whole numbers, got {text!r}") from None


def add_train_options(p: argparse.ArgumentParser) -> None:
    """Every TrainConfig field as an option. Defaults are None so that a preset
    fills what the user did not say and the user wins where both speak."""
    p.add_argument("--preset", choices=list(C.PRESETS), help="a named recipe; other options override it")
    m = p.add_argument_group("model")
    m.add_argument("--model", choices=C.MODELS)
    m.add_argument("--activation", choices=C.ACTIVATIONS)
    m.add_argument("--pooling", choices=C.POOLINGS, help="none = stride-2 convolution")
    m.add_argument("--dropout", type=float)
    m.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, default=None)
    m.add_argument("--widths", type=_widths, help="conv channels (cnn) or hidden sizes (mlp), e.g. 32,64")
    m.add_argument("--kernel-size", type=int)
    m.add_argument("--padding", choices=C.PADDINGS)
    m.add_argument("--hidden", type=int, help="units of the cnn's fully connected layer")
    o = p.add_argument_group("optimisation")
    o.add_argument("--optimizer", choices=C.OPTIMIZERS)
    o.add_argument("--lr", type=float)
    o.add_argument("--momentum", type=float)
    o.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=None)
    o.add_argument("--weight-decay", type=float)
    o.add_argument("--scheduler", choices=C.SCHEDULERS)
    o.add_argument("--step-size", type=int, help="epochs between decays of the step scheduler")
    o.add_argument("--gamma", type=float, help="decay factor of the step scheduler")
    o.add_argument("--epochs", type=int)
    o.add_argument("--batch-size", type=int)
    o.add_argument("--loss", choices=C.LOSSES)
    o.add_argument("--label-smoothing", type=float)
    o.add_argument("--ema", type=float, help="decay of a moving average of the weights, e.g. 0.999; 0 = off")
    d = p.add_argument_group("data")
    d.add_argument("--augment", type=float, help="augmentation strength: 1 = +/-15 deg, 10%% shift and scale; 0 = off")
    d.add_argument("--val-size", type=int, help="training images held out for validation (default 5000)")
    d.add_argument("--train-limit", type=int, help="train on the first N training images only")
    d.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None, help="test-time augmentation in the final report")
    d.add_argument("--data-dir", help=f"MNIST folder (else ${{{'MNIST_DATA_DIR'}}}, else a per-user cache with download)")
    r = p.add_argument_group("run")
    r.add_argument("--seed", type=int)
    r.add_argument("--device", choices=C.DEVICES)
    r.add_argument("--name", help="a display name for the run")


def config_from_args(args: argparse.Namespace) -> C.TrainConfig:
    """Resolve preset + options into a validated config, or exit 2 with one line."""
    fields = {f for f in C.TrainConfig.__dataclass_fields__} - {"preset"}
    overrides = {k: v for k, v in vars(args).items() if k in fields}
    try:
        return C.from_preset(args.preset, **overrides)
    except C.ConfigError as e:
        fail(f"invalid option --{e.field.replace('_', '-')}: {e}")


def options_to_args(options: dict) -> list[str]:
    """{field: value} -> the command-line options that say the same (None skipped)."""
    args: list[str] = []
    for name, value in options.items():
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, (tuple, list)):
            args += [flag, ",".join(str(v) for v in value)]
        else:
            args += [flag, str(value)]
    return args


def config_to_args(cfg: C.TrainConfig) -> list[str]:
    """The options that make `core.train` rebuild exactly `cfg` (for launchers)."""
    return options_to_args({k: v for k, v in vars(cfg).items() if k != "sweep_id"})
