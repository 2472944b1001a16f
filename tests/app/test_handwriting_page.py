"""The Handwriting page under AppTest: a new user's empty store, then a set with a
writer's digits: the collect count, the grid, and how the default model reads them."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.runs.handwriting_sets import HANDWRITING_DIR_ENV, HandwritingSet
from tests.writers import WRITERS, writer_samples

ROOT = Path(__file__).resolve().parents[2]


def run_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "handwriting.py"), default_timeout=90)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_new_user_is_asked_to_name_a_set(tmp_path, monkeypatch):
    monkeypatch.setenv(HANDWRITING_DIR_ENV, str(tmp_path))
    at = run_page()
    assert any("Name a new set" in i.value for i in at.info)
    at.text_input(key="handwriting_set_new").input("../escape").run()
    assert any("not a set name" in e.value for e in at.error)
    assert list(tmp_path.iterdir()) == []


def test_a_set_shows_its_count_grid_and_how_the_default_model_reads_it(tmp_path, monkeypatch):
    monkeypatch.setenv(HANDWRITING_DIR_ENV, str(tmp_path))
    hw = HandwritingSet.create("continental", tmp_path, canvas=(280, 280))
    for digit, rgba in writer_samples({**WRITERS["continental"]}, 3, seed=1):
        hw.add(digit, rgba)
    at = run_page()
    assert any("30 of 50" in str(p.proto) for p in at.get("progress")), "the collect count"
    asked = [m.value for m in at.markdown if "Write a" in m.value]
    assert asked and ">0<" in asked[0], asked  # every digit has 3 of 5: the first asked again is 0
    metric = [m for m in at.metric if "continental" in m.label]
    assert metric and metric[0].value == "80.0%", [(m.label, m.value) for m in at.metric]  # 1s and 7s misread
    assert any("read as" in c.value for c in at.caption)


def test_the_runs_table_gets_a_column_for_the_picked_set(completed_store, tmp_path, monkeypatch):
    monkeypatch.setenv(HANDWRITING_DIR_ENV, str(tmp_path / "sets"))
    hw = HandwritingSet.create("mine", tmp_path / "sets")
    for digit, rgba in writer_samples({}, 2, seed=3):  # plain styles
        hw.add(digit, rgba)
    at = AppTest.from_file(str(ROOT / "pages" / "runs.py"), default_timeout=90)
    at.run()
    at.selectbox(key="runs_handwriting").set_value("mine").run()
    assert not at.exception, [e.message for e in at.exception]
    column = at.dataframe[0].value["on 'mine'"]
    assert column.notna().all() and ((column >= 0) & (column <= 1)).all()  # the 1-epoch fixture run's accuracy
