"""Every dashboard page under Streamlit's AppTest, against empty, completed,
running and failed run stores: no tracebacks, and the page shows what it should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.engine.config import PRESETS
from core.runs.liveness import now_iso
from core.runs.store import read_json, write_json_atomic

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("home", "train", "runs", "evaluate", "filters", "draw")
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


@pytest.fixture(autouse=True)
def _fresh_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


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


# ---------------------------------------------------------------- train

def test_train_running_run_shows_progress_and_cancel(running_store):
    at = run_page("train")
    progress = at.get("progress")
    assert progress and progress[0].proto.value == int(100 * (1 + 10 / 46) / 3)
    assert "Epoch 2/3" in progress[0].proto.text
    assert any(b.label == "Cancel run" for b in at.button)
    assert len(charts(at)) == 2  # live loss and accuracy curves


def test_train_reattaches_from_query_param_and_shows_failure(failed_store):
    at = run_page("train", run="20260101-000000-failed-0003")
    assert any("out of memory (test)" in t for t in texts(at, "error"))
    assert not any(b.label == "Cancel run" for b in at.button)


def test_train_unknown_run_in_query_param_warns(completed_store):
    at = run_page("train", run="20990101-000000-nope-0000")
    assert any("not in the run store" in t for t in texts(at, "warning"))
    assert any("Completed" in t for t in texts(at, "success"))


def _no_launch(monkeypatch):
    launched = []
    monkeypatch.setattr("core.runs.launcher.launch_run", lambda cfg, runs_dir: launched.append(cfg))
    return launched


@pytest.mark.parametrize("label, value, field", [
    ("Dropout", 1.0, "dropout"), ("Learning rate", 0.0, "lr"), ("Epochs", 0, "epochs"),
])
def test_train_bad_option_names_the_field_and_launches_nothing(store, monkeypatch, label, value, field):
    launched = _no_launch(monkeypatch)
    at = run_page("train")
    at.number_input(key=f"tf_{field}").set_value(value)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    errors = texts(at, "error")
    assert errors and f"**{field}**" in errors[0]
    assert launched == [] and list(store.iterdir()) == []


def test_train_refuses_a_changed_option_that_has_no_effect(store, monkeypatch):
    launched = _no_launch(monkeypatch)
    at = run_page("train")
    at.selectbox(key="tf_optimizer").set_value("adam")
    at.number_input(key="tf_momentum").set_value(0.5)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert "**momentum**" in texts(at, "error")[0] and "optimizer is sgd" in texts(at, "error")[0]
    assert launched == []


def test_train_drops_a_presets_option_that_stopped_applying(store, monkeypatch):
    launched = _no_launch(monkeypatch)
    at = run_page("train")
    at.selectbox(key="tf_preset").set_value("seed-cnn").run()
    at.selectbox(key="tf_optimizer").set_value("adam")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not texts(at, "error")
    assert len(launched) == 1 and launched[0].optimizer == "adam" and launched[0].momentum is None
    assert launched[0].preset == "seed-cnn" and launched[0].widths == (24, 36)


def test_train_bad_widths_text(store, monkeypatch):
    launched = _no_launch(monkeypatch)
    at = run_page("train")
    at.text_input(key="tf_widths").set_value("32,abc")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert "**widths**" in texts(at, "error")[0] and launched == []


def test_train_preset_fills_the_form(store):
    at = run_page("train")
    at.selectbox(key="tf_preset").set_value("lenet1989").run()
    assert at.selectbox(key="tf_model").value == "lenet1989"
    assert at.selectbox(key="tf_loss").value == "mse"
    assert at.number_input(key="tf_batch_size").value == 1
    at.selectbox(key="tf_preset").set_value("seed-cnn").run()
    assert at.text_input(key="tf_widths").value == "24,36"
    assert at.selectbox(key="tf_model").value == "cnn"


def test_train_augmentation_preview_follows_the_settings_live(store):
    """The grid of training digits redraws as an augmentation setting changes, before any launch."""
    def preview(at):
        image = at.get("image")[-1].proto.imgs[0]
        return image.url, image.caption

    at = run_page("train")
    at.number_input(key="tf_augment").set_value(0.0).run()
    plain, caption = preview(at)
    assert "affine 0, elastic 0, thickness 0, slant 0 deg" in caption
    at.number_input(key="tf_elastic").set_value(1.0).run()
    distorted, caption = preview(at)
    assert "elastic 1," in caption and distorted != plain
    at.selectbox(key="tf_dataset").set_value("usps").run()
    assert "USPS zip codes" in preview(at)[1]
    assert not at.exception and not list(store.iterdir())  # nothing launched


def test_train_submit_launches_and_attaches(store, monkeypatch):
    launched = []

    def fake_launch(cfg, runs_dir):
        run_id = "20260101-000000-launched-0004"
        (Path(runs_dir) / run_id).mkdir()
        write_json_atomic(Path(runs_dir) / run_id / "config.json", cfg.to_dict())
        write_json_atomic(Path(runs_dir) / run_id / "status.json", {"state": "queued", "launched_at": now_iso()})
        launched.append(cfg)
        return run_id

    monkeypatch.setattr("core.runs.launcher.launch_run", fake_launch)
    at = run_page("train")
    at.selectbox(key="tf_preset").set_value("fast").run()
    at.text_input(key="tf_name").set_value("my run")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception and len(launched) == 1
    cfg = launched[0]
    fast = PRESETS["fast"]
    assert (cfg.model, cfg.widths, cfg.epochs, cfg.hidden, cfg.name) == (
        fast["model"], fast["widths"], fast["epochs"], fast["hidden"], "my run")
    assert cfg.data_dir is None  # an empty MNIST folder field leaves the setting to $MNIST_DATA_DIR
    assert at.query_params["run"] == ["20260101-000000-launched-0004"] or \
        at.query_params["run"] == "20260101-000000-launched-0004"
    assert at.get("progress") and any(b.label == "Cancel run" for b in at.button)


def _form_keys(block) -> set[str]:
    return {w.key for kind in ("selectbox", "number_input", "checkbox", "text_input") for w in block.get(kind)}


def test_train_form_keeps_the_common_choices_in_view_and_the_rest_under_advanced(store):
    from core.engine.options import OPTION

    at = run_page("train")
    advanced = next(e for e in at.expander if e.label == "Advanced")
    inside = _form_keys(advanced)
    common = {"model", "activation", "pooling", "dropout", "batchnorm", "optimizer", "lr", "epochs", "augment"}
    assert {"tf_seed", "tf_weight_decay", "tf_widths", "tf_batch_size", "tf_name"} <= inside
    assert not {f"tf_{field}" for field in common} & inside
    assert _form_keys(at) >= {f"tf_{field}" for field in OPTION}  # still every option


def _preview_table(at: AppTest):
    return next(d.value for d in at.dataframe if "parameters" in d.value.columns)


def _estimate(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("Estimated time on this machine"))


def test_train_preview_shows_the_layers_and_the_time_before_launch(store):
    from core.engine.config import from_preset
    from core.engine.models import build_model, count_parameters

    at = run_page("train")
    frame = _preview_table(at)
    total = count_parameters(build_model(from_preset(None)))
    assert frame["parameters"].sum() == total
    assert list(frame["layer"])[:2] == ["input", "conv1"] and list(frame["output shape"])[-1] == "10"
    assert any(f"{total:,} parameters" in m.value for m in at.markdown)
    assert "per step × 429 steps × 3 epochs" in _estimate(at)
    assert any("Measured now" in c.value for c in at.caption)
    assert not list(store.iterdir())  # nothing launched


def test_train_preview_follows_the_settings(store):
    from core.engine.config import from_preset
    from core.engine.models import build_model, count_parameters

    at = run_page("train")
    assert "conv1" in list(_preview_table(at)["layer"])
    at.selectbox(key="tf_model").set_value("mlp").run()
    frame = _preview_table(at)
    assert "conv1" not in list(frame["layer"]) and "fc3" in list(frame["layer"])
    assert frame["parameters"].sum() == count_parameters(build_model(from_preset(None, model="mlp")))
    at.number_input(key="tf_epochs").set_value(6).run()
    assert "× 6 epochs" in _estimate(at)


def test_train_preview_of_invalid_settings_says_why(store):
    at = run_page("train")
    at.number_input(key="tf_dropout").set_value(1.0).run()
    assert not at.exception and not at.dataframe
    assert any("**dropout**" in t for t in texts(at, "warning"))


def test_train_preview_says_when_a_step_cannot_run(store):
    """Batch norm cannot train on one digit at a time: the preview says so, the table stays."""
    at = run_page("train")
    at.selectbox(key="tf_model").set_value("mlp")
    at.number_input(key="tf_batch_size").set_value(1).run()
    assert not at.exception and "fc1" in list(_preview_table(at)["layer"])
    assert any("Could not time a training step" in t and "more than 1 value" in t for t in texts(at, "warning"))


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
