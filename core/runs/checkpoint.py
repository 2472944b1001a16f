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
from core.runs.messages import one_line
from core.runs.store_files import StoreFileError, read_bytes


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
        raw = read_bytes(Path(path))
        ckpt = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path} does not exist") from None
    except StoreFileError as e:
        raise CheckpointError(str(e)) from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        # weights_only refuses pickles that carry code; truncated files land here too.
        reason = one_line(e, 160)
        raise CheckpointError(f"{Path(path).name} cannot be loaded safely: {reason}") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "config" not in ckpt:
        raise CheckpointError(f"{Path(path).name} is not a Digit Lab checkpoint")
    ckpt["sha256"] = hashlib.sha256(raw).hexdigest()
    return ckpt


def load_model(path: Path) -> tuple[nn.Module, TrainConfig, dict]:
    """Rebuild the model in eval mode on the CPU; returns (model, config, checkpoint).
    The config is first built on torch's meta device (shapes, no memory) and must give
    exactly the weights the file holds: a config naming an absurd width is refused before
    a byte of it is allocated."""
    ckpt = read_checkpoint(path)
    try:
        cfg = TrainConfig.from_dict(ckpt["config"])
        _check_shapes(cfg, ckpt["state_dict"])
        model = build_model(cfg)
        model.load_state_dict(ckpt["state_dict"])
    except (TypeError, KeyError, RuntimeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"{Path(path).name} does not match its config: {str(e)[:160]}") from None
    return model.eval(), cfg, ckpt


def _check_shapes(cfg: TrainConfig, state: dict) -> None:
    if not isinstance(state, dict) or not all(isinstance(t, torch.Tensor) for t in state.values()):
        raise ValueError("its weights are not a table of tensors")
    if cfg.widths is not None and len(cfg.widths) > 6:
        raise ValueError(f"{len(cfg.widths)} layer widths (at most 6)")
    with torch.device("meta"):
        wanted = {name: tuple(t.shape) for name, t in build_model(cfg).state_dict().items()}
    found = {name: tuple(t.shape) for name, t in state.items()}
    if wanted != found:
        differing = sorted(set(wanted.items()) ^ set(found.items()))[:2]
        raise ValueError(f"the weights are not the ones its config builds ({differing})")
