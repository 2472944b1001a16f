"""Export: ONNX files that onnxruntime runs to PyTorch's answers on all 10,000 MNIST
test digits for every model family, state_dict files that reload with weights_only,
and the command line's one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import onnxruntime
import pytest
import torch
import torch.nn.functional as F

from core.engine.config import from_preset
from core.engine.data import normalize
from core.engine.layout import relayout
from core.engine.mnist import load_mnist
from core.engine.models import build_model
from core.engine.scoring import predict_scores
from core.export import main
from core.runs.checkpoint import load_model, save_checkpoint
from core.runs.model_export import MAX_PROB_DIFF, check_onnx, export_onnx, export_state_dict
from core.runs.store import DEFAULT_MODEL_DIR
from tests.conftest import PROJECT_ROOT

FAMILIES = {
    "mlp": (None, dict(model="mlp")),
    "cnn": (None, dict(model="cnn", widths=(8, 16), hidden=32)),
    "lenet1989-28": ("lenet1989", {}),
    "lenet1989-usps16": ("lenet1989-paper", {}),  # dataset usps: fed 16x16 as published
}
# The README's example (its file name a variable here): rebuild without the training code.
README_EXAMPLE = """\
import torch; from core.engine.models import TrainConfig, build_model  # model classes only
sd = torch.load(path, weights_only=True)
model = build_model(TrainConfig.from_dict(sd["config"])); model.load_state_dict(sd["state_dict"]); model.eval()
"""


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return load_mnist(mnist_dir, download=False)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """A copy of the default model: retraining it may rewrite model.pt while a test reads it."""
    return Path(shutil.copytree(DEFAULT_MODEL_DIR, tmp_path_factory.mktemp("default") / "default-model"))


def quick_fit(model, images, labels, steps: int = 60, batch: int = 64):
    """A few Adam steps. An untrained net's probabilities are all near 0.1, and on some
    of 10,000 digits its top two differ by ~1e-7, float32 noise: the class would be
    a coin toss in any two implementations, PyTorch against itself included."""
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        start = step * batch
        loss = F.cross_entropy(model(normalize(images[start:start + batch])), labels[start:start + batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def make_run(tmp_path, family: str, mnist):
    preset, options = FAMILIES[family]
    torch.manual_seed(0)
    cfg = from_preset(preset, **options)
    images = mnist.train_images[:60 * 64]
    if cfg.input_side() != 28:
        images = torch.from_numpy(relayout(images.numpy(), cfg.input_side()))
    model = quick_fit(build_model(cfg), images, mnist.train_labels[:len(images)])
    run_dir = tmp_path / f"20260101-000000-{family}"
    run_dir.mkdir()
    save_checkpoint(run_dir / "model.pt", model, cfg, epoch=1, val_acc=None)
    return run_dir, cfg


@pytest.mark.parametrize("family", FAMILIES)
def test_onnx_gives_pytorchs_class_and_probabilities_on_every_mnist_test_digit(family, tmp_path, mnist, mnist_dir):
    run_dir, cfg = make_run(tmp_path, family, mnist)
    exported = export_onnx(run_dir, data_dir=mnist_dir)
    print(f"\n{family}: {exported.check.line()}")
    assert exported.onnx.parent == run_dir / "export"
    assert exported.check.digits == 10_000
    assert exported.check.classes_differ == 0
    assert exported.check.max_prob_diff <= MAX_PROB_DIFF
    side = cfg.input_side()
    description = json.loads(exported.description.read_text())
    assert description["input"]["shape"] == ["N", 1, side, side]
    assert description["check"]["passed"] and description["run"] == run_dir.name
    graph_input = onnx.load(exported.onnx).graph.input[0]
    assert graph_input.name == "pixels"
    assert [d.dim_value or d.dim_param for d in graph_input.type.tensor_type.shape.dim][1:] == [1, side, side]
    session = onnxruntime.InferenceSession(str(exported.onnx))
    one = session.run(["probs"], {"pixels": torch.rand(1, 1, side, side).numpy()})
    assert one[0].shape == (1, 10)  # the batch axis is dynamic, down to one image


def test_a_model_that_differs_fails_the_check_and_the_command_exits_1(tmp_path, mnist, mnist_dir, monkeypatch, capsys):
    run_dir, cfg = make_run(tmp_path, "mlp", mnist)
    exported = export_onnx(run_dir, digits=mnist.test_images[:2000])
    other = build_model(cfg).eval()  # fresh weights: what a wrong graph would compute
    assert not check_onnx(exported.onnx, other, mnist.test_images[:2000]).ok
    monkeypatch.setattr("core.runs.model_export.MAX_PROB_DIFF", -1.0)  # any difference at all fails
    assert main(["--run", str(run_dir), "--data-dir", str(mnist_dir)]) == 1
    assert "does not match PyTorch" in capsys.readouterr().err


def test_cli_exports_and_checks_the_default_model(default_run, tmp_path, mnist_dir, capsys):
    assert main(["--run", str(default_run), "--out", str(tmp_path), "--data-dir", str(mnist_dir)]) == 0
    line = capsys.readouterr().out
    print(f"\ndefault model: {line}")
    assert "model.onnx" in line and "0 classes differ" in line
    description = json.loads((tmp_path / "model.onnx.json").read_text())
    _, _, ckpt = load_model(default_run / "model.pt")
    assert description["model_pt_sha256"] == ckpt["sha256"]
    assert description["normalization"]["inside_graph"]
    assert description["check"]["digits"] == 10_000 and description["check"]["classes_differ"] == 0
    assert description["check"]["max_prob_diff"] <= MAX_PROB_DIFF


def test_state_dict_reloads_with_weights_only_and_the_readme_example_rebuilds_the_model(default_run, tmp_path, mnist):
    path = export_state_dict(default_run, tmp_path)
    assert torch.load(path, weights_only=True)["format"] == "digit-lab-state-dict/1"
    scope = {"path": path}
    exec(README_EXAMPLE, scope)
    original, _, _ = load_model(default_run / "model.pt")
    digits = mnist.test_images[:1000]
    cpu = torch.device("cpu")
    assert torch.equal(predict_scores(scope["model"], digits, cpu), predict_scores(original, digits, cpu))


def one_line_exit_2(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1
    return err[0]


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert "not a folder" in one_line_exit_2(["--run", str(tmp_path / "missing")], capsys)
    assert "no model.pt" in one_line_exit_2(["--run", str(tmp_path)], capsys)
    (tmp_path / "model.pt").write_bytes(b"not a checkpoint")
    assert "cannot be loaded safely" in one_line_exit_2(["--run", str(tmp_path)], capsys)
    assert "--format" in one_line_exit_2(["--run", str(tmp_path), "--format", "tflite"], capsys)
    assert not (tmp_path / "export").exists()


def test_not_a_run_from_the_shell_is_one_line_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "core.export", "--run", str(tmp_path)], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def _download_menu(run_dir: str) -> None:
    from pathlib import Path

    from core.runs.store import load_run
    from dashboard import runs_actions

    runs_actions.download(load_run(Path(run_dir)))


def test_runs_page_builds_onnx_and_state_dict_downloads_and_shows_errors(tmp_path, mnist, mnist_dir):
    from streamlit.testing.v1 import AppTest

    good, _ = make_run(tmp_path, "mlp", mnist)
    at = AppTest.from_function(_download_menu, kwargs={"run_dir": str(good)}, default_timeout=120).run()
    for label in ("Build ONNX + JSON (.zip)", "Build state_dict.pt"):
        at = next(b for b in at.button if b.label == label).click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
    assert [b.label for b in at.button] == []
    assert [d.label for d in at.get("download_button")] == [
        "Download model.pt", "Download ONNX + JSON (.zip)", "Download state_dict.pt"]
    broken = tmp_path / "20260101-000000-broken"
    broken.mkdir()
    (broken / "model.pt").write_bytes(b"garbage")
    at = AppTest.from_function(_download_menu, kwargs={"run_dir": str(broken)}, default_timeout=60).run()
    at = next(b for b in at.button if b.label.startswith("Build ONNX")).click().run()
    assert not at.exception and "Could not export onnx" in at.error[0].value
