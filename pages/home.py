"""Home: what Digit Lab does, the latest runs and the default model."""

import streamlit as st

from core.runs.states import LIVE_STATES
from dashboard import cached, run_tables

LATEST = 5

st.title("Digit Lab")
st.markdown(
    "Digit Lab trains handwritten-digit recognisers on MNIST (the 1989 LeNet, a configurable modern CNN "
    "or an MLP) in the background and shows how they learn, live. Afterwards you can compare runs, "
    "inspect their mistakes, look at the filters and feature maps they learned, and draw a digit "
    "to see what a model makes of it."
)

st.subheader("Default model")
if cached.default_model_path().is_file():
    info = cached.default_model_summary()
    summary, config = info.get("evaluation.json", {}), info.get("config.json", {})
    c1, c2, c3 = st.columns(3)
    c1.metric("Test accuracy", f"{summary['test_acc']:.2%}" if "test_acc" in summary else "not recorded")
    c2.metric("Model", config.get("model", "?"))
    c3.metric("Parameters", f"{config['parameters']:,}" if "parameters" in config else "?")
    st.caption(f"{cached.default_model_path()} · used by the Draw and Filters pages unless you pick a run.")
else:
    st.info("There is no default model yet (artifacts/default-model/model.pt). "
            "Train a run on the Train page; completed runs can be picked on the Draw and Filters pages.")

st.subheader("Latest runs")
runs = cached.all_runs()
if not runs:
    st.info(f"No runs in {cached.runs_dir()} yet. Start one on the Train page.")
else:
    live = sum(r.state in LIVE_STATES for r in runs)
    st.caption(f"{len(runs)} run(s) in {cached.runs_dir()}" + (f", {live} in progress" if live else ""))
    frame = run_tables.runs_frame(runs[:LATEST])
    st.dataframe(frame[["name", "run id", "state", "model", "test acc", "best val acc", "epochs done", "time (s)"]],
                 hide_index=True, column_config={
                     "best val acc": st.column_config.NumberColumn(format="percent"),
                     "test acc": st.column_config.NumberColumn(format="percent")})
