"""The Draw page's prediction panel: digit, confidence, probabilities, what the model saw."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.engine.image_reading import ImageError, open_image
from core.engine.ink import NoDigitError
from core.engine.prediction import Prediction, predict_image
from core.engine.preprocess import Prepared
from core.engine.strokes import LOOPS_CLOSE, MNIST_STROKE_MEDIAN, MNIST_STROKE_P95
from dashboard import pictures
from dashboard.widgets import upscale

DRAWN_KEY = "drawn_digit"  # the drawing as drawn, for the Filters page to lay out for its model
EMPTY_CANVAS = "Draw a digit in the black box: the prediction updates as you draw."


UPLOAD_TYPES = ["png", "jpg", "jpeg"]  # what the uploader lists, and so all it decodes
UPLOAD_FORMATS = ("PNG", "JPEG")


def read_upload(upload):
    """An uploaded file decoded as the PNG or JPEG it says it is (a .png holding EPS, PSD
    or ICO is refused, never handed to that decoder); None after saying why."""
    try:
        return open_image(upload.getvalue(), UPLOAD_FORMATS)
    except ImageError as e:
        st.error(f"Cannot read the uploaded image: {e}")
        return None


def predict(model, source, what: str, side: int = 28) -> Prediction | None:
    """Run the drawing path on a canvas array or uploaded bytes; say why when there is no prediction."""
    if source is None:
        st.info(EMPTY_CANVAS)
        return None
    try:
        return predict_image(model, source, side)
    except NoDigitError:
        st.info(EMPTY_CANVAS if what == "drawing" else "No digit found in the uploaded image.")
    except ImageError as e:
        st.error(f"Cannot read the {what}: {e}")
    return None


def _strokes(prepared: Prepared) -> None:
    """The stroke width the model saw, beside MNIST's, and what the drawing path did to it."""
    drawn, seen = prepared.stroke_drawn, prepared.stroke_seen
    mnist = f"MNIST's digits: {MNIST_STROKE_MEDIAN:.1f} px typical, up to {MNIST_STROKE_P95:.1f}"
    if drawn - seen > 0.3:
        st.caption(f"Strokes {drawn:.1f} px wide at this size, thinned to {seen:.1f} px ({mnist}).")
    else:
        st.caption(f"Strokes {seen:.1f} px wide ({mnist}).")
    if drawn > LOOPS_CLOSE:
        st.warning("The brush is thick for a digit this small: loops (0, 6, 8, 9) close up and no thinning "
                   "brings them back. Draw bigger or pick a thinner brush.", icon=":material/brush:")


def _big_digit(text: str, opacity: float = 1.0) -> None:
    """The answer in large type (`text` is a digit or "?": nothing from a user goes in)."""
    st.markdown(f"<div style='font-size:7rem;font-weight:700;line-height:1;opacity:{opacity}'>{text}</div>",
                unsafe_allow_html=True)


def show_waiting() -> None:
    """The panel before there is a digit, laid out as it will be: the same kinds of
    element, so the browser has their code before the first stroke (fetched then, on a
    busy server, a dozen script files queued the first answers behind them)."""
    big, saw = st.columns([1, 1])
    with big:
        st.caption("Prediction")
        _big_digit("?", opacity=0.2)
        st.metric("Confidence", "-")
    with saw:
        st.caption("What the model saw")
        st.image(np.zeros((168, 168), dtype=np.uint8), width=168)  # blank paper


def show(prediction: Prediction, source, what: str) -> None:
    st.session_state[DRAWN_KEY] = source
    big, saw = st.columns([1, 1])
    with big:
        st.caption(f"Prediction for the {what}")
        with st.container(key="predicted-digit"):  # the key gives browser tests a stable handle
            _big_digit(str(prediction.digit))
        st.metric("Confidence", f"{prediction.confidence:.1%}")
    with saw:
        side = prediction.prepared.laid_out.shape[0]
        st.caption(f"What the model saw ({side}x{side})")
        st.image(upscale(prediction.prepared.laid_out, 168 // side), width=168)
        _strokes(prediction.prepared)
    st.caption("Probabilities")
    st.markdown(pictures.probability_bars(prediction.probs), unsafe_allow_html=True)
