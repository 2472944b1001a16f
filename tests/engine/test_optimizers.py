"""The training loop's optimizers step bit for bit as torch.optim's do, under torch's
schedulers, and a run on them never imports torch's compiler (the start-up they save)."""

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn

from core.engine import optimizers
from core.engine.trainer import make_scheduler

CASES = {
    "sgd, no momentum, one-cycle (which moves the momentum)":
        (lambda p: torch.optim.SGD(p, lr=0.05), lambda p: optimizers.SGD(p, lr=0.05), "onecycle"),
    "sgd, nesterov, weight decay, cosine":
        (lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
         lambda p: optimizers.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3), "cosine"),
    "adam, weight decay, step":
        (lambda p: torch.optim.Adam(p, lr=3e-3, weight_decay=1e-3),
         lambda p: optimizers.Adam(p, lr=3e-3, weight_decay=1e-3), "step"),
    "adamw, one-cycle":
        (lambda p: torch.optim.AdamW(p, lr=6e-3, weight_decay=1e-2),
         lambda p: optimizers.Adam(p, lr=6e-3, weight_decay=1e-2, decoupled=True), "onecycle"),
}


def _train(make_opt, scheduler: str) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    opt = make_opt(model.parameters())
    # what make_scheduler reads (a TrainConfig refuses step_size beside another schedule)
    cfg = SimpleNamespace(scheduler=scheduler, epochs=3, step_size=1, gamma=0.5, lr=opt.defaults["lr"])
    sched, per_batch = make_scheduler(opt, cfg, steps_per_epoch=4)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        for _ in range(4):
            x, y = torch.randn(8, 1, 28, 28, generator=gen), torch.randint(0, 10, (8,), generator=gen)
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            if sched is not None and per_batch:
                sched.step()
        if sched is not None and not per_batch:
            sched.step()
    return [p.detach() for p in model.parameters()]


@pytest.mark.parametrize("case", CASES)
def test_steps_exactly_as_torch_optim(case):
    theirs, ours, scheduler = CASES[case]
    expected, got = _train(theirs, scheduler), _train(ours, scheduler)
    for e, g in zip(expected, got):
        assert torch.equal(g, e)  # the same functional update torch.optim calls: bit for bit
    assert not torch.equal(got[0], _train(lambda p: optimizers.SGD(p, lr=0.0), "none")[0])  # it did train


def test_a_training_run_never_imports_the_compiler(tmp_path):
    """Every optimizer and schedule, batch norm and a weight average, and the checkpoint
    check (a model built on the meta device), in a fresh interpreter."""
    script = textwrap.dedent(f"""
        import sys, torch
        from core.engine.config import from_preset
        from core.engine.data import Splits
        from core.engine.models import build_model
        from core.engine.trainer import fit
        from core.runs.checkpoint import load_model, save_checkpoint
        x, y = torch.randint(0, 255, (64, 28, 28), dtype=torch.uint8), torch.randint(0, 10, (64,))
        data = Splits(x, y, x[:16], y[:16], x[:16], y[:16])
        for opt, sched in [("sgd", "onecycle"), ("adam", "step"), ("adamw", "cosine")]:
            cfg = from_preset("fast", optimizer=opt, scheduler=sched, epochs=2, batch_size=16, ema=0.9)
            fit(cfg, data)
            save_checkpoint({str(tmp_path / "m.pt")!r}, build_model(cfg), cfg, epoch=1, val_acc=0.5)
            load_model({str(tmp_path / "m.pt")!r})
        print("torch._dynamo" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


def _grads(model: nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.randn(8, 1, 28, 28, generator=gen), torch.randint(10, (8,), generator=gen)
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))


def _groups(model: nn.Module) -> list[dict]:
    """Weight decay on the weights, none on norms and biases: two groups."""
    decayed = [p for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1]
    other = [p for n, p in model.named_parameters() if not (n.endswith("weight") and p.dim() > 1)]
    return [{"params": decayed}, {"params": other, "weight_decay": 0.0}]


PAIRS = {
    "sgd, momentum": (lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9, weight_decay=1e-2),
                      lambda g: optimizers.SGD(g, lr=0.05, momentum=0.9, weight_decay=1e-2)),
    "adamw": (lambda g: torch.optim.AdamW(g, lr=3e-3, weight_decay=1e-2),
              lambda g: optimizers.Adam(g, lr=3e-3, weight_decay=1e-2, decoupled=True)),
}


@pytest.mark.parametrize("name", list(PAIRS))
def test_every_group_steps_and_the_state_round_trips_as_torchs(name):
    make_torch, make_ours = PAIRS[name]
    theirs_model, ours_model = _model(), _model()
    theirs, ours = make_torch(_groups(theirs_model)), make_ours(_groups(ours_model))
    for seed in range(3):
        for model, opt in ((theirs_model, theirs), (ours_model, ours)):
            _grads(model, seed)
            opt.step()
    for a, b in zip(theirs_model.parameters(), ours_model.parameters()):
        assert torch.equal(a, b)  # both groups stepped, each with its own weight decay
    saved, reference = ours.state_dict(), theirs.state_dict()
    assert saved["state"].keys() == reference["state"].keys()
    for i, state in reference["state"].items():
        assert saved["state"][i].keys() == state.keys()
        assert all(torch.equal(torch.as_tensor(saved["state"][i][k]), torch.as_tensor(v)) for k, v in state.items())
    assert [g["weight_decay"] for g in saved["param_groups"]] == [1e-2, 0.0]
    # A fresh optimizer restored from the saved state continues as the original does.
    restored_model = _model()
    restored_model.load_state_dict(ours_model.state_dict())
    restored = make_ours(_groups(restored_model))
    restored.load_state_dict(torch.load(_saved(saved), weights_only=True))
    for model, opt in ((ours_model, ours), (restored_model, restored)):
        _grads(model, 9)
        opt.step()
    for a, b in zip(ours_model.parameters(), restored_model.parameters()):
        assert torch.equal(a, b)


def _saved(state: dict):
    import io

    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return buffer


def test_a_closure_is_honoured_and_step_hooks_run():
    model = _model()
    opt = optimizers.Adam(model.parameters(), lr=1e-3)
    calls = []
    opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    before = [p.detach().clone() for p in model.parameters()]

    def closure():
        _grads(model, 0)
        return torch.tensor(1.5)

    assert float(opt.step(closure)) == 1.5
    assert calls == ["pre", "post"]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
