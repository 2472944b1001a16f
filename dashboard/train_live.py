"""Watching one run from the Train page: progress, ETA, live curves, cancel.

The live view is a fragment that reruns every second on its own; when the run
reaches a final state the whole page reruns once and shows the result.
"""

from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from core.engine.datasets import TITLES
from core.runs.launcher import cancel_run
from core.runs.states import LIVE_STATES
from core.runs.store import RunInfo, RunStoreError, is_valid_run_id
from dashboard import cached, figures
from dashboard.widgets import format_seconds, plain, run_label, state_badge

LOG_TAIL_CHARS = 3000


def attached_run(runs: list[RunInfo]) -> tuple[RunInfo | None, str]:
    """The run this page watches: ?run=<id>, else the newest live run, else the newest run."""
    wanted = st.query_params.get("run")
    if wanted:
        run = cached.fresh_run(wanted) if is_valid_run_id(wanted) else None
        if run is not None:
            return run, "This run"
        st.warning(f"Run '{plain(wanted)}' is not in the run store; showing the latest instead.")
    live = [r for r in runs if r.state in LIVE_STATES]
    if live:
        return cached.fresh_run(live[0].run_id) or live[0], "Run in progress"
    if runs:
        return runs[0], "Latest run"
    return None, ""


def _elapsed(run: RunInfo, progress: dict) -> float | None:
    started = run.status.get("started_at")
    if started:
        try:
            end = run.status.get("ended_at")
            end_time = datetime.fromisoformat(end) if end else datetime.now(timezone.utc)
            return (end_time - datetime.fromisoformat(started)).total_seconds()
        except (TypeError, ValueError):
            pass
    return progress.get("elapsed")


def _progress(run: RunInfo) -> dict:
    """Progress bar, elapsed and ETA; returns progress.json for the curves."""
    progress = cached.read_progress(run.path)
    epochs = progress.get("epochs") or run.config.get("epochs") or 1
    epoch, batch, batches = progress.get("epoch", 0), progress.get("batch", 0), progress.get("batches") or 1
    done = min(1.0, max(0.0, ((max(epoch, 1) - 1) + batch / batches) / epochs)) if progress else 0.0
    if run.state == "queued" or not progress:
        st.progress(0.0, text="Waiting for the training process to load the data...")
    else:
        loss = progress.get("loss")
        loss_text = f" · loss {loss:.4f}" if isinstance(loss, (int, float)) else ""
        scoring = f" · scoring {_scored_after_each(run)}" if batch >= batches else ""
        st.progress(done, text=f"Epoch {epoch}/{epochs} · batch {batch}/{batches}{loss_text}{scoring}")
    elapsed = _elapsed(run, progress)
    eta = elapsed * (1 - done) / done if elapsed and done > 0.01 else None
    c1, c2, c3 = st.columns(3)
    c1.metric("Elapsed", format_seconds(elapsed))
    c2.metric("ETA", format_seconds(eta))
    c3.metric("Epochs done", f"{len(run.metrics)}/{epochs}")
    return progress


def _scored_after_each(run: RunInfo) -> str:
    """What a run scores after each epoch (or round), in words."""
    if run.config.get("learning"):
        return "your digits and 1,000 of MNIST's validation digits"
    if run.config.get("adapted_from"):
        return "your digits (taught and held out)"
    return "the validation and test sets"


def series_names(config: dict) -> dict[str, str]:
    """What the curves' series are: an adaptation's "val" is the person's held-out digits."""
    if config.get("learning"):
        return {"train": "training batches", "val": "MNIST validation (1,000 digits)", "test": "MNIST test"}
    if config.get("adapted_from"):
        held = (config.get("handwriting") or {}).get("held_out")
        val = f"your held-out digits ({held})" if held else "your held-out digits"
        return {"train": "training batches", "val": val, "test": "MNIST test"}
    return {}


def _cancel_button(run: RunInfo) -> None:
    if st.button("Cancel run", key=f"cancel-{run.run_id}", icon=":material/stop_circle:"):
        try:
            asked = cancel_run(cached.runs_dir(), run.run_id)
        except (OSError, ValueError, RunStoreError) as e:
            st.error(f"Could not cancel: {e}")
        else:
            if asked:
                st.info("Cancel requested: the run stops after its current batch and keeps its best model.")
            else:
                st.warning("The run is not running any more (or has not started yet); nothing to cancel.")


def _log_tail(run: RunInfo) -> str:
    try:
        return (run.path / "train.log").read_text(errors="replace")[-LOG_TAIL_CHARS:]
    except OSError:
        return ""


def _outcome(run: RunInfo) -> None:
    if run.state == "completed":
        s = run.summary
        if s:
            kept = (f"best validation accuracy {s['best_val_acc']:.2%} (epoch {s.get('best_epoch')})"
                    if s.get("best_val_acc") is not None else
                    f"the last round kept (nothing is selected on your digits), round {s.get('best_epoch')}"
                    if run.config.get("adapted_from") else f"no validation set, epoch {s.get('best_epoch')} kept")
            other = (f", {TITLES.get(s.get('other_dataset'), '')} {s['other_acc']:.2%}"
                     if s.get("other_acc") is not None else "")
            st.success(f"Completed: test accuracy {s.get('test_acc', 0):.2%}{other}, {kept}.")
        else:
            st.success("Completed.")
    elif run.state == "cancelled":
        st.warning(f"Cancelled after {len(run.metrics)} epoch(s); the best model so far was kept.")
    elif run.state == "failed":
        st.error(f"Failed: {run.status.get('error') or 'no error message was recorded'}")
        log = _log_tail(run)
        if log:
            with st.expander("Training log (last lines)"):
                st.code(log, language=None)
    for problem in run.problems:
        st.warning(problem)


def curves(run: RunInfo, trace: list | None = None) -> None:
    """Per-epoch curves; for a live run also the running train loss/accuracy within epochs."""
    if not run.metrics and not trace:
        st.caption("Curves appear as soon as the first batches are trained.")
        return
    left, right = st.columns(2)
    names = series_names(run.config)
    left.plotly_chart(figures.curves_figure(run.metrics, "loss", trace, names), key=f"loss-{run.run_id}")
    right.plotly_chart(figures.curves_figure(run.metrics, "acc", trace, names), key=f"acc-{run.run_id}")


def _header(run: RunInfo, title: str) -> None:
    st.subheader(f"{title}: {run_label(run)}")
    state_badge(run.state)
    st.caption(where_it_trains(run.status or {}))


def where_it_trains(status: dict) -> str:
    """"Trains here", or which cluster and node: the status says (core.runs.sweeps.ray_tune)."""
    cluster, node = status.get("cluster"), status.get("trains_on")
    if not isinstance(cluster, str):
        return f"Trains on this machine ({status.get('host') or 'here'})."
    if isinstance(node, str) and node:
        ip, _, node_id = node.partition(" ")
        return f"Trains on the Ray cluster at {cluster}, node {ip} ({node_id[:8]})."
    return f"Sent to the Ray cluster at {cluster}: waiting for a node with the resources it asks."


def show_run(run: RunInfo, title: str) -> None:
    """Static view of a run in a final state."""
    _header(run, title)
    _outcome(run)
    curves(run)


@st.fragment(run_every=1)
def watch_run(run_id: str, title: str) -> None:
    """Live view; reruns itself every second, the whole page once the run ends."""
    run = cached.fresh_run(run_id)
    if run is None:
        st.warning("The run folder has disappeared.")
        return
    if run.state not in LIVE_STATES:
        cached.refresh_runs()
        st.rerun()
    _header(run, title)
    progress = _progress(run)
    _cancel_button(run)
    curves(run, progress.get("trace"))
