"""Filters: the learned conv kernels of a model, the feature maps a digit produces and
why the model read it so, at any epoch; two runs side by side (relu against tanh,
max against avg pooling)."""

import streamlit as st

from dashboard import attribution_view, figures, filters_view
from dashboard.epochs import model_with_slider
from dashboard.widgets import model_picker

st.title("Filters")
side_by_side = st.toggle("Side by side with a second run", key="filters_side_by_side",
                         value="compare" in st.query_params)
slots = ["filters", "filters_b"] if side_by_side else ["filters"]
per_row = 1 if side_by_side else 2
models = []
for slot, column in zip(slots, st.columns(len(slots))):
    with column:
        second = slot == "filters_b"
        picked = model_picker(key=f"{slot}_model", label="Second model" if second else "Model",
                              link="compare" if second else "run")
        models.append(model_with_slider(picked, key=slot) if picked is not None else None)
if not any(models):
    st.stop()

st.subheader("Kernels")
st.caption("Red is negative, blue positive, white zero; every layer has its own symmetric scale.")
for slot, picked, column in zip(slots, models, st.columns(len(slots))):
    with column:
        if picked is not None:
            if side_by_side:
                st.markdown(f"**{picked.label}**")
            filters_view.show_kernels(picked.model, key=slot, per_row=per_row)

st.subheader("Feature maps")
digit = filters_view.pick_digit(key="filters")
if digit is None:
    st.stop()
# Each model is fed the digit at its own input side (a 16x16 LeNet beside a 28x28 CNN).
inputs = [digit.for_side(picked.cfg.input_side()) if picked is not None else None for picked in models]
for slot, picked, shown, column in zip(slots, models, inputs, st.columns(len(slots))):
    with column:
        if shown is None:
            continue
        x, image = shown
        st.plotly_chart(figures.digit_figure(image, "input", height=180), key=f"{slot}_input")
        st.metric(f"{picked.label} says" if side_by_side else "Model says", filters_view.predicted(picked.model, x))
        filters_view.show_feature_maps(picked.model, x, key=slot, per_row=per_row)

st.subheader("Why this answer?")
for slot, picked, shown, column in zip(slots, models, inputs, st.columns(len(slots))):
    with column:
        if shown is not None:
            attribution_view.show_attribution(picked.model, shown[0], key=f"{slot}_why")
