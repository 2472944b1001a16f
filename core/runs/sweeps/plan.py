"""Planning a sweep: grid text -> typed values -> one validated config per trial.

Pure Python, no Ray: a bad grid is rejected here, with the same validation as a
single run, before anything starts.

Grid values are comma-separated (`activation=relu,tanh`). A value that is itself
a list (`widths`) writes its layers with `/` (`widths=16/32,32/64`); or separate
the values with `;` instead (`widths=16,32;32,64`).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import random
from dataclasses import dataclass

from core.engine.config import PRESETS, TrainConfig, from_preset, validate
from core.engine.options import OPTION, ConfigError, Option

# Fields a grid may not vary: seeds have --seeds/--seed, the rest are not settings.
NOT_SWEEPABLE = {"seed": "use --seeds N (and --seed BASE) for seeds", "sweep_id": "it is set by the sweep",
                 "name": "each trial gets its own name", "data_dir": "give it once as --data-dir"}
MAX_TRIALS = 10_000


class SweepError(ValueError):
    """A bad grid or sweep option; `option` names it (as on the command line)."""

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option


@dataclass
class Trial:
    index: int
    point: dict  # option -> value (JSON-friendly: widths as a list)
    seed: int
    config: TrainConfig
    run_id: str | None = None


def _typed_options() -> dict:
    """What a grid may name: the preset, and every option of core.engine.options."""
    preset = Option("preset", str, None, "Preset", choices=tuple(PRESETS))
    return {"preset": preset, **OPTION}


def sweepable_options() -> list[str]:
    """Option names a grid may vary, in the order of the CLI."""
    return [name for name in _typed_options() if name not in NOT_SWEEPABLE]


def option_field(key: str) -> str:
    """`train-limit` or `train_limit` -> `train_limit`, refusing unknown names."""
    name = key.strip().replace("-", "_")
    if name in NOT_SWEEPABLE:
        raise SweepError(f"--grid {key}", f"cannot be swept; {NOT_SWEEPABLE[name]}")
    if name not in _typed_options():
        raise SweepError(f"--grid {key}", "no such option; choose from " + ", ".join(sweepable_options()))
    return name


def parse_value(name: str, text: str):
    """One grid value, typed like the option `name` (layer lists as JSON-friendly lists)."""
    where = f"--grid {name.replace('_', '-')}"
    if not text.strip():
        raise SweepError(where, "empty value")
    try:
        value = _typed_options()[name].parse(text)
    except ValueError as e:
        raise SweepError(where, str(e)) from None
    return list(value) if isinstance(value, tuple) else value


def split_values(text: str) -> list[str]:
    return [v for v in text.split(";" if ";" in text else ",") if v.strip()]


def parse_grid_args(items: list[str]) -> dict[str, list[str]]:
    """`--grid KEY=V1,V2` arguments -> {field: [value text, ...]} (types checked later)."""
    grid: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        if not sep or not key.strip():
            raise SweepError("--grid", f"{item!r} is not OPTION=VALUE1,VALUE2,...")
        name = option_field(key)
        if name in grid:
            raise SweepError(f"--grid {key}", "given twice")
        grid[name] = split_values(values)
        if not grid[name]:
            raise SweepError(f"--grid {key}", "no values")
    return grid


def typed_grid(grid: dict[str, list]) -> dict[str, list]:
    """Parse every value; refuse unknown options, bad values and repeats."""
    typed = {}
    for key, values in grid.items():
        name = option_field(key)
        if not values:
            raise SweepError(f"--grid {key}", "no values")
        parsed = [parse_value(name, v) if isinstance(v, str) else v for v in values]
        if len({repr(v) for v in parsed}) < len(parsed):
            raise SweepError(f"--grid {key}", "a value is repeated")
        typed[name] = parsed
    return typed


def make_config(base: dict, point: dict, seed: int) -> TrainConfig:
    """base options, then the grid point, then the seed (raises ConfigError/SweepError)."""
    values = {**{k: v for k, v in base.items() if v is not None}, **point, "seed": seed}
    preset = values.pop("preset", None)
    if isinstance(values.get("widths"), list):
        values["widths"] = tuple(values["widths"])
    try:
        return from_preset(preset, **values)
    except ConfigError as e:
        where = f"--grid {e.field.replace('_', '-')}" if e.field in point else f"--{e.field.replace('_', '-')}"
        raise SweepError(where, str(e)) from None


def format_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return "/".join(str(v) for v in value)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def point_label(point: dict) -> str:
    return " ".join(f"{k}={format_value(v)}" for k, v in point.items())


def _trial_name(base: dict, point: dict, seed: int) -> str:
    name = " ".join(p for p in (base.get("name") or "", point_label(point), f"seed={seed}") if p)
    return name[:100]


def grid_points(typed: dict[str, list], samples: int | None, rng_seed: int) -> list[dict]:
    """Every point of the grid in order, or `samples` distinct ones drawn at random (kept in grid order)."""
    names = list(typed)
    total = 1
    for values in typed.values():
        total *= len(values)
    if samples is not None:
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise SweepError("--samples", f"{samples!r} is not a whole number >= 1")
        if samples > MAX_TRIALS:  # before drawing: a million samples are a million points drawn
            raise SweepError("--samples", f"{samples} is too many (at most {MAX_TRIALS} trials)")
        if samples < total:
            picked = sorted(random.Random(rng_seed).sample(range(total), samples))
            return [_point_at(typed, names, i) for i in picked]
    if total > MAX_TRIALS:
        raise SweepError("--grid", f"{total} points is too many (at most {MAX_TRIALS}); use --samples K")
    return [dict(zip(names, combo)) for combo in itertools.product(*typed.values())]


def _point_at(typed: dict[str, list], names: list[str], index: int) -> dict:
    """The index-th point of the grid product (last option varies fastest)."""
    point = {}
    for name in reversed(names):
        values = typed[name]
        index, i = divmod(index, len(values))
        point[name] = values[i]
    return {name: point[name] for name in names}


def _check_every_point(typed: dict[str, list], base: dict, seed: int) -> None:
    """A grid is valid only if all of its points are, drawn by --samples or not. For a
    huge grid, each value is checked with the first value of every other option."""
    total = 1
    for values in typed.values():
        total *= len(values)
    if total <= MAX_TRIALS:
        for combo in itertools.product(*typed.values()):
            make_config(base, dict(zip(typed, combo)), seed)
        return
    first = {name: values[0] for name, values in typed.items()}
    for name, values in typed.items():
        for value in values:
            make_config(base, {**first, name: value}, seed)


def plan(grid: dict[str, list], seeds: int = 1, base: dict | None = None, samples: int | None = None,
         seed_base: int | None = None) -> list[Trial]:
    """Validated trials, point by point, seeds innermost. Raises SweepError."""
    base = dict(base or {})
    if seed_base is None:
        seed_base = int(base.get("seed") or 0)
    base.pop("seed", None)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise SweepError("--seeds", f"{seeds!r} is not a whole number >= 1")
    if not grid and samples is not None:
        raise SweepError("--samples", "needs a --grid to sample from")
    typed = typed_grid(grid)
    _check_every_point(typed, base, seed_base)
    points = grid_points(typed, samples, seed_base)
    if len(points) * seeds > MAX_TRIALS:
        raise SweepError("--seeds", f"{len(points) * seeds} trials is too many (at most {MAX_TRIALS})")
    trials = []
    for point in points:
        for seed in range(seed_base, seed_base + seeds):
            cfg = make_config(base, point, seed)
            cfg.name = _trial_name(base, point, seed)
            validate(cfg)
            trials.append(Trial(index=len(trials), point=point, seed=seed, config=cfg))
    return trials


def base_options(args: argparse.Namespace) -> dict:
    """The single-run options given on a command line (preset included), None dropped."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"sweep_id"}
    values = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    if isinstance(values.get("widths"), tuple):
        values["widths"] = list(values["widths"])
    return values


def grid_to_args(grid: dict[str, list]) -> list[str]:
    args = []
    for name, values in grid.items():
        texts = [v if isinstance(v, str) else format_value(v) if isinstance(v, (list, tuple, bool)) else str(v)
                 for v in values]
        sep = ";" if any("," in t for t in texts) else ","
        args += ["--grid", f"{name}={sep.join(texts)}"]
    return args
