"""Ray is an extra (pyproject's `sweeps`): in a fresh interpreter where `import ray`
fails, every page imports and renders, a run trains to the end, the Sweeps page
says how to install Ray and `core.sweep` refuses in one line."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import PROJECT_ROOT

WITHOUT_RAY = r'''
import sys
sys.modules["ray"] = None  # `import ray` raises ImportError, as when it is not installed

from pathlib import Path
from streamlit.testing.v1 import AppTest

for page in sorted(Path("pages").glob("*.py")):
    at = AppTest.from_file(str(page), default_timeout=120).run()
    assert not at.exception, (page.name, [e.message for e in at.exception])
    if page.stem == "sweeps":
        warning = " ".join(str(w.value) for w in at.warning)
        assert "not installed" in warning and "ray[tune]" in warning, warning
        assert not at.get("form"), "the new-sweep form needs Ray"
    print("page ok", page.stem)

from core.engine.config import from_preset
from core.runs.run_process import run_training
from core.runs.store import load_run

cfg = from_preset(None, model="cnn", widths=(8, 16), hidden=32, epochs=1, batch_size=64, train_limit=2000,
                  val_size=500, augment=0.0, name="no ray")
run = load_run(run_training(cfg, Path(sys.argv[1])))
assert run.state == "completed", run.status
print("trained", run.summary["test_acc"])

from core.sweep import main
try:
    main(["--grid", "activation=relu,tanh", "--epochs", "1", "--runs-dir", sys.argv[1]])
except SystemExit as e:
    assert e.code == 2, e.code
    print("sweep refused")
assert "ray" not in sys.modules or sys.modules["ray"] is None
'''


def test_every_page_and_a_training_work_without_ray(completed_store, mnist_dir, tmp_path):
    env = {**os.environ, "MNIST_DATA_DIR": str(mnist_dir), "DIGIT_LAB_RUNS_DIR": str(completed_store)}
    done = subprocess.run([sys.executable, "-c", WITHOUT_RAY, str(tmp_path / "runs")], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    pages = {line.split()[-1] for line in done.stdout.splitlines() if line.startswith("page ok")}
    assert pages == {p.stem for p in (PROJECT_ROOT / "pages").glob("*.py")}
    assert "trained" in done.stdout and "sweep refused" in done.stdout
    assert "need Ray, which is not installed" in done.stderr
