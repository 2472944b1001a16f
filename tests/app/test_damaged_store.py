"""A store with one healthy run and a run damaged in each way a folder can be: every
page opens under AppTest with no exception and no hang, every damaged run is listed as
broken with a one-line reason, and the healthy run still shows."""

from __future__ import annotations

import json
import os

import pytest

from core.runs.store import list_runs, read_json, write_json_atomic
from core.runs.store_files import StoreFileError, read_bytes
from core.runs.store_files import read_json as guarded_json
from tests.app.test_pages import run_page
from tests.conftest import copy_run

HEALTHY = "20260101-000000-healthy-0001"


def _edit(path, change):
    record = read_json(path)
    change(record)
    write_json_atomic(path, record)


def _write(path, text: str | bytes):
    path.unlink(missing_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


DAMAGES = {
    "deep-config": lambda d: _write(d / "config.json", "[" * 200_000 + "]" * 200_000),
    "float-epochs": lambda d: _edit(d / "config.json", lambda c: c.update(epochs=2.5)),
    "huge-parameters": lambda d: _edit(d / "config.json", lambda c: c.update(parameters=1e300)),
    "list-model": lambda d: _edit(d / "config.json", lambda c: c.update(model=["cnn"])),
    "bad-dataset": lambda d: _edit(d / "config.json", lambda c: c.update(dataset="kmnist")),
    "string-summary": lambda d: _edit(d / "status.json", lambda s: s.update(summary="oops")),
    "summary-acc-text": lambda d: _edit(d / "status.json", lambda s: s.update(summary={"test_acc": "high"})),
    "bad-state": lambda d: _edit(d / "status.json", lambda s: s.update(state=7)),
    "status-list": lambda d: _write(d / "status.json", "[1, 2]"),
    "truncated-status": lambda d: _write(d / "status.json", (d / "status.json").read_bytes()[:20]),
    "fifo-config": lambda d: ((d / "config.json").unlink(), os.mkfifo(d / "config.json")),
    "link-config": lambda d: ((d / "config.json").unlink(), (d / "config.json").symlink_to("/etc/hostname")),
    "huge-metrics": lambda d: _write(d / "metrics.csv", (d / "metrics.csv").read_bytes() + b"9" * (9 * 2**20)),
    "garbage-metrics": lambda d: _write(d / "metrics.csv", "epoch,train_loss\nx,y\n"),
    "truncated-model": lambda d: _write(d / "model.pt", (d / "model.pt").read_bytes()[:1000]),
    "link-model": lambda d: ((d / "model.pt").unlink(), (d / "model.pt").symlink_to("/etc/hostname")),
    "missing-config": lambda d: (d / "config.json").unlink(),
    "evaluation-unknown-dataset": lambda d: _edit(d / "evaluation.json", lambda e: e.update(dataset="kmnist")),
    "evaluation-garbage": lambda d: _write(d / "evaluation.json", '{"confusion": "none"}'),
}
# Damage a page reads beyond the listing (the run itself still lists as healthy).
LISTED_HEALTHY = {"evaluation-unknown-dataset", "evaluation-garbage"}


@pytest.fixture
def damaged_store(store, trained_run):
    copy_run(trained_run, store, HEALTHY)
    for i, (kind, damage) in enumerate(DAMAGES.items()):
        damage(copy_run(trained_run, store, f"20260101-0001{i:02d}-{kind}"))
    return store


def test_every_damaged_run_is_listed_as_broken_with_its_reason(damaged_store):
    runs = {r.run_id.split("-", 2)[2]: r for r in list_runs(damaged_store)}
    assert not runs["healthy-0001"].broken
    for kind in DAMAGES:
        run = runs[kind]
        if kind in LISTED_HEALTHY:
            continue
        assert run.broken, kind
        assert all("\n" not in p and len(p) < 200 for p in run.problems), (kind, run.problems)


@pytest.mark.parametrize("name", ["home", "runs", "evaluate", "train", "draw", "filters", "sweeps", "handwriting"])
def test_every_page_opens_over_the_damaged_store(damaged_store, name):
    at = run_page(name)
    assert not at.exception
    shown = json.dumps([str(e.value) for e in at.get("markdown")] + [str(d.value) for d in at.dataframe])
    if name == "runs":
        assert "healthy" in shown or any("healthy" in str(x.value) for x in at.dataframe)


@pytest.mark.parametrize("kind", sorted(DAMAGES))
def test_evaluate_opens_on_each_damaged_run(damaged_store, kind):
    run_id = next(p.name for p in damaged_store.iterdir() if p.name.endswith(kind))
    at = run_page("evaluate", run=run_id)
    assert not at.exception


def test_the_guarded_reader_refuses_links_fifos_and_oversized_files(tmp_path):
    target = tmp_path / "outside.json"
    target.write_text("{}")
    (tmp_path / "link.json").symlink_to(target)
    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "status.json").write_bytes(b" " * (2 * 2**20))
    (tmp_path / "deep.json").write_text("[" * 100 + "]" * 100)
    for name, reason in [("link.json", "link"), ("fifo.json", "regular"), ("status.json", "cap"),
                         ("deep.json", "nested")]:
        with pytest.raises(StoreFileError, match=reason):
            guarded_json(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        read_bytes(tmp_path / "absent.json")
