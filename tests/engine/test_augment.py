"""The handwriting augmentations: each does what it says on real MNIST digits,
0 is off, and a seed gives the same batch."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.engine import augment as A
from core.engine.augment import Augmentation, augment, change_thickness
from core.engine.mnist import load_mnist
from core.engine.strokes import stroke_width


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return load_mnist(mnist_dir).test_images[:300].unsqueeze(1).float() / 255


def widths(batch: torch.Tensor) -> np.ndarray:
    return np.array([stroke_width(image) for image in batch[:, 0].numpy()])


@pytest.mark.parametrize("field", ["affine", "elastic", "thickness", "slant"])
def test_zero_is_off(digits, field):
    assert torch.equal(augment(digits, Augmentation(**{field: 0.0})), digits)


def test_thickness_makes_strokes_bolder_and_thinner_without_erasing_them(digits):
    mnist = np.median(widths(digits))
    bolder = np.median(widths(change_thickness(digits, torch.ones(len(digits)))))
    thinner_batch = change_thickness(digits, -torch.ones(len(digits)))
    thinner = np.median(widths(thinner_batch))
    assert bolder > mnist + 1.5 and thinner < mnist - 0.3, (thinner, mnist, bolder)
    assert (thinner_batch.flatten(1).max(1).values > 0.98).all()  # every digit keeps full ink...
    core = ((thinner_batch > 0.5).flatten(1).sum(1) / (digits > 0.5).flatten(1).sum(1))
    assert core.min() > 0.4  # ...and most of its stroke


def test_slant_leans_a_vertical_bar_by_at_most_the_angle():
    bar = torch.zeros(200, 1, 28, 28)
    bar[:, :, 4:24, 13:15] = 1
    out = augment(bar, Augmentation(slant=30), torch.Generator().manual_seed(0))[:, 0]
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    slopes = []
    for image in out:
        w = image / image.sum()
        my, mx = (w * ys).sum(), (w * xs).sum()
        slopes.append(((w * (xs - mx) * (ys - my)).sum() / (w * (ys - my) ** 2).sum()).item())  # dx per dy
    slopes = np.abs(slopes)
    assert slopes.max() <= math.tan(math.radians(30)) + 0.02 and slopes.max() > 0.4 and np.median(slopes) > 0.1


def test_elastic_field_is_simards_smoothed_noise():
    field = A.elastic_field(400, 28, 28, 1.0, "cpu", torch.float32, torch.Generator().manual_seed(0))
    pixels = field * 14  # grid units -> pixels (28 px span 2)
    # The matrix blur is the zero-padded Gaussian convolution it replaces.
    noise = torch.rand(3, 2, 28, 28) * 2 - 1
    m = A._blur_matrix(28, A.ELASTIC_SIGMA, "cpu", torch.float32)
    kernel = m[14, 2:27]  # the full kernel, centred on row 14 (radius 12)
    conv = F.conv2d(noise.view(6, 1, 28, 28), (kernel.view(25, 1) * kernel.view(1, 25)).view(1, 1, 25, 25), padding=12)
    assert torch.allclose(m @ noise @ m.T, conv.view(3, 2, 28, 28), atol=1e-5)
    # Smooth: neighbouring displacements almost equal; sizeable: about a pixel or two.
    neighbours = torch.corrcoef(torch.stack([pixels[:, :, :-1].flatten(), pixels[:, :, 1:].flatten()]))[0, 1]
    assert neighbours > 0.95
    assert 0.5 < pixels.pow(2).mean().sqrt() < 3


def test_the_same_seed_gives_the_same_batch(digits):
    aug = Augmentation(affine=1, elastic=1, thickness=1, slant=15)
    one = augment(digits, aug, torch.Generator().manual_seed(3))
    two = augment(digits, aug, torch.Generator().manual_seed(3))
    assert torch.equal(one, two) and not torch.equal(one, digits)
    assert one.min() >= 0 and one.max() <= 1
