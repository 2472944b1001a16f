"""Runs: every run in the store, filtered and compared; rename, delete, download."""

import streamlit as st

from core.runs.states import STATES
from dashboard import cached, figures, handwriting_view, run_tables, runs_actions
from dashboard.links import page_link
from dashboard.widgets import run_label, run_picker

st.title("Runs")
runs_actions.flash()
runs = cached.all_runs()
if not runs:
    st.info(f"No runs in {cached.runs_dir()} yet. Start one on the Train page.")
    st.stop()

f1, f2, f3, f4 = st.columns([2, 2, 2, 3])
states = f1.multiselect("State", STATES, placeholder="all states")
models = f2.multiselect("Model", sorted({r.config.get("model") or "?" for r in runs}), placeholder="all models")
sweep_ids = sorted({r.config["sweep_id"] for r in runs if r.config.get("sweep_id")}, reverse=True)
sweeps = f3.multiselect("Sweep", sweep_ids, key="runs_sweep", placeholder="any sweep or none")
search = f4.text_input("Search names", placeholder="part of a name or run id").strip().lower()
shown = [r for r in runs
         if (not states or r.state in states)
         and (not models or (r.config.get("model") or "?") in models)
         and (not sweeps or r.config.get("sweep_id") in sweeps)
         and (not search or search in r.name.lower() or search in r.run_id)]

st.caption(f"{len(shown)} of {len(runs)} runs · broken runs are listed with the reason under 'problems'")
frame = run_tables.runs_frame(shown)
on_set = handwriting_view.accuracy_column(shown)
if on_set is not None:
    frame[on_set[0]] = on_set[1]
st.dataframe(frame, hide_index=True, column_config={
    **({on_set[0]: st.column_config.NumberColumn(format="percent", help="accuracy on every sample of the set "
                                                 "(a run adapted from it was taught some of them)")} if on_set else {}),
    "best val acc": st.column_config.NumberColumn(format="percent"),
    "test acc": st.column_config.NumberColumn(format="percent", help="on the run's own dataset's test set"),
    "other handwriting": st.column_config.NumberColumn(
        format="percent", help="on the other dataset's test set: USPS zip codes for an MNIST run, and back"),
    "lr": st.column_config.NumberColumn(format="%g"),
    "parameters": st.column_config.NumberColumn(format="localized"),
    **{page: st.column_config.LinkColumn(page.title(), display_text=page.title(),
                                         help=f"this run on the {page.title()} page")
       for page in run_tables.VIEW_PAGES},
})

st.subheader("Compare")
by_id = {r.run_id: r for r in shown}
picked = [by_id[i] for i in st.multiselect("Runs to compare", list(by_id), format_func=lambda i: run_label(by_id[i]),
                                            placeholder="pick two or more runs")]
if picked:
    metric = st.selectbox("Metric", list(figures.METRICS), format_func=figures.METRICS.get)
    series = {run_label(r): r.metrics for r in picked if r.metrics}
    if series:
        st.plotly_chart(figures.overlay_figure(series, metric))
    else:
        st.caption("None of these runs has finished an epoch yet.")
    if len(picked) > 1:
        diff = run_tables.settings_diff(picked)
        st.markdown("**Settings that differ**")
        if diff.empty:
            st.caption("These runs have the same settings.")
        else:
            st.dataframe(diff)
        with_models = [r for r in picked if r.has_model and not r.broken]
        if len(with_models) > 1:
            first, second = with_models[0].run_id, with_models[1].run_id
            drawn = [r.run_id for r in with_models[:4]]
            st.markdown(f":material/filter: [Kernels and feature maps of the first two side by side]"
                        f"({page_link('filters', run=first, compare=second)}) · :material/draw: "
                        f"[Draw one digit for the first {len(drawn)}]({page_link('draw', runs=drawn)})")

st.subheader("Manage a run")
run = run_picker(shown, "Run", key="manage_run")
if run is not None:
    c1, c2, c3 = st.columns(3)
    with c1:
        runs_actions.rename(run)
    with c2:
        runs_actions.delete(run)
    with c3:
        runs_actions.download(run)
