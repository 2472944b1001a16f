"""Filters: the learned conv kernels of a model and the feature maps a digit produces."""

import streamlit as st

from dashboard import figures, filters_view
from dashboard.widgets import model_picker

st.title("Filters")
picked = model_picker(key="filters_model")
if picked is None:
    st.stop()
model, cfg, label = picked

st.subheader("Kernels")
st.caption("Red is negative, blue positive, white zero; every layer has its own symmetric scale.")
filters_view.show_kernels(model, key="filters")

st.subheader("Feature maps")
digit = filters_view.pick_digit(key="filters")
if digit is not None:
    x, image = digit
    left, right = st.columns([1, 4])
    with left:
        st.plotly_chart(figures.digit_figure(image, "input", height=220), key="filters_input")
        st.metric("Model says", filters_view.predicted(model, x))
    with right:
        filters_view.show_feature_maps(model, x, key="filters")
