"""The command-line contract: bad options end in one line and exit 2."""

import subprocess
import sys

import pytest

from core.engine.config import from_preset
from core.runs.command_line import config_to_args
from tests.conftest import PROJECT_ROOT


def run_cli(*args, env_extra=None, timeout=120):
    import os
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("args, field", [
    (["--dropout", "1.0"], "dropout"),
    (["--lr", "0"], "lr"),
    (["--lr", "-0.1"], "lr"),
    (["--epochs", "0"], "epochs"),
    (["--batch-size", "0"], "batch-size"),
    (["--batch-size", "60000"], "batch-size"),
    (["--model", "resnet"], "model"),
    (["--activation", "swish"], "activation"),
    (["--pooling", "median"], "pooling"),
    (["--optimizer", "lbfgs"], "optimizer"),
    (["--scheduler", "plateau"], "scheduler"),
    (["--widths", "8,8,8,8,8", "--padding", "valid", "--kernel-size", "5"], "widths"),
    (["--preset", "nope"], "preset"),
    (["--epochs", "two"], "epochs"),
    # Options that would have no effect beside the others are refused, not ignored.
    (["--loss", "mse", "--label-smoothing", "0.1"], "label-smoothing"),
    (["--model", "mlp", "--label-smoothing", "0.1", "--loss", "mse"], "label-smoothing"),
    (["--optimizer", "adam", "--momentum", "0.5"], "momentum"),
    (["--optimizer", "adamw", "--nesterov"], "nesterov"),
    (["--optimizer", "sgd", "--momentum", "0", "--nesterov"], "nesterov"),
    (["--scheduler", "cosine", "--step-size", "5"], "step-size"),
    (["--scheduler", "onecycle", "--gamma", "0.5"], "gamma"),
    (["--model", "mlp", "--pooling", "avg"], "pooling"),
    (["--pooling", "none", "--pool-first"], "pool_first"),
    (["--model", "mlp", "--kernel-size", "5"], "kernel-size"),
    (["--model", "mlp", "--padding", "valid"], "padding"),
    (["--model", "mlp", "--hidden", "64"], "hidden"),
    (["--preset", "lenet1989", "--dropout", "0.2"], "dropout"),
    (["--preset", "lenet1989", "--activation", "relu"], "activation"),
    (["--preset", "lenet1989", "--no-batchnorm"], "batchnorm"),
    (["--preset", "lenet1989", "--widths", "8,16"], "widths"),
    (["--preset", "lenet1989", "--pooling", "max"], "pooling"),
])
def test_bad_option_is_one_line_and_exit_2(args, field, tmp_path):
    result = run_cli("core.train", *args, "--runs-dir", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert field in lines[0]
    assert not any(tmp_path.iterdir()), "nothing may start before validation passes"


def test_missing_mnist_is_one_line_naming_the_setting(tmp_path):
    result = run_cli("core.train", "--epochs", "1", "--runs-dir", str(tmp_path / "runs"),
                     env_extra={"MNIST_DATA_DIR": str(tmp_path / "nothing")})
    assert result.returncode == 2
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and "MNIST_DATA_DIR" in err[0] and "train-images-idx3-ubyte" in err[0]


def test_preset_is_overridden_by_explicit_options():
    cfg = from_preset("seed-cnn", epochs=2, dropout=0.1)
    assert (cfg.epochs, cfg.dropout, cfg.batch_size, cfg.widths) == (2, 0.1, 64, (24, 36))


def test_a_presets_options_that_stop_applying_are_dropped_not_refused():
    """seed-cnn's SGD momentum and step schedule mean nothing once the user picks adam and
    cosine: they are dropped (None in config.json), and only what the user said is judged."""
    cfg = from_preset("seed-cnn", optimizer="adam", scheduler="cosine")
    assert (cfg.momentum, cfg.nesterov, cfg.step_size, cfg.gamma) == (None, None, None, None)
    lenet = from_preset("lenet1989").to_dict()
    assert all(lenet[k] is None for k in ("activation", "pooling", "dropout", "batchnorm", "widths", "hidden"))


def test_config_round_trips_through_the_command_line():
    from core.runs.command_line import OneLineParser, add_train_options, config_from_args
    parser = OneLineParser()
    add_train_options(parser)
    for cfg in (from_preset("best", name="round trip", seed=7), from_preset("lenet1989"),
                from_preset(None, model="mlp", optimizer="sgd", scheduler="step")):
        assert config_from_args(parser.parse_args(config_to_args(cfg))) == cfg


def test_predict_on_unreadable_file_exits_nonzero_with_one_line(tmp_path):
    bad = tmp_path / "not-an-image.png"
    bad.write_bytes(b"definitely not a png")
    result = run_cli("core.predict", str(bad))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
