"""The USPS zip-code digits: reading the format on tiny files the tests write,
the MNIST layout, clear errors, and the real 2,007 test digits."""

import bz2

import numpy as np
import pytest
import torch

from core.engine.data import DataError
from core.engine.layout import relayout
from core.engine.usps import load_usps, read_usps


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
    image28 = relayout(read_usps(path)[0])[0]
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
    usps, published = load_usps(mnist_dir, download=False), load_usps(mnist_dir, side=16, download=False)
    assert usps.train_images.shape == (7291, 28, 28) and published.test_images.shape == (2007, 16, 16)
    assert torch.equal(usps.test_labels, published.test_labels)
    # The test-set counts per digit published with the data.
    assert torch.bincount(usps.test_labels).tolist() == [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]


def test_the_default_model_reads_zip_codes_it_never_saw(mnist_dir):
    """>= 99.3% on MNIST's test set (measured 99.68%) and >= 98.0% on the 2,007 zip-code
    test digits it never saw (measured 98.01%)."""
    from core.engine.mnist import load_mnist
    from core.engine.scoring import predict_scores
    from core.predict import model_path
    from core.runs.checkpoint import load_model

    model, _, _ = load_model(model_path(None))
    usps, mnist = load_usps(mnist_dir, download=False), load_mnist(mnist_dir, download=False)
    for images, labels, floor in ((usps.test_images, usps.test_labels, 0.980),
                                  (mnist.test_images, mnist.test_labels, 0.993)):
        accuracy = (predict_scores(model, images, torch.device("cpu")).argmax(1) == labels).float().mean().item()
        assert accuracy >= floor, (len(labels), accuracy)


def test_the_default_model_reads_zip_code_scans_through_core_predict(mnist_dir, tmp_path, capsys):
    """The zip codes as a user would bring them: 16x16 dark-ink PNG scans, through
    `python -m core.predict` and the whole drawing path."""
    import json

    from PIL import Image

    from core.predict import main

    images16, labels = read_usps(mnist_dir / "USPS" / "usps.t.bz2")
    paths = []
    for i, image in enumerate(images16):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(255 - image).save(paths[-1])
    assert main(paths) == 0
    digits = [json.loads(line)["digit"] for line in capsys.readouterr().out.splitlines()]
    accuracy = sum(d == y for d, y in zip(digits, labels.tolist())) / len(labels)
    assert len(digits) == 2_007 and accuracy >= 0.979, accuracy  # measured 97.96%
