"""The Train page's preview of a run: the layer table of every model family, and the
time estimate from a measured step."""

from __future__ import annotations

import pytest
import torch

from core.engine.architecture import layer_table, total_parameters
from core.engine.config import PRESETS, ConfigError, from_preset
from core.engine.models import build_model, count_parameters
from core.engine.step_time import MAX_STEPS, STEPS, Measured, estimate_run_seconds, measure
from core.engine.trainer import training_batch

CONFIGS = {
    "cnn": from_preset(None),
    "cnn-valid": from_preset(None, widths=(8, 16, 24), padding="valid", kernel_size=3),
    "cnn-5x5-stride": from_preset(None, widths=(12,), kernel_size=5, pooling="none", batchnorm=False),
    "cnn-avg-lp": from_preset(None, widths=(4, 8), pooling="lp", hidden=16),
    "seed-cnn": from_preset("seed-cnn"),
    "handwriting": from_preset("handwriting"),
    "mlp": from_preset(None, model="mlp"),
    "mlp-no-bn": from_preset(None, model="mlp", widths=(300, 100, 50), batchnorm=False),
    "lenet1989-28": from_preset("lenet1989"),
    "lenet1989-16": from_preset("lenet1989-paper"),
}


def measure_step_seconds(cfg, steps: int = STEPS) -> float:
    """Median seconds of one real training step of `cfg` (the preview's own measurement)."""
    return measure(cfg, steps).step_seconds


@pytest.mark.parametrize("name", CONFIGS)
def test_rows_add_up_to_the_models_parameters(name):
    cfg = CONFIGS[name]
    rows = layer_table(cfg)
    assert total_parameters(rows) == count_parameters(build_model(cfg))
    assert rows[0].name == "input" and rows[0].output_shape == (1, cfg.input_side(), cfg.input_side())
    assert rows[-1].output_shape == (10,)
    assert len({row.name for row in rows}) == len(rows)  # every layer named once


def test_conv_output_shape_follows_the_padding():
    same = {r.name: r for r in layer_table(from_preset(None, widths=(8, 16), padding="same", kernel_size=5))}
    valid = {r.name: r for r in layer_table(from_preset(None, widths=(8, 16), padding="valid", kernel_size=5))}
    assert same["conv1"].output_shape == (8, 28, 28) and same["pool1"].output_shape == (8, 14, 14)
    assert valid["conv1"].output_shape == (8, 24, 24) and valid["pool1"].output_shape == (8, 12, 12)
    assert valid["conv2"].output_shape == (16, 8, 8) and valid["conv2"].kind == "Conv2d 5x5"
    assert same["conv2"].kind == "Conv2d 5x5 pad 2"
    assert same["conv2"].parameters == 16 * 8 * 25  # batch norm: the convolution has no bias


def test_cnn_rows_are_the_layers_a_learner_knows():
    rows = layer_table(from_preset(None))
    assert [r.name for r in rows] == ["input", "conv1", "bn1", "act1", "pool1", "conv2", "bn2", "act2", "pool2",
                                      "flatten", "fc1", "act3", "drop1", "fc2"]
    assert [r.kind for r in rows][1:5] == ["Conv2d 3x3 pad 1", "BatchNorm", "ReLU", "MaxPool 2x2"]
    assert rows[9].output_shape == (64 * 7 * 7,)


@pytest.mark.parametrize("preset, side", [("lenet1989", 28), ("lenet1989-paper", 16)])
def test_lenet1989_rows_are_the_papers_layers(preset, side):
    rows = layer_table(from_preset(preset))
    assert [(r.name, r.output_shape, r.parameters) for r in rows] == [
        ("input", (1, side, side), 0), ("input16", (1, 16, 16), 0), ("H1", (12, 8, 8), 12 * 25 + 12 * 64),
        ("H2", (12, 4, 4), 12 * 8 * 25 + 12 * 16), ("H3", (30,), 192 * 30 + 30), ("output", (10,), 310)]
    assert total_parameters(rows) == 9_760  # the paper's count


def test_estimate_grows_linearly_with_epochs():
    measured = Measured(step_seconds=0.05, eval_seconds_per_image=1e-4)
    total = {e: estimate_run_seconds(from_preset(None, epochs=e), measured).total_seconds for e in (1, 2, 10)}
    assert 0 < total[1] < total[2] < total[10]
    assert total[10] - total[1] == pytest.approx(9 * (total[2] - total[1]))
    ten = estimate_run_seconds(from_preset(None, epochs=10), measured)
    assert ten.steps_per_epoch == (60_000 - 5_000) // 128 and ten.epochs == 10
    assert ten.training_seconds == pytest.approx(0.05 * ten.steps_per_epoch * 10)


def test_estimate_counts_the_training_digits_actually_used():
    measured = Measured(step_seconds=0.01, eval_seconds_per_image=0.0)
    limited = estimate_run_seconds(from_preset(None, train_limit=6_000, batch_size=100), measured)
    paper = estimate_run_seconds(from_preset("lenet1989-paper"), measured)
    assert limited.steps_per_epoch == 60 and limited.total_seconds == pytest.approx(0.01 * 60 * 3)
    assert paper.steps_per_epoch == 7_291 and paper.epochs == 23  # nothing held out, batch 1


def test_tta_makes_the_final_report_dearer():
    measured = Measured(step_seconds=0.0, eval_seconds_per_image=1e-4)
    plain, tta = (estimate_run_seconds(from_preset(None, tta=t), measured) for t in (False, True))
    # Without TTA only the zip codes are scored at the end (MNIST's scores are the loop's);
    # with it both test sets, five passes each.
    assert plain.report_seconds == pytest.approx(2_007 * 1e-4)
    assert tta.report_seconds == pytest.approx(5 * (10_000 + 2_007) * 1e-4)
    assert tta.scoring_seconds_per_epoch == plain.scoring_seconds_per_epoch


def test_a_huge_batch_is_timed_at_a_bounded_size_and_scaled(monkeypatch):
    """The Train preview never runs a step of more than MAX_TIMED_BATCH digits inside the
    server, whatever the form says (55,000 would take gigabytes)."""
    import core.engine.step_time as step_time

    seen = []
    real = step_time._random_digits
    monkeypatch.setattr(step_time, "_random_digits", lambda cfg, n, gen: (seen.append(n), real(cfg, n, gen))[1])
    big = measure_step_seconds(from_preset("fast", batch_size=20_000))
    assert seen and max(seen) == step_time.MAX_TIMED_BATCH
    small = measure_step_seconds(from_preset("fast", batch_size=512))
    assert big > 10 * small  # scaled to the batch asked for, not the one timed


def test_measuring_is_short_positive_and_never_changes_the_thread_count(monkeypatch):
    # The preview measures in the dashboard's process, beside other sessions' threads.
    monkeypatch.setattr(torch, "set_num_threads", lambda n: pytest.fail(f"set_num_threads({n}) while measuring"))
    state = torch.get_rng_state()
    small = measure_step_seconds(from_preset("lenet1989-paper"))  # batch 1: a run would train on one thread
    assert torch.equal(torch.get_rng_state(), state)
    cnn = from_preset(None, widths=(8, 16), hidden=32)
    measured = measure(cnn)
    assert 0 < small < 1 and 0 < measured.step_seconds < 5 and measured.eval_seconds_per_image > 0
    assert estimate_run_seconds(cnn, measured).total_seconds > 0


def test_measuring_runs_the_real_augmented_batch(monkeypatch):
    import core.engine.step_time as step_time

    batches = []

    def spy(images, cfg, gen):
        batches.append((tuple(images.shape), images.dtype, cfg.augment, cfg.elastic))
        return training_batch(images, cfg, gen)

    monkeypatch.setattr(step_time, "training_batch", spy)
    monkeypatch.setattr(step_time, "BUDGET_SECONDS", 60.0)  # a busy machine must not cut the count short
    cfg = from_preset(None, model="mlp", widths=(16,), batch_size=64, augment=2.0, elastic=1.0)
    assert measure_step_seconds(cfg, steps=3) > 0
    assert 1 + 3 <= len(batches) <= 1 + MAX_STEPS  # a warm-up step, then at least `steps` timed ones
    assert set(batches) == {((64, 28, 28), torch.uint8, 2.0, 1.0)}
    batches.clear()
    monkeypatch.setattr(step_time, "BUDGET_SECONDS", 0.0)  # out of time: the warm-up and one timed step
    measure_step_seconds(cfg, steps=3)
    assert len(batches) == 2


def test_short_steps_go_on_to_the_most_steps_within_the_schedule(monkeypatch):
    """Millisecond steps are timed for longer; a one-epoch OneCycle schedule must not run out."""
    import core.engine.step_time as step_time

    monkeypatch.setattr(step_time, "BUDGET_SECONDS", 60.0)
    monkeypatch.setattr(step_time, "MIN_SECONDS", 60.0)
    monkeypatch.setattr(step_time, "MAX_STEPS", 12)
    cfg = from_preset(None, model="mlp", widths=(8,), batch_size=32, augment=0.0, epochs=1, scheduler="onecycle")
    assert measure_step_seconds(cfg, steps=3) > 0


@pytest.mark.parametrize("preset", [None, *PRESETS])
def test_the_size_worked_out_from_the_settings_is_the_model_built(preset):
    from core.engine.model_size import parameter_count

    cfg = from_preset(preset)
    assert parameter_count(cfg) == count_parameters(build_model(cfg))
    mlp = from_preset(None, model="mlp", widths=(300, 100), batchnorm=False)
    assert parameter_count(mlp) == count_parameters(build_model(mlp))


def test_a_model_too_big_for_the_server_is_refused_before_it_is_built():
    """Widths and hidden units each within range, together 14 billion weights: refused
    with the reason, in no time (nothing is allocated); the widest layers allowed are
    timed by the preview on a handful of digits."""
    from core.engine.model_size import MAX_ACTIVATIONS
    from core.engine.step_time import timed_batch

    with pytest.raises(ConfigError, match="parameters; at most"):
        from_preset(None, model="cnn", widths=(4096, 4096), hidden=65_536, kernel_size=9)
    with pytest.raises(ConfigError, match="values per image"):
        from_preset(None, model="cnn", widths=(4096,), hidden=16)
    wide = from_preset(None, model="cnn", widths=(512, 512), hidden=64, batch_size=512)
    fast = from_preset("fast")
    assert timed_batch(wide) < 512 and timed_batch(fast) == fast.batch_size
    assert MAX_ACTIVATIONS > 20 * 44_000  # the largest preset's activations, with room to explore
