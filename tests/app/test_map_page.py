"""The Map page under AppTest: two runs side by side, the second turned onto the first,
a handwriting set laid over both, a link from an adaptation; a damaged map file made again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from core.runs.handwriting_sets import HANDWRITING_DIR_ENV, HandwritingSet
from tests.app.test_inside_pages import RELU, TANH
from tests.writers import WRITERS, writer_samples

ROOT = Path(__file__).resolve().parents[2]


def map_page(**query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "map.py"), default_timeout=180)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def maps_on(at: AppTest) -> list[dict]:
    return [f for f in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
            if any(t.get("name") == "0" for t in f["data"])]


def test_two_runs_side_by_side_with_a_handwriting_set_on_both(comparison_store, tmp_path, monkeypatch):
    monkeypatch.setenv(HANDWRITING_DIR_ENV, str(tmp_path / "sets"))
    hw = HandwritingSet.create("continental", tmp_path / "sets", canvas=(280, 280))
    for digit, rgba in writer_samples({**WRITERS["continental"]}, 2, seed=1):
        hw.add(digit, rgba)
    at = map_page(run=RELU, compare=TANH, set="continental")
    shown = maps_on(at)
    assert len(shown) == 2
    for fig in shown:
        yours = [t for t in fig["data"] if t.get("name") == "your digits"]
        assert yours and len(yours[0]["text"]) == 20  # every sample of the set, labelled with its digit
    captions = " ".join(c.value for c in at.caption)
    assert "Turned to match the first map" in captions and "'continental': 20 of your digits" in captions
    assert at.selectbox(key="map_b_model").value.endswith(f"{TANH}/model.pt")


def test_a_damaged_map_file_is_made_again_without_a_traceback(comparison_store):
    map_page(run=RELU)
    kept = sorted((comparison_store / RELU / "maps").rglob("epoch-*.npz"))
    assert kept
    for path in kept:
        path.write_bytes(b"\x00" * 64)
    at = map_page(run=RELU)
    assert len(maps_on(at)) == 1
    with np.load(kept[-1]) as again:
        assert again["layout"].shape[1] == 2
