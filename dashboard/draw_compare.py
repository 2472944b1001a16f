"""Draw's side-by-side view: one drawing, up to four runs' answers, probabilities
and reasons at once (each run sees the drawing laid out for its own input)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.engine.prediction import predict_image
from core.engine.preprocess import ImageError, NoDigitError
from dashboard import attribution_view, cached, figures
from dashboard.widgets import load_picked, model_choices

MAX_RUNS = 4
KEY = "draw_compare"


def _linked(choices: dict[str, str]) -> None:
    """Start with the runs a link names in ?runs=<id>,<id> (once per link)."""
    wanted = st.query_params.get("runs")
    if not wanted or st.session_state.get(f"{KEY}_linked") == wanted:
        return
    ids = wanted.split(",")[:MAX_RUNS]
    st.session_state[KEY] = [p for p in choices if Path(p).parent.name in ids]
    st.session_state[f"{KEY}_linked"] = wanted


def show(source, what: str) -> None:
    choices = model_choices(cached.all_runs())
    _linked(choices)
    paths = st.multiselect("Runs to compare on this drawing", list(choices), format_func=choices.get, key=KEY,
                           max_selections=MAX_RUNS, placeholder=f"pick up to {MAX_RUNS} runs")
    if not paths:
        return
    if source is None:
        st.caption("Draw a digit above to see each run's answer.")
        return
    method = attribution_view.method_choice(key=f"{KEY}_method")
    for path, column in zip(paths, st.columns(len(paths))):
        with column, st.container(border=True, key=f"{KEY}_run_{Path(path).parent.name}"):
            picked = load_picked(Path(path), choices[path])
            if picked is None:
                continue
            st.markdown(f"**{picked.label}**")
            try:
                prediction = predict_image(picked.model, source, picked.cfg.input_side())
            except (NoDigitError, ImageError) as e:
                st.caption(str(e))
                continue
            st.metric("Says", prediction.digit, help="the most probable digit")
            st.caption(f"{prediction.confidence:.1%} sure")
            st.plotly_chart(figures.probs_figure(prediction.probs, height=200), key=f"{KEY}_probs_{path}")
            attribution_view.show_contrast(picked.model, prediction.prepared.tensor, method, key=f"{KEY}_why_{path}")
    st.caption("Each map: red pixels pushed that run toward its answer rather than its second choice, blue ones "
               "the other way. Each run sees the drawing laid out for its own input.")
