"""Drawn digits through the default model: the drawing path must read them right."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.engine.prediction import predict_image
from core.predict import model_path
from core.runs.checkpoint import load_model
from tests.conftest import PROJECT_ROOT

# Strokes on a 280x280 canvas, off-centre on purpose, as a user might draw.
STROKES = {
    1: [[(100, 30), (100, 200)]],
    7: [[(30, 40), (170, 40), (80, 220)]],
    0: [[(110, 40), (60, 80), (50, 150), (90, 210), (140, 190), (160, 120), (150, 60), (110, 40)]],
    4: [[(70, 40), (50, 140), (170, 140)], [(140, 60), (140, 240)]],
}


def canvas(digit: int) -> np.ndarray:
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    for stroke in STROKES[digit]:
        draw.line(stroke, fill=(255, 255, 255, 255), width=20, joint="curve")
    return np.asarray(img)


@pytest.fixture(scope="module")
def default_model():
    model, _, _ = load_model(model_path(None))
    return model


@pytest.mark.parametrize("digit", sorted(STROKES))
def test_drawn_digits_are_read_right(default_model, digit):
    prediction = predict_image(default_model, canvas(digit))
    assert prediction.digit == digit, prediction.probs
    assert prediction.confidence > 0.5 and abs(sum(prediction.probs) - 1) < 1e-4


def test_a_photo_of_dark_ink_on_paper_is_read_right(default_model):
    rgba = canvas(7)
    paper = np.full((280, 280, 3), 235, np.uint8)
    paper[rgba[:, :, 3] > 0] = 30  # dark ink
    assert predict_image(default_model, paper).digit == 7


def test_predict_cli_prints_one_json_line_per_image(tmp_path):
    paths = []
    for digit in (7, 1):
        path = tmp_path / f"{digit}.png"
        Image.fromarray(canvas(digit)).save(path)
        paths.append(str(path))
    blank = tmp_path / "blank.png"
    Image.new("RGB", (50, 50), "white").save(blank)
    out = subprocess.run([sys.executable, "-m", "core.predict", *paths, str(blank)], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.strip().splitlines()]
    assert [line["digit"] for line in lines] == [7, 1, None]
    assert set(lines[0]) >= {"path", "digit", "confidence", "probs"} and len(lines[0]["probs"]) == 10
    assert "no digit" in lines[2]["error"]


def test_predicting_scoring_and_explaining_never_change_the_thread_count(monkeypatch):
    """torch's thread count is the process's: the dashboard's sessions predict, score and
    explain in threads of one process, so none of them may set it (a thread started
    meanwhile would keep the value)."""
    import torch

    from core.engine.attribution import explain
    from core.engine.scoring import predict_scores

    model, cfg, _ = load_model(model_path(None))
    monkeypatch.setattr(torch, "set_num_threads", lambda n: pytest.fail(f"set_num_threads({n}) in a shared path"))
    prediction = predict_image(model, canvas(7), cfg.input_side())
    assert prediction.digit == 7
    three = torch.from_numpy(prediction.prepared.laid_out[None]).repeat(3, 1, 1)
    scores = predict_scores(model, three, torch.device("cpu"))
    assert scores.argmax(1).tolist() == [7, 7, 7]
    assert explain(model, prediction.prepared.tensor, "occlusion") is not None


def test_the_dashboard_sets_its_threads_once_at_import():
    probe = ("import torch; torch.set_num_threads(2); import dashboard.process_settings, sys; "
             "print(torch.get_num_threads(), sys.getswitchinterval())")
    out = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    threads, interval = out.stdout.split()
    assert int(threads) == 1 and float(interval) == pytest.approx(0.001)
