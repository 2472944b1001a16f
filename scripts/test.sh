#!/usr/bin/env bash
# Install everything the tests need (venv, requirements, Chromium) and run them all.
# Real MNIST is required: set MNIST_DATA_DIR to a folder holding MNIST/raw/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
if ! command -v chromium >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq chromium >/dev/null
fi
# The linter first (pyproject.toml's [tool.ruff]): a lint error fails the run before a test starts.
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
