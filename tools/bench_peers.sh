#!/usr/bin/env bash
# Seconds per iteration of the official DC/DSA/DM/MTT scripts and of ours, side by side (see tools/bench_peers.py).
# Usage: bash tools/bench_peers.sh --peers PEERS [--methods dm dc dsa mtt eval] [--repeats 3] [--python-peers PY] ...
set -euo pipefail
exec python "$(dirname "$0")/bench_peers.py" "$@"
