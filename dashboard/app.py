"""Digit Lab's pages: `streamlit run dashboard/server.py` serves them (this script alone also runs,
without Draw's quick answer route). Lists the pages; each page is its own script."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from dashboard import process_settings  # noqa: E402,F401  (once, before any page runs a model)


@st.cache_resource(show_spinner=False)
def _page_icon() -> Image.Image:
    """A white 7 on a red tile, drawn here: served by the app itself (a `:material:` page
    icon is fetched from a font CDN on every visit, and fails offline)."""
    icon = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    pen = ImageDraw.Draw(icon)
    pen.rounded_rectangle((0, 0, 63, 63), radius=14, fill=(255, 75, 75, 255))
    pen.line([(16, 16), (48, 16), (28, 52)], fill="white", width=8, joint="curve")
    return icon


st.set_page_config(page_title="Digit Lab", page_icon=_page_icon(), layout="wide")

PAGES = ROOT / "pages"
navigation = st.navigation([
    st.Page(PAGES / "home.py", title="Home", icon=":material/home:", default=True),
    st.Page(PAGES / "train.py", title="Train", icon=":material/model_training:"),
    st.Page(PAGES / "runs.py", title="Runs", icon=":material/table_rows:"),
    st.Page(PAGES / "sweeps.py", title="Sweeps", icon=":material/grid_view:"),
    st.Page(PAGES / "evaluate.py", title="Evaluate", icon=":material/grid_on:"),
    st.Page(PAGES / "filters.py", title="Filters", icon=":material/filter:"),
    st.Page(PAGES / "map.py", title="Map", icon=":material/scatter_plot:"),
    st.Page(PAGES / "draw.py", title="Draw", icon=":material/draw:"),
    st.Page(PAGES / "handwriting.py", title="Handwriting", icon=":material/person_edit:"),
])
navigation.run()
