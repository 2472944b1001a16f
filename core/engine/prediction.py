"""One image in, one prediction out: the drawing path (core.engine.preprocess)
then the model, with the 28x28 image the model saw kept for display."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from core.engine.preprocess import Prepared, prepare_digit


@dataclass
class Prediction:
    digit: int
    confidence: float
    probs: list[float]
    prepared: Prepared  # includes the 28x28 image the model saw


@torch.inference_mode()
def predict_prepared(model: nn.Module, prepared: Prepared) -> Prediction:
    # On the process's threads: the dashboard's server runs on one (dashboard/process_settings.py).
    probs = model(prepared.tensor).softmax(1)[0].numpy().astype(np.float64)
    digit = int(probs.argmax())
    return Prediction(digit, float(probs[digit]), [round(float(p), 6) for p in probs], prepared)


def predict_image(model: nn.Module, source, side: int = 28) -> Prediction:
    """Any image source (see core.engine.preprocess.open_image) -> prediction, the
    image laid out for a model fed `side` x `side` (TrainConfig.input_side()).
    Raises NoDigitError for an image without ink, ImageError for unreadable input."""
    return predict_prepared(model, prepare_digit(source, side))
