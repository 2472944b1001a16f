#!/usr/bin/env bash
# Create .venv and install requirements.txt into it; a no-op when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements.txt
  # umap-learn compiles its numba functions at first import (about 9 s here) and caches
  # them beside its code: pay that once here rather than in the first map a user asks for.
  .venv/bin/python -c "import umap" 2>/dev/null || true
  echo "$want" > "$stamp"
fi
