"""Inside the network, under AppTest: epoch sliders on Filters, Evaluate and Draw,
the attribution panel, two runs side by side, and the Runs table's names and links,
on a store with two real three-epoch runs (relu + max against tanh + avg)."""

from __future__ import annotations

from core.runs.evaluation_record import epoch_report_path
from core.runs.store import read_json, write_json_atomic
from tests.app.test_pages import charts, run_page

RELU, TANH = "20260102-000000-relu-max", "20260102-000001-tanh-avg"


def slider(at, prefix: str):
    found = [s for s in at.get("select_slider") if s.key.startswith(prefix)]
    assert found, [s.key for s in at.get("select_slider")]
    return found[0]


def kernel_values(at) -> list:
    return [c["data"][0]["z"] for c in charts(at, attributions=True)
            if c["layout"]["title"]["text"].startswith("conv1")]


def test_filters_epoch_slider_shows_the_kernels_of_each_epoch(comparison_store):
    at = run_page("filters", run=RELU)
    epochs = slider(at, "filters_epoch")
    assert list(epochs.options) == ["0 (initialisation)", "1", "2", "3 (kept)"] or len(epochs.options) == 4
    last = kernel_values(at)
    epochs.set_value(0).run()
    assert not at.exception
    first = kernel_values(at)
    assert first and first != last  # the initialisation is not the trained kernels
    epochs.set_value(0).run()
    assert kernel_values(at) == first  # the same epoch, the same weights


def test_evaluate_epoch_slider_scores_that_epochs_weights(comparison_store):
    at = run_page("evaluate", run=RELU)
    kept_acc = at.metric[0].value
    slider(at, "eval_epoch").set_value(0).run()
    assert not at.exception
    assert at.metric[0].value != kept_acc and "vs kept" in str(at.metric[0].delta)
    assert epoch_report_path(comparison_store / RELU, 0).is_file()  # read from the run's cache
    assert any("epoch 0" in c for c in (str(x.value) for x in at.caption))


def test_attribution_panel_on_a_test_digit(comparison_store):
    at = run_page("filters", run=RELU)
    titles = [c["layout"]["title"]["text"] for c in charts(at, attributions=True)]
    assert sum("rather than" in t for t in titles) == 1 and sum(t.startswith("toward") for t in titles) == 2
    at.radio(key="filters_why_method").set_value("occlusion").run()
    assert not at.exception
    assert any("rather than" in c["layout"]["title"]["text"] for c in charts(at, attributions=True))


def test_evaluate_explains_a_misclassified_digit(comparison_store):
    at = run_page("evaluate", run=RELU)
    why = at.selectbox(key="eval_why")
    assert why.options
    assert any("rather than" in c["layout"]["title"]["text"] for c in charts(at, attributions=True))


def test_filters_side_by_side_from_a_link(comparison_store):
    at = run_page("filters", run=RELU, compare=TANH)
    assert at.toggle(key="filters_side_by_side").value
    assert RELU in at.selectbox(key="filters_model").value and TANH in at.selectbox(key="filters_b_model").value
    kernels = kernel_values(at)
    assert len(kernels) == 2 and kernels[0] != kernels[1]
    assert len(slider_keys := [s.key for s in at.get("select_slider")]) == 2, slider_keys
    assert sum("rather than" in c["layout"]["title"]["text"] for c in charts(at, attributions=True)) == 2


def test_runs_table_names_every_run_and_links_its_views(comparison_store):
    config = read_json(comparison_store / TANH / "config.json")
    write_json_atomic(comparison_store / TANH / "config.json", {**config, "name": None})  # unnamed
    at = run_page("runs")
    frame = at.dataframe[0].value
    assert set(frame["name"]) == {"relu max", TANH}
    row = frame[frame["run id"] == TANH].iloc[0]
    assert row["evaluate"] == f"evaluate?run={TANH}" and row["draw"] == f"draw?run={TANH}"


def test_runs_compare_links_to_the_side_by_side_views(comparison_store):
    at = run_page("runs")
    at.multiselect[-1].set_value([RELU, TANH]).run()
    assert not at.exception
    links = " ".join(str(m.value) for m in at.markdown)
    assert f"(filters?run={RELU}&compare={TANH})" in links and f"(draw?runs={RELU},{TANH})" in links
