"""The Train page under AppTest: the form, its checks, the preview before launch, and
the run it launches and then watches."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.engine.config import PRESETS
from core.runs.liveness import now_iso
from core.runs.store import write_json_atomic
from tests.app.test_pages import charts, run_page, texts

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


launched_to: list = []  # the address each launch was sent to (None: here)


def _no_launch(monkeypatch):
    launched = []
    monkeypatch.setattr("core.runs.launcher.launch_run",
                        lambda cfg, runs_dir, address=None: launched.append(cfg) or launched_to.append(address))
    launched_to.clear()
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

    def fake_launch(cfg, runs_dir, address=None):
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


def test_train_a_model_too_big_for_the_server_is_refused_before_any_work(store, monkeypatch):
    """Hidden units within their range but, with the default widths, 200 M weights: the
    preview builds and times nothing, Start says why, nothing is launched."""
    launched = _no_launch(monkeypatch)
    at = run_page("train")
    at.number_input(key="tf_hidden").set_value(65_536).run()
    assert not at.exception
    assert any("parameters; at most" in t for t in texts(at, "error") + texts(at, "warning") + texts(at, "markdown"))
    next(b for b in at.button if b.label == "Start training").click().run()
    assert launched == [] and list(store.iterdir()) == []


def test_with_a_cluster_set_the_page_offers_it_and_sends_the_run_there(store, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_RAY_ADDRESS", "10.0.0.1:6379")
    launched = _no_launch(monkeypatch)
    at = run_page("train")
    toggle = at.toggle(key="tf_cluster")
    assert toggle.value and "10.0.0.1:6379" in toggle.label
    next(b for b in at.button if b.label == "Start training").click().run()
    assert len(launched) == 1 and launched_to == ["10.0.0.1:6379"]


def test_without_a_cluster_runs_train_here_and_the_page_says_where_each_trains(store, monkeypatch):
    from dashboard.train_live import where_it_trains

    monkeypatch.delenv("DIGIT_LAB_RAY_ADDRESS", raising=False)
    launched = _no_launch(monkeypatch)
    at = run_page("train")
    assert not [t for t in at.toggle if t.key == "tf_cluster"]
    next(b for b in at.button if b.label == "Start training").click().run()
    assert len(launched) == 1 and launched_to == [None]
    assert where_it_trains({"host": "lab"}) == "Trains on this machine (lab)."
    assert where_it_trains({"cluster": "10.0.0.1:6379", "trains_on": "10.0.0.7 27293f45f87c4b98"}) == \
        "Trains on the Ray cluster at 10.0.0.1:6379, node 10.0.0.7 (27293f45)."
    assert "waiting for a node" in where_it_trains({"cluster": "10.0.0.1:6379"})
