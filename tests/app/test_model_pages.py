"""The pages that show a model under AppTest: Evaluate, Filters and Draw, over a
completed run, the default model, and none."""

from __future__ import annotations

import pytest

from core.runs.store import read_json
from tests.app.test_pages import charts, page, run_page, texts

# ---------------------------------------------------------------- evaluate

def test_evaluate_confusion_matrix_and_gallery(completed_store):
    at = run_page("evaluate")
    own, other = [c["data"][0]["z"] for c in charts(at) if c["data"][0]["type"] == "heatmap"]
    assert len(own) == 10 and sum(map(sum, own)) == 10_000
    assert sum(map(sum, other)) == 2_007  # the other handwriting: the zip-code test digits
    evaluation = read_json(completed_store / "20260101-000000-completed-0001" / "evaluation.json")
    assert evaluation["other"]["dataset"] == "usps"
    metric = next(m for m in at.metric if m.label.startswith("Other handwriting"))
    assert metric.value == f"{evaluation['other']['test_acc']:.2%}"
    assert [len(d.value) for d in at.dataframe] == [10, 10]  # per-class tables of both test sets
    assert any(f"model.pt: epoch {evaluation['scored']['epoch']} of 1" in c.value for c in at.caption)
    images = at.get("image")
    assert len(images) == (min(32, len(evaluation["misclassified"]))
                           + min(32, len(evaluation["other"]["misclassified"])))
    at.toggle(key="eval_norm").set_value(True).run()
    z = next(c for c in charts(at) if c["data"][0]["type"] == "heatmap")["data"][0]["z"]
    assert all(abs(sum(row) - 1) < 1e-6 for row in z)


def test_evaluate_class_filters(completed_store):
    evaluation = read_json(completed_store / "20260101-000000-completed-0001" / "evaluation.json")
    true, pred = evaluation["misclassified"][0]["true"], evaluation["misclassified"][0]["pred"]
    expected = sum(m["true"] == true and m["pred"] == pred for m in evaluation["misclassified"])
    at = run_page("evaluate")
    at.selectbox(key="eval_true").set_value(true)
    at.selectbox(key="eval_pred").set_value(pred).run()
    other_shown = min(32, len(evaluation["other"]["misclassified"]))  # the other tab, unfiltered
    assert len(at.get("image")) == min(32, expected) + other_shown
    captions = [c.value for c in at.caption if c.value.startswith("#")][: min(32, expected)]
    assert captions and all(f"**{true} → {pred}**" in c for c in captions)


@pytest.mark.parametrize("store_name", ["store", "running_store", "failed_store"])
def test_evaluate_without_evaluation_says_so(store_name, request, monkeypatch, tmp_path):
    request.getfixturevalue(store_name)
    monkeypatch.setattr("dashboard.cached.DEFAULT_MODEL_DIR", tmp_path / "no-default-model")
    at = run_page("evaluate")
    assert any("No run has an evaluation" in t for t in texts(at, "info"))


@pytest.mark.parametrize("store_name", ["store", "running_store", "failed_store"])
def test_evaluate_shows_the_default_model_when_no_run_has_an_evaluation(store_name, request):
    from core.runs.store import DEFAULT_MODEL_DIR

    request.getfixturevalue(store_name)
    at = run_page("evaluate")
    assert not at.exception and at.selectbox(key="eval_run").value == "default-model"
    confusion = read_json(DEFAULT_MODEL_DIR / "evaluation.json")["confusion"]
    assert at.metric[0].value == f"{sum(confusion[i][i] for i in range(10)) / 10_000:.2%}"


def test_evaluate_without_mnist_still_shows_the_rest(completed_store, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "nowhere"))
    at = run_page("evaluate")
    assert any("not available" in t for t in texts(at, "warning"))
    assert any(c["data"][0]["type"] == "heatmap" for c in charts(at))
    assert not at.get("image")


# ---------------------------------------------------------------- filters

def test_filters_kernels_and_feature_maps(completed_store):
    at = run_page("filters")
    figs = charts(at)
    kernels = [f for f in figs if f["data"][0].get("colorscale") and f["data"][0].get("zmid") == 0]
    assert len(kernels) == 3  # conv layers of the default model (picked first): 32, 64, 128
    titles = [f["layout"]["title"]["text"] for f in figs if f["layout"].get("title", {}).get("text")]
    assert any(t.startswith("block1") for t in titles) and any("class scores" in t for t in titles)
    at.button(key="filters_random").click().run()
    assert not at.exception


def test_filters_puts_the_default_model_beside_a_run(completed_store):
    """The link an adaptation of the default model shows: ?run=default-model&compare=<id>."""
    at = run_page("filters", run="default-model", compare="20260101-000000-completed-0001")
    assert at.toggle(key="filters_side_by_side").value
    labels = [m.label for m in at.metric if m.label.endswith(" says")]
    assert labels[0].startswith("Default model") and len(labels) == 2, labels


def drawn_seven():
    from tests.handwriting import PLACEMENTS, STYLES, canvas_strokes, render

    return render(canvas_strokes(STYLES["7-plain"], PLACEMENTS["large-centred"]), brush=18)


def test_filters_uses_the_drawn_digit(completed_store):
    at = page("filters")
    at.session_state["drawn_digit"] = drawn_seven()
    at.run()
    at.radio(key="filters_source").set_value("Drawn digit").run()
    assert not at.exception and at.metric[0].label == "Model says"


@pytest.mark.parametrize("first", ["20260103-000000-lenet-16", "20260101-000000-completed-0001"])
def test_filters_lays_the_drawn_digit_out_for_each_model(completed_store, lenet16_run, first):
    """Drawn for one input side, shown on Filters beside a model of the other: each model
    is fed the drawing at its own side (16x16 LeNet, 28x28 CNN), by either source."""
    from tests.conftest import copy_run

    copy_run(lenet16_run, completed_store, lenet16_run.name)
    other = next(p.name for p in completed_store.iterdir() if p.name != first)
    at = page("filters")
    at.query_params["run"], at.query_params["compare"] = first, other
    at.session_state["drawn_digit"] = drawn_seven()
    at.run()
    for source in ("Drawn digit", "Test-set digit"):
        at.radio(key="filters_source").set_value(source).run()
        assert not at.exception, [e.message for e in at.exception]
        assert len([m for m in at.metric if m.label.endswith(" says")]) == 2


@pytest.mark.parametrize("name", ["filters", "draw"])
def test_model_pages_without_any_model(store, name, monkeypatch, tmp_path):
    monkeypatch.setattr("dashboard.cached.DEFAULT_MODEL_DIR", tmp_path / "no-default-model")
    at = run_page(name)
    assert any("No model yet" in t for t in texts(at, "info"))


# ---------------------------------------------------------------- draw

def test_draw_empty_canvas_asks_for_a_digit(completed_store):
    at = run_page("draw")
    assert any("Draw a digit" in t for t in texts(at, "info"))
    assert at.slider(key="draw_brush").value == 18
    assert "drawn_digit" not in at.session_state
