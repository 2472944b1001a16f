"""Draw: draw or upload a digit and see what a model makes of it, live, at any
epoch of its run, why it said so, where it lands on the model's map of the test
digits, and what up to four runs say side by side.

Everything below the model picker is one fragment: a stroke reruns only the
drawing, its prediction (shown first), then the maps and the side-by-side cards,
never the run listing or the model loading above it. The canvas shows the digit
itself before that rerun (dashboard/live_answer.py)."""

import streamlit as st

from core.engine.projection import MapSettings
from dashboard import attribution_view, draw_compare, draw_panel, live_answer, map_view, teach_panel
from dashboard.drawing_canvas import drawing_canvas
from dashboard.epochs import model_with_slider
from dashboard.widgets import model_picker


@st.fragment
def drawing(shown, base, compare_choices: dict[str, str]) -> None:
    # `shown`: the model picked, at the epoch chosen; `base`: its run's model.pt, which your model learns from.
    picked, follow = teach_panel.served(shown) if shown is base else (shown, None)
    if shown is base and teach_panel.learning_shown():
        teach_panel.status_line(base)
    canvas_col, result_col = st.columns([1, 1], gap="large")
    with canvas_col:
        brush = st.slider("Brush width", min_value=4, max_value=40, value=18, key="draw_brush")
        answer = (live_answer.for_canvas(picked.model, picked.cfg.input_side(), follow) if picked is not None
                  else None)
        drawn = drawing_canvas(teach_panel.canvas_key(), brush, answer)
        st.caption("The prediction updates each time the pen lifts; Undo takes back the last stroke.")
        upload = st.file_uploader("Or upload a photo of a digit", type=draw_panel.UPLOAD_TYPES, key="draw_upload")

    source, what = (draw_panel.read_upload(upload), "uploaded image") if upload is not None else (drawn, "drawing")
    prediction = None
    with result_col:
        if picked is not None:
            prediction = draw_panel.predict(picked.model, source, what, picked.cfg.input_side())
            if prediction is not None:
                draw_panel.show(prediction, source, what)
                if what == "drawing":
                    teach_panel.teach_buttons(source, prediction.digit, base if shown is base else None)
            else:
                draw_panel.show_waiting()

    if picked is not None:
        st.subheader("Why this answer?")
        if prediction is not None:
            attribution_view.show_attribution(picked.model, prediction.prepared.tensor, key="draw_why", live=True)
        else:
            attribution_view.method_choice(key="draw_why_method")
            st.caption("Draw a digit to see which of its pixels pushed the model toward its answer.")

    if shown is not None:
        # The map of the weights picked (at the epoch chosen), not of a learner's newest round.
        st.subheader("Where it lands")
        map_view.drawing_on_map(shown, prediction, MapSettings())

    st.subheader("Side by side")
    draw_compare.show(source, what, compare_choices)


st.title("Draw")
model_col, epoch_col = st.columns([1, 1], gap="large")
with model_col:
    base = model_picker(key="draw_model")
shown = base
with epoch_col:
    if base is not None:
        shown = model_with_slider(base, key="draw")
drawing(shown, base, draw_compare.choices())
