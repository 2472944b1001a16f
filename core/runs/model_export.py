"""A run's model for use outside Digit Lab: ONNX with the input normalization and
softmax inside the graph, checked against PyTorch with onnxruntime on the MNIST
test digits; or a plain state_dict with its config, loadable with `weights_only=True`.

The ONNX model takes [N, 1, side, side] float pixels in [0, 1], ink bright on a
dark background (what the Draw page's "the model saw" shows), and returns [N, 10]
probabilities. `side` is 28, or 16 for the 1989 net trained on USPS as published.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from core.engine.config import TrainConfig
from core.engine.data import MNIST_MEAN, MNIST_STD
from core.engine.datasets import load_test_set
from core.engine.models import build_model
from core.engine.scoring import predict_scores
from core.runs.checkpoint import CheckpointError, load_model
from core.runs.files import write_bytes_atomic, write_json_atomic
from core.runs.messages import one_line

FORMATS = ("onnx", "state_dict")
ONNX_NAME = "model.onnx"
STATE_DICT_NAME = "state_dict.pt"
STATE_DICT_FORMAT = "digit-lab-state-dict/1"
MAX_PROB_DIFF = 1e-4
CHECK_BATCH = 2_000
LAYOUTS = {
    28: "MNIST's: the digit's box scaled to 20 px on its longer side, centre of mass at the centre",
    16: "USPS's: the digit's box scaled to fill the square on its longer side, centred",
}


class ExportError(ValueError):
    """The run cannot be exported; the message is one line."""


class ProbabilityModel(nn.Module):
    """Pixels in [0, 1] -> probabilities: the training normalization, the model, softmax."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model((pixels - MNIST_MEAN) / MNIST_STD).softmax(1)


@dataclass
class OnnxCheck:
    digits: int
    classes_differ: int
    max_prob_diff: float

    @property
    def ok(self) -> bool:
        return self.classes_differ == 0 and self.max_prob_diff <= MAX_PROB_DIFF

    def line(self) -> str:
        return (f"onnxruntime vs PyTorch on {self.digits:,} digits: {self.classes_differ} classes differ, "
                f"max |prob difference| {self.max_prob_diff:.1e} (limit {MAX_PROB_DIFF:.0e})")


def load_run_model(run_dir: str | Path) -> tuple[nn.Module, TrainConfig, dict]:
    """The run's model.pt, or ExportError naming what is wrong with the folder."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ExportError(f"{run_dir} is not a folder")
    if not (run_dir / "model.pt").is_file():
        raise ExportError(f"{run_dir} is not a run with a model: it has no model.pt")
    try:
        return load_model(run_dir / "model.pt")
    except CheckpointError as e:
        raise ExportError(str(e)) from None


def check_digits(cfg: TrainConfig, data_dir: str | Path | None = None) -> torch.Tensor:
    """The 10,000 MNIST test digits as uint8 [N, side, side], laid out as this model is fed them."""
    return load_test_set("mnist", data_dir, cfg.input_side()).images


def check_onnx(onnx_path: str | Path, model: nn.Module, digits: torch.Tensor) -> OnnxCheck:
    """Run the ONNX file and PyTorch's own evaluation path on the same uint8 digits and
    compare their probabilities: PyTorch's side uses core.engine's normalize, not our
    wrapper, so a wrong constant baked into the graph would show here."""
    import onnxruntime as ort  # only exports need it

    expected = predict_scores(model, digits, torch.device("cpu")).softmax(1).numpy()
    pixels = digits.unsqueeze(1).numpy().astype(np.float32) / np.float32(255.0)
    try:
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        got = np.concatenate([session.run(["probs"], {"pixels": pixels[i : i + CHECK_BATCH]})[0]
                              for i in range(0, len(pixels), CHECK_BATCH)])
    except Exception as e:  # onnxruntime's own error types; the user gets one line
        raise ExportError(f"onnxruntime cannot run {onnx_path}: {one_line(e, 200)}") from None
    return OnnxCheck(digits=len(digits), classes_differ=int((got.argmax(1) != expected.argmax(1)).sum()),
                     max_prob_diff=float(np.abs(got - expected).max()))


def onnx_bytes(model: nn.Module, side: int) -> tuple[bytes, int]:
    """The ONNX file of ProbabilityModel(model) and its opset."""
    import onnx

    batch = torch.export.Dim("batch", min=1)
    example = torch.rand(2, 1, side, side)
    # torch.export-based ("dynamo") exporter, the default in torch 2.9+: batch made
    # dynamic through dynamic_shapes. It prints progress and warns on stdout/stderr;
    # the check after export is what vouches for the result.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(ProbabilityModel(model).eval(), (example,), dynamo=True,
                                        input_names=["pixels"], output_names=["probs"],
                                        dynamic_shapes={"pixels": {0: batch}}, verbose=False)
            proto = program.model_proto
            onnx.checker.check_model(proto)
        except Exception as e:  # the exporter and checker raise many kinds; the user gets one line
            raise ExportError(f"ONNX export failed: {one_line(e, 200, named=True)}") from None
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    return proto.SerializeToString(), opset


def onnx_description(run_dir: Path, cfg: TrainConfig, ckpt: dict, opset: int) -> dict:
    side = cfg.input_side()
    return {
        "format": "digit-lab-onnx/1",
        "file": ONNX_NAME,
        "input": {
            "name": "pixels", "shape": ["N", 1, side, side], "dtype": "float32", "range": [0.0, 1.0],
            "ink": "bright (1.0) on a dark (0.0) background, as MNIST and the Draw page's 'the model saw'",
            "layout": LAYOUTS[side],
        },
        "output": {"name": "probs", "shape": ["N", 10], "meaning": "class probabilities (softmax), summing to 1",
                   "classes": list(range(10))},
        "normalization": {"inside_graph": True, "formula": "(pixels - mean) / std",
                          "mean": MNIST_MEAN, "std": MNIST_STD},
        "model": cfg.model, "dataset": cfg.dataset,
        # The run's evaluation may average shifted copies (tta); this graph, like the
        # Draw page and core.predict, scores each image once.
        "test_time_augmentation": False,
        "run": run_dir.name, "epoch": ckpt.get("epoch"), "model_pt_sha256": ckpt["sha256"],
        "opset": opset, "torch": torch.__version__,
    }


def default_out_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "export"


@dataclass
class OnnxExport:
    onnx: Path
    description: Path
    check: OnnxCheck


def export_onnx(run_dir: str | Path, out_dir: str | Path | None = None, *, data_dir: str | Path | None = None,
                digits: torch.Tensor | None = None) -> OnnxExport:
    """Write model.onnx and model.onnx.json (what it takes and returns) into out_dir, then
    check the file on `digits` (default: the MNIST test set) and record the check in the JSON."""
    run_dir = Path(run_dir)
    model, cfg, ckpt = load_run_model(run_dir)
    data, opset = onnx_bytes(model, cfg.input_side())
    out = Path(out_dir or default_out_dir(run_dir))
    out.mkdir(parents=True, exist_ok=True)
    onnx_path, json_path = out / ONNX_NAME, out / f"{ONNX_NAME}.json"
    write_bytes_atomic(onnx_path, data)
    description = onnx_description(run_dir, cfg, ckpt, opset)
    write_json_atomic(json_path, description)
    checked_on = ("the MNIST test set, laid out as this model is fed it" if digits is None
                  else "digits given by the caller")
    check = check_onnx(onnx_path, model, check_digits(cfg, data_dir) if digits is None else digits)
    write_json_atomic(json_path, {**description, "check": {
        "against": "PyTorch, with onnxruntime", "on": checked_on, **asdict(check),
        "limit": MAX_PROB_DIFF, "passed": check.ok}})
    return OnnxExport(onnx_path, json_path, check)


def export_state_dict(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write state_dict.pt: plain tensors, the config and the input convention, nothing
    that needs weights_only=False; reloaded and compared before returning."""
    run_dir = Path(run_dir)
    model, cfg, ckpt = load_run_model(run_dir)
    side = cfg.input_side()
    payload = {
        "format": STATE_DICT_FORMAT, "config": cfg.to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "input": {"shape": [1, side, side], "range": [0.0, 1.0], "ink": "bright", "mean": MNIST_MEAN,
                  "std": MNIST_STD, "layout": LAYOUTS[side]},
        "run": run_dir.name, "epoch": ckpt.get("epoch"), "model_pt_sha256": ckpt["sha256"],
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    out = Path(out_dir or default_out_dir(run_dir))
    out.mkdir(parents=True, exist_ok=True)
    path = out / STATE_DICT_NAME
    write_bytes_atomic(path, buf.getvalue())
    reloaded = rebuild_from_state_dict(path).state_dict()
    if any(not torch.equal(reloaded[k], v) for k, v in payload["state_dict"].items()):
        raise ExportError(f"{path} does not reload to the run's weights")
    return path


def rebuild_from_state_dict(path: str | Path) -> nn.Module:
    """What the README's example does: weights_only load, build_model, load_state_dict."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(TrainConfig.from_dict(payload["config"]))
    model.load_state_dict(payload["state_dict"])
    return model.eval()
