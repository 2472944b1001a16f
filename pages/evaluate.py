"""Evaluate: confusion matrix, per-class metrics and the misclassified test digits of one run."""

import pandas as pd
import streamlit as st

from dashboard import cached, figures, gallery
from dashboard.widgets import run_picker

st.title("Evaluate")
runs = [r for r in cached.all_runs() if (r.path / "evaluation.json").is_file()]
runs += [r for r in [cached.default_model_run()] if r is not None]  # last: runs are newest first
run = run_picker(runs, "Run", key="eval_run")
if run is None:
    st.info("No run has an evaluation yet: a run writes evaluation.json when it completes or is cancelled.")
    st.stop()
try:
    evaluation = cached.get_evaluation(run.path)
except (OSError, ValueError) as e:
    st.error(f"Cannot read this run's evaluation.json: {e}")
    st.stop()

summary = evaluation.get("summary", {})
wrong = evaluation.get("misclassified", [])
m1, m2, m3, m4 = st.columns(4)
m1.metric("Test accuracy", f"{evaluation.get('test_acc', 0):.2%}")
m2.metric("Best validation accuracy", f"{summary['best_val_acc']:.2%}" if "best_val_acc" in summary else "-")
m3.metric("Best epoch", summary.get("best_epoch", "-"))
m4.metric("Misclassified", f"{len(wrong):,}")
scored = evaluation.get("scored")
if scored:
    st.caption(f"Every figure on this page scores the weights in model.pt: epoch {scored.get('epoch')} of "
               f"{summary.get('epochs_done', '?')}, the best by validation (sha256 {str(scored.get('sha256'))[:12]}…).")
else:
    st.caption("This evaluation does not name the weights it scored (it predates that record); "
               "`python -m core.evaluate --run RUN_DIR` rebuilds it from model.pt.")

left, right = st.columns([3, 2])
with left:
    st.subheader("Confusion matrix")
    normalized = st.toggle("Row-normalized (share of each true class)", key="eval_norm")
    event = st.plotly_chart(figures.confusion_figure(evaluation["confusion"], normalized), on_select="rerun",
                            selection_mode="points", key=f"eval_cm_{run.run_id}")
    st.caption("Click a cell to see those digits below.")
with right:
    st.subheader("Per class")
    per_class = evaluation.get("per_class", [])
    st.dataframe(pd.DataFrame(per_class), hide_index=True, column_config={
        m: st.column_config.NumberColumn(format="%.4f") for m in ("precision", "recall", "f1")})
    if per_class:
        st.plotly_chart(figures.per_class_figure(per_class))

st.subheader("Misclassified test digits")
gallery.apply_selection(event, key="eval")
true, pred = gallery.class_filters(key="eval")
gallery.show([m for m in wrong if (true is None or m["true"] == true) and (pred is None or m["pred"] == pred)],
             key="eval")
