"""Command-line plumbing shared by core.train, core.predict and core.sweep:
one option per config field, and errors as one line with exit code 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.engine.config import PRESETS, TrainConfig, from_preset
from core.engine.options import GROUPS, OPTION, OPTIONS, ConfigError, Option
from core.runs.messages import one_line


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (no usage dump), exit 2."""

    def error(self, message: str):
        fail(f"{self.prog}: error: {message}")


def fail(message: str, code: int = 2):
    print(one_line(message, None), file=sys.stderr)
    raise SystemExit(code)


def _typed(option: Option):
    """The argparse type of an option: its parser, with a one-line message."""
    def parse(text: str):
        if option.name == "data_dir":  # relative to where it was typed, not to a Ray worker's folder
            return str(Path(text).expanduser().resolve())
        try:
            return option.parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = option.name
    return parse


def add_train_options(p: argparse.ArgumentParser) -> None:
    """Every option of core.engine.options. Defaults are None so that a preset fills
    what the user did not say and the user wins where both speak."""
    p.add_argument("--preset", choices=list(PRESETS), help="a named recipe; other options override it")
    groups = {name: p.add_argument_group(name) for name in GROUPS}
    for option in OPTIONS:
        text = option.help.replace("%", "%%")
        if option.applies_when:
            text = f"{text} (only when {option.applies_when})".lstrip()
        if option.kind is bool:
            groups[option.group].add_argument(option.flag, action=argparse.BooleanOptionalAction, default=None,
                                              help=text)
        else:
            groups[option.group].add_argument(option.flag, type=_typed(option), choices=option.choices,
                                              metavar=None if option.choices else option.name.upper(), help=text)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Resolve preset + options into a validated config, or exit 2 with one line."""
    overrides = {k: v for k, v in vars(args).items() if k in OPTION}
    try:
        return from_preset(args.preset, **overrides)
    except ConfigError as e:
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


def config_to_args(cfg: TrainConfig) -> list[str]:
    """The options that make `core.train` rebuild exactly `cfg` (for launchers)."""
    return options_to_args({k: v for k, v in vars(cfg).items() if k != "sweep_id"})
