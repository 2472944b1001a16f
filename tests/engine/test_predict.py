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
