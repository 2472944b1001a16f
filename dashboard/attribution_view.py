"""Why this answer: attribution maps of one digit, toward the prediction, toward the
runner-up, and the contrast between the two."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st
import torch

from core.engine.attribution import METHODS, Explanation, explain
from core.engine.data import MNIST_MEAN, MNIST_STD
from dashboard import figures, pictures

CACHE_KEY = "attribution_explanations"
CACHE_SIZE = 16  # explanations kept per browser session; a rerun of the same digit finds its maps here
HOW = {
    "integrated_gradients": "Integrated Gradients fades the ink in from a blank page (no ink at all) and adds up "
                            "how much each pixel moved the digit's score on the way.",
    "occlusion": "Occlusion covers one small square at a time with blank paper and watches the score fall "
                 "(red: the square helped) or rise (blue: it hurt).",
}


def _cache_key(key: str, method: str, x: torch.Tensor, model) -> tuple:
    digest = hashlib.sha256(x.detach().cpu().numpy().tobytes()).hexdigest()
    return key, method, digest, id(model)


def _explanation(model, x: torch.Tensor, key: str, method: str) -> Explanation | None:
    """The cached explanation, else computed once; None after saying what went wrong."""
    cache: dict = st.session_state.setdefault(CACHE_KEY, {})
    wanted = _cache_key(key, method, x, model)
    if wanted not in cache:
        try:
            with st.spinner(f"Computing {METHODS[method]} maps..."):
                cache[wanted] = explain(model, x, method)
        except Exception as e:  # a map is a bonus: the rest of the page must still work
            st.error(f"Could not compute the {METHODS[method]} maps: {type(e).__name__}: {e}")
            return None
        while len(cache) > CACHE_SIZE:
            cache.pop(next(iter(cache)))  # oldest first
    return cache[wanted]


def method_choice(key: str) -> str:
    """The attribution method, one radio for the views that share it."""
    return st.radio("Explain with", list(METHODS), format_func=METHODS.get, horizontal=True, key=key)


def _ink(x: torch.Tensor) -> np.ndarray:
    return (x.detach().cpu()[0, 0].numpy() * MNIST_STD + MNIST_MEAN).clip(0, 1)  # ink, 0 = blank paper


def show_attribution(model, x: torch.Tensor, key: str, live: bool = False) -> Explanation | None:
    """Three maps for one normalized input [1, 1, H, W]: what pushed the model toward its
    answer, toward its second choice, and toward the first rather than the second.
    `live` (a view redrawn per stroke) shows them as pictures instead of plotly charts."""
    method = method_choice(key=f"{key}_method")
    e = _explanation(model, x, key, method)
    if e is None:
        return None
    maps = {f"toward {e.predicted}": e.toward_predicted, f"toward {e.runner_up}": e.toward_runner_up,
            f"{e.predicted} rather than {e.runner_up}": e.contrast}
    limit = max(float(np.abs(m).max()) for m in maps.values()) or 1.0  # one scale: the maps compare
    ink = _ink(x)
    for column, (title, attribution) in zip(st.columns(len(maps)), maps.items()):
        with column:
            if live:
                st.caption(title)
                st.image(pictures.inline(pictures.attribution_picture(attribution, ink, limit=limit)), width=168)
            else:
                st.plotly_chart(figures.attribution_figure(attribution, ink, title, limit=limit),
                                key=f"{key}_attribution_{title}")
    st.caption(
        f"The model says {e.predicted} ({e.probs[e.predicted]:.0%}), next {e.runner_up} "
        f"({e.probs[e.runner_up]:.0%}). Red pixels push the model toward the digit in the title, blue pixels "
        f"push it away, white ones hardly matter; the grey line is the outline of the ink. "
        f"{HOW[method]} All three maps share one colour scale.")
    return e


def show_contrast(model, x: torch.Tensor, method: str, key: str) -> Explanation | None:
    """One map, for side-by-side views redrawn per stroke: why this model's answer rather
    than its runner-up, as a picture."""
    e = _explanation(model, x, key, method)
    if e is not None:
        st.caption(f"{e.predicted} rather than {e.runner_up}")
        st.image(pictures.inline(pictures.attribution_picture(e.contrast, _ink(x), size=140)), width=140)
    return e
