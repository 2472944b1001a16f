"""A run's maps: one per kept epoch, each started from the one before, kept in the run
folder and read back without refitting; the CLI's CSV, .npz and TensorBoard files."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import core.runs.maps as maps
from core.engine.datasets import load_test_set
from core.engine.projection import MapSettings
from core.engine.scoring import predict_scores
from core.runs.checkpoint import load_model
from core.runs.maps import anchor_epoch, epoch_map, epoch_map_path, model_map, neighbour_pool, read_map
from core.runs.snapshots import list_snapshots, snapshot_path
from tests.conftest import PROJECT_ROOT, copy_run

SAMPLES = 600


@pytest.fixture
def run_dir(epoch_runs, tmp_path) -> Path:
    return copy_run(epoch_runs[0], tmp_path, epoch_runs[0].name)


@pytest.fixture(scope="module")
def test_digits(mnist_dir):
    return load_test_set("mnist", mnist_dir)


def test_asking_for_an_epoch_makes_the_maps_before_it_once_and_then_reads_them(run_dir, test_digits, monkeypatch):
    settings = MapSettings("umap")
    told = []
    kept = list_snapshots(run_dir)
    last = kept[-1]
    anchor = anchor_epoch(run_dir, kept)
    assert anchor == load_model(run_dir / "model.pt")[2]["epoch"]

    def made_so_far() -> list[int]:
        return [e for e in kept if epoch_map_path(run_dir, e, settings, SAMPLES, anchor).is_file()]

    first = epoch_map(run_dir, anchor, test_digits, settings, SAMPLES, progress=lambda d, t, what: told.append(what))
    assert made_so_far() == [anchor] and len(told) == 2  # the slider's first epoch: one fit
    initial = epoch_map(run_dir, 0, test_digits, settings, SAMPLES, progress=lambda d, t, what: told.append(what))
    assert made_so_far() == [e for e in kept if e <= anchor]  # the anchor's down to 0, each from the next
    assert any("epoch 0" in what for what in told) and told[-1] == "Map ready"
    made = epoch_map(run_dir, last, test_digits, settings, SAMPLES)
    assert made_so_far() == kept
    # What the map says the model answered is what the model answers.
    model, _, ckpt = load_model(snapshot_path(run_dir, last))
    images = test_digits.images[torch.as_tensor(made.indices)]
    assert np.array_equal(made.answers, predict_scores(model, images, torch.device("cpu")).argmax(1).numpy())
    assert np.array_equal(made.labels, test_digits.labels[torch.as_tensor(made.indices)].numpy())
    assert made.weights_sha256 == ckpt["sha256"] and made.epoch == last and made.samples == SAMPLES
    assert np.bincount(made.labels).tolist() == [SAMPLES // 10] * 10
    text = made.describe()
    for said in (f"{SAMPLES} MNIST test digits", "seed 0", "the 32 inputs of the last linear layer",
                 f"epoch {last}", "UMAP, 15 neighbours", "without their labels"):
        assert said in text, (said, text)
    # Kept: reading it again fits nothing.
    monkeypatch.setattr(maps, "project", lambda *a, **k: pytest.fail("a kept map was fitted again"))
    again = epoch_map(run_dir, last, test_digits, settings, SAMPLES)
    assert np.array_equal(again.layout, made.layout) and again.features is None
    assert not np.allclose(initial.layout, first.layout, atol=0.05)  # the initialisation's map is another picture


def test_a_damaged_or_foreign_map_is_made_again(run_dir, test_digits):
    settings = MapSettings("pca")
    made = epoch_map(run_dir, 1, test_digits, settings, SAMPLES)
    path = epoch_map_path(run_dir, 1, settings, SAMPLES, anchor_epoch(run_dir, list_snapshots(run_dir)))
    path.write_bytes(b"PK\x03\x04 not a zip")
    assert read_map(path, settings) is None
    again = epoch_map(run_dir, 1, test_digits, settings, SAMPLES)
    assert np.allclose(again.layout, made.layout, atol=1e-4) and read_map(path, settings) is not None
    assert read_map(path, MapSettings("pca", seed=3)) is None  # other settings: not this map
    with pytest.raises(FileNotFoundError, match="epoch 9"):
        epoch_map(run_dir, 9, test_digits, settings, SAMPLES)


def test_model_pt_uses_its_epochs_map_and_a_model_without_epochs_gets_its_own(run_dir, test_digits, tmp_path):
    settings = MapSettings("pca")
    kept_epoch = load_model(run_dir / "model.pt")[2]["epoch"]
    assert model_map(run_dir / "model.pt", test_digits, settings, SAMPLES).epoch == kept_epoch
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "model.pt").write_bytes((run_dir / "model.pt").read_bytes())
    made = model_map(alone / "model.pt", test_digits, settings, SAMPLES)
    assert made.epoch is None and list((alone / "maps").rglob("model-*.npz"))


def test_a_drawings_neighbours_come_from_the_runs_training_digits(run_dir, mnist_dir):
    cfg = load_model(run_dir / "model.pt")[1]
    images, labels = neighbour_pool(cfg, count=500)
    assert images.shape == (500, 28, 28) and np.bincount(labels.numpy()).tolist() == [50] * 10
    test = load_test_set("mnist", mnist_dir)
    test_rows = {bytes(t.numpy()) for t in test.images[:2000]}
    assert not any(bytes(img.numpy()) in test_rows for img in images[:200])


def embed(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.embed", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_the_cli_writes_csv_npz_and_a_projector_that_tensorboard_can_open(run_dir, tmp_path):
    out = embed("--run", str(run_dir), "--epoch", "2", "--method", "pca", "--samples", "300",
                "--out", str(tmp_path / "map.csv"), "--tensorboard", str(tmp_path / "tb"))
    assert out.returncode == 0, out.stderr
    with (tmp_path / "map.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 300 and set(rows[0]) == {"index", "x", "y", "label", "answer", "confidence"}
    assert "at epoch 2" in out.stdout and "PCA" in out.stdout
    config = (tmp_path / "tb" / "projector_config.pbtxt").read_text()
    named = re.findall(r'(?:tensor_path|metadata_path|image_path): "([^"]+)"', config)
    assert len(named) == 3 and all((tmp_path / "tb" / p).is_file() for p in named)
    metadata = (tmp_path / "tb" / named[1] if "metadata" in named[1] else tmp_path / "tb" / named[0])
    lines = next((tmp_path / "tb").rglob("metadata.tsv")).read_text().splitlines()
    assert lines[0].split("\t") == ["label", "answer", "confidence", "read"] and len(lines) == 301
    assert metadata.exists()
    assert embed("--run", str(run_dir), "--epoch", "2", "--method", "pca", "--samples", "300",
                 "--out", str(tmp_path / "map.npz")).returncode == 0
    with np.load(tmp_path / "map.npz") as kept:
        assert kept["features"].shape == (300, 32) and kept["x"].shape == (300,)
        assert np.array_equal(kept["index"], np.asarray([int(r["index"]) for r in rows]))


@pytest.mark.parametrize("args, said", [
    (["--epoch", "7"], "kept no weights of epoch 7"),
    (["--out", "map.txt"], "must end in .csv or .npz"),
    (["--samples", "few"], "whole number or 'all'"),
    (["--method", "isomap"], "invalid choice"),
    ([], "give --out FILE"),
])
def test_the_cli_refuses_bad_requests_in_one_line(run_dir, args, said):
    base = ["--run", str(run_dir)] + ([] if "--out" in args or not args else ["--out", "x.csv"])
    out = embed(*base, *args)
    assert out.returncode == 2 and said in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


@pytest.mark.parametrize("digit", [1, 7, 0, 4])
def test_a_drawn_digit_lands_among_its_own_kind(digit, test_digits):
    """The default model: a drawing's nearest training digits are of its class, and on
    the map it is placed among test digits of its class."""
    from core.engine.features import features_and_scores
    from core.engine.preprocess import prepare_digit
    from core.engine.projection import nearest, place
    from core.predict import model_path
    from tests.engine.test_predict import canvas

    model, cfg, _ = load_model(model_path(None))
    drawn = prepare_digit(canvas(digit), cfg.input_side())
    features = features_and_scores(model, torch.from_numpy(drawn.laid_out[None]))[0].numpy()
    images, labels = neighbour_pool(cfg, count=3000)
    index, _ = nearest(features, features_and_scores(model, images)[0].numpy(), 8)
    assert (labels.numpy()[index[0]] == digit).sum() >= 7
    made = model_map(model_path(None), test_digits, MapSettings("pca"), 2000)
    map_features = features_and_scores(model, test_digits.images[torch.as_tensor(made.indices)])[0].numpy()
    xy = place(features, map_features, made.layout)
    around, _ = nearest(xy, made.layout, 8)
    assert (made.labels[around[0]] == digit).sum() >= 5
