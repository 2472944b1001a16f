"""Where a run came from, for its config.json: the command line, the code's git
commit (and whether the tree had uncommitted changes), the host and platform, and
the versions of every library that changes results.

Anything that cannot be known (no git, not a repository, no GPU) is None, never
an error: a run must not fail for want of its provenance.
"""

from __future__ import annotations

import platform
import shlex
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

CODE_ROOT = Path(__file__).resolve().parents[2]  # the checkout the engine runs from
GIT_TIMEOUT_S = 10


def provenance() -> dict:
    return {
        # sys.orig_argv is the real command (`python -m core.train ...`), where sys.argv
        # would show core/train.py's path instead of the -m.
        "command": {"line": shlex.join(sys.orig_argv), "argv": list(sys.orig_argv), "executable": sys.executable},
        "git": git_state(CODE_ROOT),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "versions": library_versions(),
    }


def library_versions() -> dict:
    """Python, torch, torchvision, numpy; CUDA and cuDNN when a GPU is usable (else None)."""
    import torch

    gpu = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _installed("torchvision"),  # read from its metadata: no import needed
        "numpy": _installed("numpy"),
        "cuda": torch.version.cuda if gpu else None,
        "cudnn": torch.backends.cudnn.version() if gpu else None,
    }


def git_state(root: Path) -> dict:
    """{"commit": HEAD's hash, "dirty": uncommitted changes or untracked files};
    both None without git or outside a repository."""
    commit = _git(root, "rev-parse", "HEAD")
    changes = _git(root, "status", "--porcelain") if commit else None
    return {"commit": commit, "dirty": None if changes is None else changes != ""}


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                             timeout=GIT_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _installed(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
