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


def test_an_adaptation_says_how_many_digits_its_figures_rest_on(tmp_path, monkeypatch, mnist_dir):
    """10 held-out digits: the figure counts them and says they are a handful; MNIST's
    change is in digits; the curves name the person's held-out digits, not "val"."""
    import subprocess
    import sys

    from core.runs.store import RUNS_DIR_ENV

    monkeypatch.setenv(HANDWRITING_DIR_ENV, str(tmp_path / "sets"))
    monkeypatch.setenv(RUNS_DIR_ENV, str(tmp_path / "runs"))
    hw = HandwritingSet.create("continental", tmp_path / "sets", canvas=(280, 280))
    for digit, rgba in writer_samples(WRITERS["continental"], 2, seed=4):
        hw.add(digit, rgba)
    out = subprocess.run([sys.executable, "-m", "core.adapt", "--handwriting", str(hw.path), "--holdout", "0.5",
                          "--runs-dir", str(tmp_path / "runs")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    at = AppTest.from_file(str(ROOT / "pages" / "handwriting.py"), default_timeout=90)
    at.session_state["hw_adapt_run"] = Path(out.stdout.splitlines()[0]).name
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    held = [m for m in at.metric if "held-out" in m.label]
    assert held and "Your 10 held-out digits" in held[0].label and "handful" in held[0].label
    assert held[0].value.endswith("of 10 read right"), held[0].value
    mnist = [m for m in at.metric if m.label.startswith("MNIST test")]
    assert mnist and "digits read right" in mnist[0].proto.delta, mnist[0].proto.delta
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert charts and all('"val"' not in spec for spec in charts)
    assert any("your held-out digits (10)" in spec for spec in charts)
