"""Evaluate: confusion matrix, per-class metrics and the misclassified test digits of
one run, on its own test set and on the other dataset's ("other handwriting")."""

import streamlit as st

from core.engine.datasets import OTHER, TITLES
from dashboard import cached
from dashboard.epochs import at_epoch, epoch_slider, report_at_epoch
from dashboard.report_view import show_report
from dashboard.widgets import load_picked, run_label, run_picker

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
own = evaluation.get("dataset", "mnist")
other = evaluation.get("other") or {"dataset": OTHER[own], "error": "not scored yet (an older evaluation); "
                                    "`python -m core.evaluate --run RUN_DIR` rebuilds it"}
scored = evaluation.get("scored")
picked = load_picked(run.path / "model.pt", run_label(run)) if run.has_model else None
epoch = epoch_slider(picked, key="eval") if picked is not None else None
report = evaluation  # the kept weights' report, or the chosen epoch's
if epoch is not None and epoch != (scored or {}).get("epoch"):
    report = report_at_epoch(run.path, epoch, own, picked.cfg.input_side(), picked.cfg.tta) or evaluation

m1, m2, m3, m4, m5 = st.columns(5)
m1.metric(f"Test accuracy ({TITLES[own]})", f"{report.get('test_acc', 0):.2%}",
          delta=(f"{report['test_acc'] - evaluation['test_acc']:+.2%} vs kept" if report is not evaluation else None))
m2.metric(f"Other handwriting ({TITLES[other['dataset']]})",
          f"{other['test_acc']:.2%}" if "test_acc" in other else "-")
m3.metric("Best validation accuracy",
          f"{summary['best_val_acc']:.2%}" if summary.get("best_val_acc") is not None else "-")
m4.metric("Kept epoch", summary.get("best_epoch", "-"))
m5.metric("Misclassified", f"{len(report.get('misclassified', [])):,}")
if report is not evaluation:
    st.caption(f"The own test set's figures score epoch {epoch}'s weights (`{report['scored']['file']}`); "
               f"the other handwriting tab and the kept epoch are model.pt's, epoch {(scored or {}).get('epoch')}.")
elif scored:
    chosen = "the best by validation" if summary.get("best_val_acc") is not None else "the last (no validation set)"
    st.caption(f"Every figure on this page scores the weights in model.pt: epoch {scored.get('epoch')} of "
               f"{summary.get('epochs_done', '?')}, {chosen} (sha256 {str(scored.get('sha256'))[:12]}…).")
else:
    st.caption("This evaluation does not name the weights it scored (it predates that record); "
               "`python -m core.evaluate --run RUN_DIR` rebuilds it from model.pt.")

own_tab, other_tab = st.tabs([f"Own test set: {TITLES[own]}", f"Other handwriting: {TITLES[other['dataset']]}"])
with own_tab:
    show_report(report, own, key="eval", run_id=run.run_id, picked=at_epoch(picked, epoch) if picked else None)
with other_tab:
    if "error" in other:
        st.warning(f"Not scored on {TITLES[other['dataset']]}: {other['error']}")
    else:
        digits = sum(c["support"] for c in other.get("per_class", []))
        st.caption(f"The same weights on {digits:,} digits from another dataset: other writers, scanned and "
                   f"cleaned another way. A large drop from the own test set is the gap users meet on the Draw page.")
        show_report(other, other["dataset"], key="eval_other", run_id=run.run_id, picked=picked)
