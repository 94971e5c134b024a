#!/usr/bin/env bash
# JupyterLab on the project's venv: what `make lab` runs (tests/test_lab.py starts it too).
# chapters/*.md open as notebooks (jupytext's "Jupytext Notebook" is their default viewer) and run
# on .venv's ipykernel, so `import repalign` is the checkout's package. The settings live in this
# folder (lab/): it heads JUPYTER_CONFIG_PATH; ~/.jupyter is read as usual but nothing here needs it.
# Arguments go to `jupyter lab`, e.g. lab/start.sh --no-browser --ip=0.0.0.0 --port=8890
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lab="$root/.venv/bin/jupyter-lab"
if [ ! -x "$lab" ]; then
  echo "lab/start.sh: $lab is missing: \`make lab\` installs it (jupyterlab is pinned in requirements.txt)" >&2
  exit 2
fi
# lab/jupyter_server_config.py (the server, jupytext) and lab/labconfig/ (JupyterLab's defaults).
export JUPYTER_CONFIG_PATH="$root/lab${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}"
# The venv's kernelspec "python3" (the chapters' kernel) before any of the same name in ~/.local.
export JUPYTER_PREFER_ENV_PATH=1
exec "$lab" --ServerApp.root_dir="$root" "$@"
