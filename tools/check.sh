#!/usr/bin/env bash
# The project's checks, in order (see NBDEV.md): clean tree, clean notebooks, export in sync,
# README in sync, no path outside the repository, notebooks as tests (fast budget), package tests.
set -euo pipefail
cd "$(dirname "$0")/.."
dirty() { git status --porcelain; }
step() { echo; echo "== $*"; }
step "working tree is clean"
if [ -n "$(dirty)" ]; then dirty; echo "FAIL: uncommitted or untracked files"; exit 1; fi
step "notebooks are clean (nbdev_clean)"
nbdev_clean
if [ -n "$(dirty)" ]; then dirty; echo "FAIL: nbdev_clean changed notebooks: run nbdev_clean and commit"; exit 1; fi
step "package in sync with notebooks (nbdev_export)"
nbdev_export
if [ -n "$(dirty)" ]; then dirty; git diff --stat; echo "FAIL: nbdev_export changed files: export and commit"; exit 1; fi
step "code style: ruff format and ruff check (ruff.toml: line length 120; notebooks, package, tests, tools)"
ruff format --check .
ruff check .
step "README in sync with nbs/index.ipynb"
python tools/make_readme.py --check
step "no path outside the repository"
python tools/check_paths.py
step "notebooks (nbdev_test, fast budget)"
export DC_FULL=0 MPLBACKEND=agg
# two notebooks run at once on two cores: one thread each (two OpenMP threads per worker oversubscribe
# the cores, and PyTorch's spinning threads then slow down by orders of magnitude)
OMP_NUM_THREADS=1 timeout 1500 nbdev_test --n_workers 2 --timing
step "documentation site (tools/docs.sh; tests/test_docs.py opens it in headless Chromium)"
timeout 600 bash tools/docs.sh --strict
step "package tests (pytest)"
timeout 900 python -m pytest tests/ -q
