#!/usr/bin/env bash
# A new user's first run, reproduced: an empty folder, a clean clone, a new virtual environment, and the README's two
# commands verbatim (the demo, then the tests), each timed. Nothing outside the empty folder is read but the clone's
# source (default: this repository's committed main) and the package registries.
# Usage: bash tools/new_user.sh [REPOSITORY-URL-OR-PATH]   (takes a few minutes for torch, then the demo and the tests)
set -euo pipefail
SRC=${1:-$(cd "$(dirname "$0")/.." && pwd)}
W=$(mktemp -d)
trap 'echo "(left in $W)"' EXIT
cd "$W"
git clone -q "$SRC" dataset_condensation
python3 -m venv venv
. venv/bin/activate
cd dataset_condensation
# the README's two commands: the fenced bash blocks of its "Two commands" section, taken verbatim
mapfile -t CMDS < <(python3 - <<'PY'
import re
text = open('README.md', encoding='utf-8').read()
section = text.split('## Two commands', 1)[1].split('\n## ', 1)[0]
for block in re.findall(r'```bash\n(.*?)\n```', section, re.S):
    print(block.strip())
PY
)
[ ${#CMDS[@]} -eq 2 ] || { echo "expected two commands in the README's 'Two commands' section, found ${#CMDS[@]}"; exit 1; }
for i in 0 1; do
  echo "== command $((i + 1)): ${CMDS[$i]}"
  s=$(date +%s)
  bash -c "${CMDS[$i]}" > "$W/command$((i + 1)).log" 2>&1 || { tail -40 "$W/command$((i + 1)).log"; echo "FAILED: command $((i + 1))"; exit 1; }
  tail -12 "$W/command$((i + 1)).log"
  echo "== command $((i + 1)) passed in $(( $(date +%s) - s )) s"
done
