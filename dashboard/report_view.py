"""One test report of the Evaluate page: confusion matrix, per-class metrics and
the misclassified digits, for the run's own test set or the other dataset's."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.engine.data import normalize
from dashboard import attribution_view, cached, figures, gallery
from dashboard.widgets import PickedModel


def show_report(report: dict, dataset: str, key: str, run_id: str, picked: PickedModel | None = None) -> None:
    """`report` as core.engine.scoring.test_report writes it, scored on `dataset`'s test set
    by `picked` (whose attribution maps explain the digits); `key` names the widgets, and a
    new run starts with no cell selected."""
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Confusion matrix")
        normalized = st.toggle("Row-normalized (share of each true class)", key=f"{key}_norm")
        event = st.plotly_chart(figures.confusion_figure(report["confusion"], normalized), on_select="rerun",
                                selection_mode="points", key=f"{key}_cm_{run_id}")
        st.caption("Click a cell to see those digits below.")
    with right:
        st.subheader("Per class")
        per_class = report.get("per_class", [])
        st.dataframe(pd.DataFrame(per_class), hide_index=True, column_config={
            m: st.column_config.NumberColumn(format="%.4f") for m in ("precision", "recall", "f1")})
        if per_class:
            st.plotly_chart(figures.per_class_figure(per_class), key=f"{key}_per_class_{run_id}")

    st.subheader("Misclassified test digits")
    wrong = report.get("misclassified", [])
    gallery.apply_selection(event, key=key)
    true, pred = gallery.class_filters(key=key)
    kept = [m for m in wrong if (true is None or m["true"] == true) and (pred is None or m["pred"] == pred)]
    shown = gallery.show(kept, key=key, dataset=dataset)
    if shown and picked is not None:
        _why(shown, dataset, picked, key)


def _why(shown: list[dict], dataset: str, picked: PickedModel, key: str) -> None:
    """The attribution maps of one digit of the gallery page, as the model saw it."""
    st.subheader("Why this answer?")
    by_index = {m["index"]: m for m in shown}
    index = st.selectbox("Digit from this page", list(by_index), key=f"{key}_why",
                         format_func=lambda i: f"#{i}: {by_index[i]['true']} read as {by_index[i]['pred']}")
    images, _, error = cached.test_set(dataset, picked.cfg.input_side())
    if images is None:
        st.warning(f"The digit is not available: {error}")
        return
    attribution_view.show_attribution(picked.model, normalize(images[index][None]), key=f"{key}_why_{index}")
