"""Digit Lab's server: `streamlit run dashboard/server.py`. The app of dashboard/app.py
plus one route of our own, Draw's answer on pen-up (dashboard/live_answer.py)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import live_answer, process_settings  # noqa: E402,F401  (process_settings: before any model runs)

app = st.App("app.py", routes=[live_answer.route()])
