"""Draw: draw or upload a digit and see what a model makes of it, live."""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from dashboard import draw_panel
from dashboard.widgets import model_picker

st.title("Draw")
canvas_col, result_col = st.columns([1, 1], gap="large")
with canvas_col:
    picked = model_picker(key="draw_model")
    brush = st.slider("Brush width", min_value=4, max_value=40, value=18, key="draw_brush")
    canvas = st_canvas(stroke_width=brush, stroke_color="#FFFFFF", background_color="#000000", width=280,
                       height=280, drawing_mode="freedraw", update_streamlit=True, return_image_data=True,
                       key="canvas")
    st.caption("Hover over the canvas for its toolbar: undo, redo, and the bin (Reset canvas & history) clears it.")
    upload = st.file_uploader("Or upload a photo of a digit", type=["png", "jpg", "jpeg"], key="draw_upload")

with result_col:
    if picked is not None:
        model, cfg = picked[0], picked[1]
        source, what = (upload.getvalue(), "uploaded image") if upload is not None else (canvas.image_data, "drawing")
        prediction = draw_panel.predict(model, source, what, cfg.input_side())
        if prediction is not None:
            draw_panel.show(prediction, what)
