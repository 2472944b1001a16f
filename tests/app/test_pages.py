"""Every dashboard page under Streamlit's AppTest, against empty, completed,
running and failed run stores: no tracebacks, and the page shows what it should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.runs.store import read_json, write_json_atomic

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("home", "train", "runs", "evaluate", "filters", "map", "draw")
STORES = ("store", "completed_store", "running_store", "failed_store")
TIMEOUT = 60  # pages that load torch models or MNIST need more than AppTest's 3 s


def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=TIMEOUT)


def run_page(name: str, **query) -> AppTest:
    at = page(name)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def texts(at: AppTest, kind: str) -> list[str]:
    return [str(e.value) for e in at.get(kind)]


def charts(at: AppTest, attributions: bool = False) -> list[dict]:
    """The page's plotly figures; attribution maps (heatmaps too) only when asked for."""
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return figs if attributions else [f for f in figs if not is_attribution(f)]


def is_attribution(fig: dict) -> bool:
    title = fig["layout"].get("title", {}).get("text") or ""
    return title.startswith("toward ") or " rather than " in title


def table(at: AppTest, index: int = 0):
    return at.dataframe[index].value


@pytest.mark.parametrize("store_name", STORES)
@pytest.mark.parametrize("name", PAGES)
def test_page_renders_without_error(name, store_name, request, mnist_dir):
    request.getfixturevalue(store_name)
    at = run_page(name)
    assert at.title[0].value.lower() in ("digit lab", name)
    assert not texts(at, "error") or store_name == "failed_store" and name == "train"


def test_app_entry_script_runs(completed_store):
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Digit Lab"


# ---------------------------------------------------------------- home

def test_home_lists_latest_runs(completed_store):
    at = run_page("home")
    assert "trains handwritten-digit recognisers" in at.markdown[0].value
    frame = table(at)
    assert list(frame["name"]) == ["fixture run"] and list(frame["state"]) == ["completed"]


def test_home_with_empty_store_says_so(store):
    at = run_page("home")
    assert any("No runs" in t for t in texts(at, "info"))


# ---------------------------------------------------------------- runs

@pytest.mark.parametrize("store_name, state", [
    ("completed_store", "completed"), ("running_store", "running"), ("failed_store", "failed"),
])
def test_runs_table_lists_each_run_with_its_state(store_name, state, request):
    request.getfixturevalue(store_name)
    frame = table(run_page("runs"))
    assert len(frame) == 1 and list(frame["state"]) == [state]
    assert frame["parameters"].iloc[0] > 0
    if state == "failed":
        assert "out of memory (test)" in frame["problems"].iloc[0]
    if state == "completed":
        assert 0.5 < frame["test acc"].iloc[0] <= 1


def test_runs_lists_broken_runs_with_the_reason(completed_store):
    (completed_store / "20260101-000001-broken-0005").mkdir()
    (completed_store / "20260101-000001-broken-0005" / "config.json").write_text("{not json")
    frame = table(run_page("runs"))
    assert len(frame) == 2
    broken = frame[frame["run id"] == "20260101-000001-broken-0005"]
    assert "config.json is unreadable" in broken["problems"].iloc[0]


def test_runs_hundred_runs(hundred_run_store):
    at = run_page("runs")
    frame = table(at)
    assert len(frame) == 100 and set(frame["state"]) == {"completed"}
    at.text_input[0].set_value("0000").run()  # no name matches, run ids do
    assert len(table(at)) == 100
    at.multiselect[0].set_value(["failed"]).run()
    assert len(table(at)) == 0


def test_runs_compare_overlays_curves_and_diffs_settings(completed_store, trained_run):
    from tests.conftest import copy_run

    other = copy_run(trained_run, completed_store, "20260101-000002-other-0006")
    config = read_json(other / "config.json")
    write_json_atomic(other / "config.json", {**config, "lr": 0.5, "name": "other"})
    at = run_page("runs")
    compare = next(m for m in at.multiselect if m.label == "Runs to compare")
    compare.set_value(["20260101-000000-completed-0001", "20260101-000002-other-0006"]).run()
    overlay = charts(at)[0]
    assert len(overlay["data"]) == 2
    diff = table(at, 1)
    assert "lr" in diff.index and "activation" not in diff.index


def test_runs_rename_and_delete(completed_store):
    run_id = "20260101-000000-completed-0001"
    at = run_page("runs")
    at.text_input(key=f"rename-{run_id}").set_value("renamed")
    at.button(key=f"rename-btn-{run_id}").click().run()
    assert read_json(completed_store / run_id / "config.json")["name"] == "renamed"
    assert any("Renamed" in t for t in texts(at, "success"))
    assert list(table(at)["name"]) == ["renamed"]
    assert at.button(key=f"delete-btn-{run_id}").disabled
    at.checkbox(key=f"delete-ok-{run_id}").check().run()
    at.button(key=f"delete-btn-{run_id}").click().run()
    assert not (completed_store / run_id).exists()
    assert any("No runs" in t for t in texts(at, "info"))


def test_runs_refuses_to_delete_a_running_run(running_store):
    run_id = "20260101-000000-running-0002"
    at = run_page("runs")
    at.checkbox(key=f"delete-ok-{run_id}").check().run()
    at.button(key=f"delete-btn-{run_id}").click().run()
    assert (running_store / run_id).exists()
    assert any("cancel the run" in t for t in texts(at, "error"))


def test_confusion_cell_selection_presets_the_class_filters():
    def script():
        from types import SimpleNamespace

        from dashboard import gallery

        event = SimpleNamespace(selection=SimpleNamespace(points=[{"x": "7", "y": "2", "curve_number": 1}]))
        gallery.apply_selection(event, key="t")
        gallery.class_filters(key="t")

    at = AppTest.from_function(script)
    at.run()
    assert not at.exception
    assert (at.selectbox(key="t_true").value, at.selectbox(key="t_pred").value) == (2, 7)
    at.selectbox(key="t_true").set_value(4).run()  # the same selection does not override the user
    assert (at.selectbox(key="t_true").value, at.selectbox(key="t_pred").value) == (4, 7)


def test_confusion_figure_has_a_clickable_marker_per_cell():
    from dashboard.figures import confusion_figure

    fig = confusion_figure([[5 if i == j else 1 for j in range(10)] for i in range(10)], normalized=False)
    heatmap, markers = fig.data
    assert heatmap.type == "heatmap" and markers.type == "scatter" and len(markers.x) == 100
    assert (markers.x[12], markers.y[12]) == ("2", "1")  # pred 2, true 1


@pytest.mark.parametrize("name", PAGES + ("sweeps",))
def test_every_page_with_a_hundred_runs(hundred_run_store, name):
    at = run_page(name)
    assert not at.exception, at.exception
    assert not texts(at, "error")


def test_runs_filter_by_sweep(completed_store, trained_run):
    from tests.conftest import copy_run

    sweeps = ["20260103-000000-sweep-a-0001", "20260103-000000-sweep-a-0001", "20260104-000000-sweep-b-0002"]
    for i, sweep in enumerate(sweeps):
        trial = copy_run(trained_run, completed_store, f"20260102-00000{i}-trial-000{i}")
        write_json_atomic(trial / "config.json", {**read_json(trial / "config.json"), "sweep_id": sweep})
    at = run_page("runs")
    assert len(table(at)) == 4
    at.multiselect(key="runs_sweep").set_value(["20260103-000000-sweep-a-0001"]).run()
    frame = table(at)
    assert len(frame) == 2 and set(frame["sweep"]) == {"20260103-000000-sweep-a-0001"}
