"""The USPS zip-code digits: reading the format on tiny files the tests write,
the MNIST layout, clear errors, and the real 2,007 test digits."""

import bz2

import numpy as np
import pytest
import torch

from core.engine.data import DataError
from core.engine.usps import load_usps, read_usps, to_mnist_layout


def write_usps(path, rows):
    with bz2.open(path, "wt") as f:
        for label, pixels in rows:
            f.write(f"{label} " + " ".join(f"{i + 1}:{v:g}" for i, v in pixels) + "\n")


def bar(column: int) -> list[tuple[int, float]]:
    """A vertical stroke of ink (+1) in one column, background -1 elsewhere (sparse: only the ink)."""
    return [(r * 16 + column, 1.0) for r in range(3, 13)]


def test_reads_labels_and_ink_bright_on_dark(tmp_path):
    path = tmp_path / "usps.bz2"
    write_usps(path, [(2, bar(8)), (10, bar(4)), (1, [(i, -1.0) for i in range(256)])])
    images, labels = read_usps(path)
    assert images.shape == (3, 16, 16) and images.dtype == np.uint8
    assert labels.tolist() == [1, 9, 0]  # 1..10 are the digits 0..9
    assert images[0, 3:13, 8].tolist() == [255] * 10 and images[0, :, 0].max() == 0


def test_mnist_layout_centres_and_scales_like_mnist(tmp_path):
    path = tmp_path / "usps.bz2"
    write_usps(path, [(2, bar(2))])  # a stroke near the left edge
    image28 = to_mnist_layout(read_usps(path)[0])[0]
    rows, cols = np.nonzero(image28)
    assert rows.max() - rows.min() + 1 == 20  # the longer side becomes 20 px
    mass = image28.astype(float)
    assert abs((mass.sum(1) @ np.arange(28)) / mass.sum() - 14) <= 1  # centre of mass in the middle
    assert abs((mass.sum(0) @ np.arange(28)) / mass.sum() - 14) <= 1


@pytest.mark.parametrize("text", ["x 1:0.5\n", "3 1:0.5 nonsense\n", "11 1:0.5\n"])
def test_a_malformed_file_is_one_clear_error(tmp_path, text):
    path = tmp_path / "usps.bz2"
    with bz2.open(path, "wt") as f:
        f.write(text)
    with pytest.raises(DataError, match="usps.bz2"):
        read_usps(path)


def test_missing_files_name_the_setting_and_the_files(tmp_path):
    with pytest.raises(DataError) as error:
        load_usps(tmp_path, download=False)
    message = str(error.value)
    assert "usps.bz2" in message and "usps.t.bz2" in message and "MNIST_DATA_DIR" in message


def test_the_real_zip_code_digits(mnist_dir):
    usps = load_usps(mnist_dir, download=False)
    assert usps.train_images.shape == (7291, 28, 28) and usps.test_images16.shape == (2007, 16, 16)
    # The test-set counts per digit published with the data.
    assert torch.bincount(usps.test_labels).tolist() == [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]


def test_the_default_model_reads_zip_codes_it_never_saw(mnist_dir):
    from core.engine.evaluation import predict_scores
    from core.predict import model_path
    from core.runs.checkpoint import load_model

    usps = load_usps(mnist_dir, download=False)
    model, _, _ = load_model(model_path(None))
    accuracy = (predict_scores(model, usps.test_images, torch.device("cpu")).argmax(1) == usps.test_labels)
    assert accuracy.float().mean().item() >= 0.975  # measured 97.91% for the seed-cnn default model
