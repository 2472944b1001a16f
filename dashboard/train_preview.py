"""The Train page's look at a run before it starts: the layers the form's settings
build, with output shapes and parameter counts, and how long the run will take on
this machine, from a training step timed now."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.engine.architecture import LayerRow, layer_table, total_parameters
from core.engine.config import ConfigError, TrainConfig
from core.engine.step_time import Estimate, Measured, estimate_run_seconds, measure, step_time_key
from dashboard.train_form import config_error_text


# Keyed on the settings the model and the step depend on (`_cfg` is not hashed):
# changing the epochs or the learning rate reuses the measurement at once.
@st.cache_data(max_entries=64, show_spinner=False)
def _layers(key: tuple, _cfg: TrainConfig) -> list[LayerRow]:
    return layer_table(_cfg)


@st.cache_data(max_entries=64, show_spinner="Timing a training step on this machine...")
def _measured(key: tuple, _cfg: TrainConfig) -> Measured:
    return measure(_cfg)


def _shape(shape: tuple[int, ...]) -> str:
    return " × ".join(str(n) for n in shape)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _step(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.2f} s"


def estimate_text(estimate: Estimate) -> str:
    return (f"Estimated time on this machine: **about {_duration(estimate.total_seconds)}** "
            f"({_step(estimate.step_seconds)} per step × {estimate.steps_per_epoch:,} steps × "
            f"{estimate.epochs} epochs + {_duration(estimate.scoring_seconds)} of scoring)")


def show(cfg: TrainConfig | ConfigError) -> None:
    """The layer table, the total and the time estimate of `cfg` (or why there are none)."""
    st.markdown("**The network these settings build**")
    if isinstance(cfg, ConfigError):
        st.warning(f"No preview until the settings are valid: {config_error_text(cfg)}", icon=":material/info:")
        return
    key = step_time_key(cfg)
    rows = _layers(key, cfg)
    st.dataframe(pd.DataFrame({
        "layer": [r.name for r in rows], "kind": [r.kind for r in rows],
        "output shape": [_shape(r.output_shape) for r in rows], "parameters": [r.parameters for r in rows],
    }), hide_index=True, column_config={"parameters": st.column_config.NumberColumn(format="localized")})
    st.markdown(f"**{total_parameters(rows):,} parameters** to learn")
    try:
        measured = _measured(key, cfg)
    except (RuntimeError, ValueError) as e:  # no CUDA here, or a step the run itself would fail on
        st.warning(f"Could not time a training step with these settings: {e}", icon=":material/timer_off:")
        return
    st.markdown(estimate_text(estimate_run_seconds(cfg, measured)))
    st.caption("Measured now, on this machine, with a few real training steps: while another run trains "
               "it is slower, and so will this run be.")
