"""model.pt: weights plus the config that rebuilds the model, loaded with
`weights_only=True` so a file from anywhere can never run code."""

from __future__ import annotations

import hashlib
import io
import pickle
import zipfile
from pathlib import Path

import torch
import torch.nn as nn

from core.engine.config import TrainConfig
from core.engine.models import build_model
from core.runs.files import write_bytes_atomic


class CheckpointError(ValueError):
    pass


def save_checkpoint(path: Path, model: nn.Module, cfg: TrainConfig, **extra) -> None:
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    buf = io.BytesIO()
    torch.save({"format": "digit-lab/1", "config": cfg.to_dict(), "state_dict": state, **extra}, buf)
    write_bytes_atomic(path, buf.getvalue())


def read_checkpoint(path: Path) -> dict:
    """The checkpoint's contents plus `sha256`, the digest of exactly the bytes loaded."""
    try:
        raw = Path(path).read_bytes()
        ckpt = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path} does not exist") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        # weights_only refuses pickles that carry code; truncated files land here too.
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise CheckpointError(f"{Path(path).name} cannot be loaded safely: {reason}") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "config" not in ckpt:
        raise CheckpointError(f"{Path(path).name} is not a Digit Lab checkpoint")
    ckpt["sha256"] = hashlib.sha256(raw).hexdigest()
    return ckpt


def load_model(path: Path) -> tuple[nn.Module, TrainConfig, dict]:
    """Rebuild the model in eval mode on the CPU; returns (model, config, checkpoint)."""
    ckpt = read_checkpoint(path)
    try:
        cfg = TrainConfig.from_dict(ckpt["config"])
        model = build_model(cfg)
        model.load_state_dict(ckpt["state_dict"])
    except (TypeError, KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"{Path(path).name} does not match its config: {str(e)[:160]}") from None
    return model.eval(), cfg, ckpt
