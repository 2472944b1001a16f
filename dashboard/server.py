"""Digit Lab's server: `streamlit run dashboard/server.py`. The app of dashboard/app.py
plus one route of our own, Draw's answer on pen-up (dashboard/live_answer.py)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import live_answer  # noqa: E402

# Every session's script runs in a thread of this process. With several people drawing,
# the event loop that carries the answers and the pages waits for the GIL behind those
# threads, up to one switch interval per step (5 ms by default, many steps a request).
sys.setswitchinterval(0.001)

app = st.App("app.py", routes=[live_answer.route()])
