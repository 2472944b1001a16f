"""Sweeps: a grid of runs trained in the background on Ray Tune; a live table of its
trials, then mean test accuracy over two axes and every trial in parallel coordinates."""

import streamlit as st

from core.runs.states import LIVE_STATES
from core.runs.store import RunStoreError
from core.runs.sweeps.ray_extra import RAY_INSTALL, ray_installed
from core.runs.sweeps.record import list_sweeps, load_sweep
from dashboard import cached
from dashboard.sweeps_view import details, header, live_sweep, new_sweep_form, pick_sweep, results, trials_table

st.title("Sweeps")
runs_dir = cached.runs_dir()
sweeps = list_sweeps(runs_dir)
if ray_installed():
    new_sweep_form(expanded=not sweeps)
else:  # sweeps are an optional extra; the sweeps already in the store still show
    st.warning(f"Sweeps run on Ray Tune, which is not installed here. To launch sweeps: `{RAY_INSTALL}`. "
               "Training, evaluation and every other page work without it.", icon=":material/extension:")
if not sweeps:
    st.info("No sweeps yet. Define a grid above, or run "
            "`python -m core.sweep --grid activation=relu,tanh --grid pooling=max,avg --seeds 2 --epochs 1`.")
    st.stop()

sweep_id = pick_sweep(sweeps)
try:
    record = load_sweep(runs_dir, sweep_id)
except (RunStoreError, OSError, ValueError) as e:
    st.error(f"Cannot read sweep {sweep_id}: {e}")
    st.stop()

if record["state"] in LIVE_STATES:
    live_sweep(sweep_id)
else:
    header(record)
    trials_table(record)
results(record)
details(record)
