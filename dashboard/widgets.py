"""Widgets several pages share: state badge, run labels, run and model pickers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import streamlit as st

from core.runs.checkpoint import CheckpointError
from core.runs.store import RunInfo
from dashboard import cached
from dashboard.run_tables import run_label  # noqa: F401 (the pages' run label, also here)

STATE_COLOURS = {"queued": "gray", "running": "blue", "completed": "green", "failed": "red", "cancelled": "orange"}


def state_badge(state: str) -> None:
    st.badge(state, color=STATE_COLOURS.get(state, "gray"))


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&])")


def plain(text: str, limit: int = 60) -> str:
    """A text from a link or a file, to show inside Markdown (warnings, captions) as the
    characters it is: no link, image, emphasis or emoji shortcode can come of it."""
    text = "".join(c if c.isprintable() else "?" for c in str(text)[:limit])
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def follow_link(key: str, param: str, value_for) -> None:
    """Once per link from another page: set widget `key` to `value_for(?<param>)`, when
    that names something the widget offers (not None); later choices stay the user's."""
    wanted = st.query_params.get(param)
    if not wanted or st.session_state.get(f"{key}_linked") == wanted:
        return
    value = value_for(wanted)
    if value is not None:
        st.session_state[key] = value
        st.session_state[f"{key}_linked"] = wanted


def run_picker(runs: list[RunInfo], label: str, key: str) -> RunInfo | None:
    """A selectbox over `runs` (newest first), starting at ?run=<id> when that
    run is among them (links from other pages); None when there are none."""
    if not runs:
        return None
    by_id = {r.run_id: r for r in runs}
    follow_link(key, "run", lambda wanted: wanted if wanted in by_id else None)
    run_id = st.selectbox(label, list(by_id), key=key, format_func=lambda i: run_label(by_id[i]))
    return by_id.get(run_id)


def model_choices(runs: list[RunInfo]) -> dict[str, str]:
    """model.pt path -> label: the default model first, then every completed run with a model."""
    choices: dict[str, str] = {}
    default = cached.default_model_path()
    if default.is_file():
        choices[str(default)] = "Default model"
    for run in runs:
        # Your model (a learning run) is offered while it learns too: its model.pt is always whole.
        learning = bool((run.config or {}).get("learning"))
        if (run.state == "completed" or learning) and run.has_model and not run.broken:
            choices[str(run.path / "model.pt")] = run_label(run)
    return choices


class PickedModel(NamedTuple):
    model: object
    cfg: object
    label: str
    path: Path  # its model.pt: the run's folder may hold its epochs too
    checkpoint: dict


def load_picked(path: Path, label: str) -> PickedModel | None:
    """A model.pt loaded (cached) for a page, or None after saying why it cannot be."""
    try:
        model, cfg, ckpt = cached.get_model(Path(path))
    except CheckpointError as e:
        st.error(f"Cannot load {label}: {e}")
        return None
    return PickedModel(model, cfg, label, Path(path), ckpt)


NO_MODEL = ("No model yet: there is no default model and no completed run. "
            "Train one on the Train page, or run `python -m core.train --preset fast`.")


def model_of_run(choices: dict[str, str], run_id: str) -> str | None:
    """The model.pt among `choices` that belongs to run `run_id`."""
    return next((path for path in choices if Path(path).parent.name == run_id), None)


def model_picker(key: str, label: str = "Model", link: str = "run") -> PickedModel | None:
    """Pick and load a model, starting at the run a link names in ?<link>=<id>; None
    after showing why there is none."""
    choices = model_choices(cached.all_runs())
    if not choices:
        st.info(NO_MODEL)
        return None
    follow_link(key, link, lambda run_id: model_of_run(choices, run_id))
    path = st.selectbox(label, list(choices), key=key, format_func=choices.get)
    return None if path is None else load_picked(Path(path), choices[path])


def upscale(image: np.ndarray, factor: int = 8) -> np.ndarray:
    """Nearest-neighbour enlargement so a small digit is visible pixel by pixel."""
    return np.kron(np.asarray(image, dtype=np.uint8), np.ones((factor, factor), dtype=np.uint8))


def format_seconds(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
