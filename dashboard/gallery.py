"""Misclassified test digits as a grid of small images with their probabilities."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cached
from dashboard.widgets import upscale

PER_PAGE = 32
COLUMNS = 8
ANY = "any"


def _top(probs: list[float], n: int = 3) -> str:
    ranked = sorted(range(len(probs)), key=lambda c: -probs[c])[:n]
    return " · ".join(f"{c}: {probs[c]:.0%}" for c in ranked)


def _cell(point: dict) -> tuple[int, int] | None:
    """(true, predicted) of a clicked confusion-matrix cell (y = true row, x = predicted column)."""
    try:
        return int(point["y"]), int(point["x"])
    except (KeyError, TypeError, ValueError):
        return None


def apply_selection(event, key: str) -> None:
    """A newly clicked confusion cell presets the two class filters (which stay editable)."""
    try:
        points = event.selection.points if event else []
    except AttributeError:
        points = []
    cell = _cell(points[0]) if points else None
    if cell is not None and cell != st.session_state.get(f"{key}_last_cell"):
        st.session_state[f"{key}_true"], st.session_state[f"{key}_pred"] = cell
    st.session_state[f"{key}_last_cell"] = cell


def class_filters(key: str) -> tuple[int | None, int | None]:
    """Two selectboxes (true class, predicted class); 'any' = no filter."""
    options = [ANY, *range(10)]
    c1, c2 = st.columns(2)
    true = c1.selectbox("True class", options, key=f"{key}_true")
    pred = c2.selectbox("Predicted class", options, key=f"{key}_pred")
    return (None if true == ANY else true), (None if pred == ANY else pred)


def show(misclassified: list[dict], key: str, dataset: str = "mnist") -> list[dict]:
    """A page of misclassified digits of `dataset`'s test set ("mnist" or "usps"); returns the page's entries."""
    if not misclassified:
        st.info("No misclassified test digits match this filter.")
        return []
    pages = (len(misclassified) - 1) // PER_PAGE + 1
    page = (st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, key=f"{key}_page")
            if pages > 1 else 1)
    chunk = misclassified[(page - 1) * PER_PAGE: page * PER_PAGE]
    images, labels, error = cached.test_set(dataset)
    if images is None:
        st.warning(f"The digit images are not available: {error}")
        st.dataframe(pd.DataFrame([{"test index": m["index"], "true": m["true"], "predicted": m["pred"],
                                    "probabilities": _top(m["probs"])} for m in chunk]), hide_index=True)
        return chunk
    if any(int(labels[m["index"]]) != m["true"] for m in chunk if m["index"] < len(labels)):
        st.warning(f"The {dataset.upper()} test set found here does not match this run's evaluation (labels differ).")
    columns = st.columns(COLUMNS)
    for i, m in enumerate(chunk):
        with columns[i % COLUMNS]:
            if m["index"] < len(images):
                st.image(upscale(images[m["index"]].numpy(), 3), width=84)
            st.caption(f"#{m['index']} **{m['true']} → {m['pred']}**  \n{_top(m['probs'])}")
    return chunk
