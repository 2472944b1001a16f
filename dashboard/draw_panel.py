"""The Draw page's prediction panel: digit, confidence, probabilities, what the model saw."""

from __future__ import annotations

import streamlit as st

from core.engine.prediction import Prediction, predict_image
from core.engine.preprocess import ImageError, NoDigitError
from dashboard import figures
from dashboard.widgets import upscale

DRAWN_KEY = "drawn_digit"  # read by the Filters page
EMPTY_CANVAS = "Draw a digit in the black box: the prediction updates as you draw."


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


def show(prediction: Prediction, what: str) -> None:
    st.session_state[DRAWN_KEY] = prediction.prepared.image28
    big, saw = st.columns([1, 1])
    with big:
        st.caption(f"Prediction for the {what}")
        with st.container(key="predicted-digit"):  # the key gives browser tests a stable handle
            st.markdown(f"<div style='font-size:7rem;font-weight:700;line-height:1'>{prediction.digit}</div>",
                        unsafe_allow_html=True)
        st.metric("Confidence", f"{prediction.confidence:.1%}")
    with saw:
        side = prediction.prepared.image28.shape[0]
        st.caption(f"What the model saw ({side}x{side})")
        st.image(upscale(prediction.prepared.image28, 168 // side), width=168)
    st.plotly_chart(figures.probs_figure(prediction.probs), key="draw_probs")
