"""The drawing path: any image of a digit in, the model's input out. It composes the
reading (core.engine.image_reading), the ink map (core.engine.ink), and the layout
of the dataset the model was trained on (core.engine.layout)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.engine.data import normalize
from core.engine.image_reading import IMAGE_FORMATS, open_image
from core.engine.ink import ink_map
from core.engine.layout import OUT_SIDE, mnist_layout_measured, usps_layout
from core.engine.strokes import stroke_width


@dataclass
class Prepared:
    tensor: torch.Tensor  # [1, 1, side, side] float, normalized as in training
    laid_out: np.ndarray  # [side, side] uint8, ink bright: the digit as the model sees it (28, or 16 for USPS)
    stroke_drawn: float = 0.0  # stroke width in px at the model's side as drawn...
    stroke_seen: float = 0.0  # ...and as the model sees it (thinned when thicker than MNIST's)


def prepare_digit(source, side: int = 28, formats=IMAGE_FORMATS) -> Prepared:
    """Any image of a digit -> the model's normalized [1, 1, side, side] input and its
    picture: MNIST's layout at 28, USPS's at 16 (a model trained on USPS as published)."""
    ink = ink_map(open_image(source, formats))
    if side == OUT_SIDE:
        image, drawn = mnist_layout_measured(ink)
    else:
        image = usps_layout(ink, side)
        drawn = stroke_width(image)
    return Prepared(tensor=normalize(torch.from_numpy(image)[None]), laid_out=image, stroke_drawn=drawn,
                    stroke_seen=stroke_width(image))
