"""The Sweeps page's parts: the grid form, the sweep picker, the live trial
table with Cancel, and the result charts (mean test accuracy, every trial)."""

from pathlib import Path

import pandas as pd
import streamlit as st

from core.engine.config import PRESETS, TRAIN_SIZES
from core.engine.options import OPTION, OPTIONS, ConfigError
from core.runs.launcher import cancel_sweep, launch_sweep
from core.runs.states import LIVE_STATES
from core.runs.store import RunStoreError
from core.runs.sweeps.plan import SweepError, format_value, split_values, sweepable_options
from core.runs.sweeps.record import aggregate, load_sweep, sweep_table
from dashboard import cached, sweep_figures
from dashboard.links import page_link
from dashboard.widgets import plain, state_badge

DEFAULTS = {o.name: o.default for o in OPTIONS}
CHOICES = {**{o.name: o.choices for o in OPTIONS if o.choices}, "preset": tuple(PRESETS)}
SUGGESTED = {"activation": "relu,tanh,gelu", "pooling": "max,avg", "dropout": "0,0.25,0.5", "lr": "0.001,0.003,0.01",
             "widths": "16/32,32/64", "batchnorm": "on,off", "preset": "fast", "train_limit": "5000,20000"}
NO_PRESET = "(defaults)"

def _suggestion(name: str) -> str:
    if name in SUGGESTED:
        return SUGGESTED[name]
    default = DEFAULTS.get(name)
    return "" if default is None else format_value(default)


def _help(name: str) -> str:
    if name in CHOICES:
        return "comma-separated, from: " + ", ".join(CHOICES[name])
    if name == "widths":
        return "comma-separated lists, layers joined by '/', e.g. 16/32,32/64"
    option = OPTION.get(name)
    if option is not None and option.kind is bool:
        return "on, off"
    return "comma-separated values" + (f"; {option.help}" if option is not None and option.help else "")


def new_sweep_form(expanded: bool) -> None:
    with st.expander("New sweep", expanded=expanded, icon=":material/add:"):
        options = st.multiselect("Options to sweep", sweepable_options(), default=["activation", "pooling"],
                                 key="sw_options", placeholder="pick one or more options")
        with st.form("sw_form", enter_to_submit=False):  # only the button launches
            texts = {name: st.text_input(f"{name} values", value=_suggestion(name), key=f"sw_values_{name}",
                                         help=_help(name)) for name in options}
            c1, c2, c3, c4, c5 = st.columns(5)
            seeds = c1.number_input("Seeds per point", 1, 20, 2, key="sw_seeds")
            epochs = c2.number_input("Epochs", 1, 1000, 1, key="sw_epochs")
            # The largest set's bound here; planning checks the limit against the base recipe's own set.
            train_limit = c3.number_input("Train images (0 = all)", 0, max(TRAIN_SIZES.values()) - 1, 5000, step=1000,
                                          key="sw_train_limit")
            max_concurrent = c4.number_input("At once (0 = one per CPU)", 0, 64, 0, key="sw_max_concurrent")
            samples = c5.number_input("Random points (0 = whole grid)", 0, 10_000, 0, key="sw_samples")
            preset = st.selectbox("Base recipe", [NO_PRESET, *PRESETS], key="sw_preset",
                                  help="every option the grid does not vary comes from this recipe")
            submitted = st.form_submit_button("Launch sweep", type="primary", icon=":material/play_arrow:")
    if not submitted:
        return
    if not options:
        st.error("Pick at least one option to sweep.")
        return
    grid = {name: split_values(text) for name, text in texts.items()}
    base = {"epochs": int(epochs), "train_limit": int(train_limit) or None,
            "preset": None if preset == NO_PRESET else preset}
    try:
        sweep_id = launch_sweep(grid, cached.runs_dir(), seeds=int(seeds), base=base, samples=int(samples) or None,
                                max_concurrent=int(max_concurrent) or None)
    except (SweepError, ConfigError, RunStoreError, OSError) as e:
        st.error(f"Could not start the sweep: {e}")
        return
    st.query_params["sweep"] = sweep_id
    st.rerun()


def _sweep_label(s: dict) -> str:
    if str(s.get("error") or "").startswith("broken"):  # its record cannot be read: say so in the list
        return f"{s['id']} · broken"
    counts = ", ".join(f"{n} {state}" for state, n in s.get("trial_states", {}).items())
    axes = " × ".join(s.get("grid") or {}) or "seeds"
    return f"{s['id']} · {axes} · {s.get('state', '?')}" + (f" ({counts})" if counts else "")


def pick_sweep(sweeps: list[dict]) -> str:
    ids = [s["id"] for s in sweeps]
    wanted = st.query_params.get("sweep")
    if wanted and wanted not in ids:
        st.warning(f"Sweep '{plain(wanted)}' is not in {plain(cached.runs_dir().parent / 'sweeps', 200)}; showing the "
                   "latest instead.")
    labels = {s["id"]: _sweep_label(s) for s in sweeps}
    chosen = st.selectbox("Sweep", ids, index=ids.index(wanted) if wanted in ids else 0, format_func=labels.get)
    if chosen != wanted:
        st.query_params["sweep"] = chosen
    return chosen


def trials_table(record: dict) -> None:
    rows = sweep_table(record)
    if not rows:
        st.caption("The sweep is starting; its trials appear here in a moment.")
        return
    frame = pd.DataFrame(rows)
    frame["open"] = ["./" + page_link("evaluate", run=r) for r in frame["run_id"]]
    for column in ("error", "node"):  # sweeps older than the node column have none
        if frame[column].isna().all():
            frame = frame.drop(columns=column)
    st.dataframe(frame, hide_index=True, column_config={
        "val_acc": st.column_config.NumberColumn("best val acc", format="percent"),
        "test_acc": st.column_config.NumberColumn("test acc", format="percent"),
        "open": st.column_config.LinkColumn("run", display_text="open on Evaluate",
                                            help="the run's confusion matrix and mistakes"),
        "run_id": st.column_config.TextColumn("run id"),
        "node": st.column_config.TextColumn("node", help="the Ray node that ran it (IP, node id), and the attempt "
                                                         "when its first node was lost"),
    })


def header(record: dict) -> None:
    trials = record.get("trials", [])
    done = sum(t.get("state") in ("completed", "failed", "cancelled") for t in trials)
    c1, c2, c3 = st.columns([1, 3, 2])
    with c1:
        state_badge(record.get("state", "failed"))
    c2.progress(done / len(trials) if trials else 0.0, text=f"{done} of {len(trials)} trials finished")
    c3.caption(f"{record.get('max_concurrent') or '?'} at once · address {record.get('address') or 'local'}")
    if record.get("error"):
        st.error(f"The sweep failed: {record['error']}")
    elif record.get("summary") and record.get("state") in ("completed", "cancelled"):
        st.caption(record["summary"])


@st.fragment(run_every=2)
def live_sweep(sweep_id: str) -> None:
    """Refreshes itself every 2 s while the sweep runs; reruns the page when it ends."""
    try:
        record = load_sweep(cached.runs_dir(), sweep_id)
    except (RunStoreError, OSError, ValueError) as e:
        st.error(f"Cannot read this sweep: {e}")
        return
    if record["state"] not in LIVE_STATES:
        st.rerun()
    header(record)
    if record.get("cancel_requested"):
        st.info("Cancelling: running trials stop after their current batch.")
    elif st.button("Cancel sweep", icon=":material/stop:", key=f"sw_cancel_{sweep_id}"):
        try:
            cancel_sweep(cached.runs_dir(), sweep_id)
        except (RunStoreError, OSError, ValueError) as e:
            st.error(f"Could not cancel: {e}")
        else:
            st.toast("Cancelling the sweep")
    trials_table(record)


def results(record: dict) -> None:
    rows = sweep_table(record)
    if not any(r.get("state") == "completed" and r.get("test_acc") is not None for r in rows):
        st.caption("Charts appear once a trial has completed.")
        return
    axes = list(record.get("grid") or {})
    st.subheader("Mean test accuracy")
    if axes:
        c1, c2 = st.columns(2)
        x = c1.selectbox("Across (x)", axes, key="sw_x")
        y_options = [a for a in axes if a != x]
        y = c2.selectbox("Down (y)", y_options, key="sw_y") if y_options else None
        x_values, y_values, mean, std = aggregate(rows, x, y)
        st.plotly_chart(sweep_figures.heatmap_figure(x_values, y_values, mean, std, x, y), key="sw_heatmap")
        others = [a for a in axes if a not in (x, y)]
        st.caption("Each cell: mean over seeds ± their standard deviation"
                   + (f", averaged over {', '.join(others)}." if others else ".") + " Completed trials only.")
    st.subheader("Every trial")
    st.plotly_chart(sweep_figures.parallel_figure(rows, axes), key="sw_parcoords")


def details(record: dict) -> None:
    with st.expander("Sweep settings"):
        st.json({k: record.get(k) for k in ("id", "state", "grid", "seeds", "samples", "base", "address",
                                            "max_concurrent", "created_at", "ended_at", "error")}, expanded=False)
        log = Path(record.get("path", "")) / "sweep.log"
        if log.is_file():
            st.code(log.read_text(errors="replace")[-3000:] or "(empty)", language=None)
