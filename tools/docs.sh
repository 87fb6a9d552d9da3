#!/usr/bin/env bash
# Build the documentation site into _site/ from the notebooks, without Quarto: nbdev's notebook processing
# (what nbdev_proc_nbs does: directives, hidden cells, show_doc), then Sphinx + myst-nb on the committed
# outputs (nothing is executed). Needs the doc packages of settings.ini's dev_requirements.
# Open _site/index.html in a browser; `python tools/browser_test.py` checks it in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=agg OMP_NUM_THREADS=1
exec python tools/docs.py "$@"
