"""Draw's side-by-side view: one drawing, up to four runs' answers, probabilities
and reasons at once (each run sees the drawing laid out for its own input)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.engine.image_reading import ImageError
from core.engine.ink import NoDigitError
from core.engine.prediction import predict_image
from dashboard import attribution_view, cached, pictures
from dashboard.widgets import follow_link, load_picked, model_choices, model_of_run

MAX_RUNS = 4
KEY = "draw_compare"


def _models_of_runs(choices: dict[str, str], wanted: str) -> list[str] | None:
    """The model.pt paths of the runs a link names in ?runs=<id>,<id>."""
    paths = [p for p in (model_of_run(choices, i) for i in wanted.split(",")[:MAX_RUNS]) if p]
    return paths or None


def choices() -> dict[str, str]:
    """The runs to offer, listed once per full page run (a stroke does not list the store)."""
    return model_choices(cached.all_runs())


def show(source, what: str, choices: dict[str, str]) -> None:
    follow_link(KEY, "runs", lambda wanted: _models_of_runs(choices, wanted))
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
            st.markdown(pictures.probability_bars(prediction.probs, height_px=60), unsafe_allow_html=True)
            attribution_view.show_contrast(picked.model, prediction.prepared.tensor, method, key=f"{KEY}_why_{path}")
    st.caption("Each map: red pixels pushed that run toward its answer rather than its second choice, blue ones "
               "the other way. Each run sees the drawing laid out for its own input.")
