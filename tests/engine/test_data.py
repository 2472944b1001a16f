"""IDX reading and data-folder resolution, on tiny files the tests write."""

import struct

import numpy as np
import pytest

from core.engine.data import DataError, resolve_data_dir, split
from core.engine.mnist import load_mnist, read_idx


def write_idx(path, array: np.ndarray, truncate: int = 0):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(data[: len(data) - truncate] if truncate else data)


def make_tiny_mnist(root, n_train=20, n_test=10):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    write_idx(raw / "train-images-idx3-ubyte", rng.integers(0, 256, (n_train, 28, 28)))
    write_idx(raw / "train-labels-idx1-ubyte", np.arange(n_train) % 10)
    write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (n_test, 28, 28)))
    write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(n_test) % 10)
    return raw


def test_read_idx_round_trip(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    write_idx(tmp_path / "x", images)
    assert np.array_equal(read_idx(tmp_path / "x"), images)


def test_truncated_idx_names_the_file(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 28, 28)), truncate=100)
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "train-images-idx3-ubyte")


def test_not_an_idx_file(tmp_path):
    (tmp_path / "junk").write_bytes(b"\x89PNG not idx at all")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "junk")


def test_load_from_folder_as_uint8_tensors(tmp_path):
    make_tiny_mnist(tmp_path)
    mnist = load_mnist(tmp_path, download=False)
    assert mnist.train_images.shape == (20, 28, 28) and str(mnist.train_images.dtype) == "torch.uint8"
    assert mnist.test_labels.tolist() == [i % 10 for i in range(10)]


def test_split_is_seeded_and_disjoint(tmp_path):
    make_tiny_mnist(tmp_path, n_train=50)
    mnist = load_mnist(tmp_path, download=False)
    a, b = split(mnist, val_size=10), split(mnist, val_size=10)
    assert len(a.val_x) == 10 and len(a.train_x) == 40
    assert (a.val_x == b.val_x).all()
    train_rows = {bytes(x.numpy()) for x in a.train_x}
    assert not any(bytes(x.numpy()) in train_rows for x in a.val_x)


def test_missing_data_message_names_setting_and_files(tmp_path):
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path / "empty", download=False)
    assert "MNIST_DATA_DIR" in str(e.value) and "t10k-labels-idx1-ubyte" in str(e.value)


def test_data_dir_setting_order(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("MNIST_DATA_DIR")
    assert "digit-lab" in str(resolve_data_dir(None))
