"""Map: what a model's last layer makes of the test digits, at any kept epoch, as a 2-D
map (UMAP, t-SNE or PCA); a handwriting set laid over it; two runs side by side, aligned."""

import streamlit as st

from core.runs.handwriting_sets import HandwritingError, HandwritingSet, handwriting_dir_setting, list_sets
from dashboard import map_view
from dashboard.epochs import model_with_slider
from dashboard.widgets import follow_link, model_picker

st.title("Map")
st.caption("Each dot is a test digit, placed by what the model's last layer makes of it: digits it reads alike "
           "sit together. Drag the epoch slider to watch the clusters form: each epoch's map starts from its "
           "neighbour's (the kept epoch's is made first), so the picture moves rather than jumps.")
side_by_side = st.toggle("Side by side with a second run", key="map_side_by_side", value="compare" in st.query_params)
settings, samples = map_view.settings_controls("map")
sets = list_sets(handwriting_dir_setting())
follow_link("map_set", "set", lambda name: name if name in sets else None)
overlay_name = st.selectbox("Lay a handwriting set over it", [None, *sets], key="map_set",
                            format_func=lambda name: "none" if name is None else name,
                            help="Each of your digits at its place among the test digits, in its true class's colour.")
hw = None
if overlay_name is not None:
    try:
        hw = HandwritingSet(handwriting_dir_setting() / overlay_name)
    except HandwritingError as e:
        st.warning(str(e))

slots = ["map", "map_b"] if side_by_side else ["map"]
reference = None
for slot, column in zip(slots, st.columns(len(slots))):
    with column:
        second = slot == "map_b"
        picked = model_picker(key=f"{slot}_model", label="Second model" if second else "Model",
                              link="compare" if second else "run")
        if picked is None:
            continue
        shown = model_with_slider(picked, key=slot)
        if shown is None:
            continue
        made = map_view.digit_map(shown, settings, samples, start=reference)
        if made is None:
            continue
        layout = map_view.aligned(made, reference) if second else None
        overlay = map_view.set_overlay(shown, made, layout, hw) if hw is not None else None
        if second and layout is not None:
            st.caption("Turned to match the first map (the same digits): only its pose changed.")
        map_view.show(shown, made, key=slot, layout=layout, overlay=overlay, height=480 if side_by_side else 620)
        reference = reference or made
