"""Handwriting: teach Digit Lab your handwriting. Collect your digits, see how a
model reads them, and adapt a model to you (a background run, watched live)."""

import streamlit as st

from core.runs.states import LIVE_STATES
from dashboard import cached
from dashboard import handwriting_view as view
from dashboard.train_live import show_run, watch_run
from dashboard.widgets import model_picker

st.title("Your handwriting")
st.caption("Show Digit Lab a few of your digits, see how each model reads them, and adapt a model to you. "
           "Your samples are personal data: they stay on this machine, in a folder you can see and delete.")
hw = view.pick_set()
if hw is None:
    st.info("Name a new set to start collecting your digits.")
    st.stop()

collect_tab, browse_tab, read_tab = st.tabs(["Collect", "Browse and import", "How a model reads you"])
with collect_tab:
    per_digit = st.number_input("Samples of each digit", min_value=1, max_value=50, value=5, key="collect_n")
    view.collect(hw, int(per_digit))
with browse_tab:
    view.import_archive(hw)
    view.browse(hw)
with read_tab:
    picked = model_picker(key="hw_model")
    if picked is not None:
        view.how_it_reads(hw, picked)
        launched = view.adapt_button(hw, picked)
        if launched:
            st.session_state["hw_adapt_run"] = launched
    run_id = st.session_state.get("hw_adapt_run")
    run = cached.fresh_run(run_id) if run_id else None
    if run is not None and run.state in LIVE_STATES:
        watch_run(run_id, "Adapting")
    elif run is not None:
        show_run(run, "Adapted")
        view.what_changed(run_id)
