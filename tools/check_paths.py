#!/usr/bin/env python
"""Fail when a notebook, module, test or tool names a path outside the repository.

A clone must run on its own: every file it reads lives in the repository (or is made by the code at run time, in
a temporary folder or the user's data folder). This scans the string literals of the package, the notebooks' code
cells, tests/ and tools/ (with Python's tokenizer, so comments and prose are not flagged) and reports:
- relative paths that climb out of the repository (`..` components resolved from the notebook's folder, which is
  where nbdev_test runs it; for modules, tests and tools from the repository root, their usual working directory);
- absolute paths into a machine's folders (`/work`, `/root`, `/home`, `/mnt`, `/data`), and `shared/data`.
The user's data folder `~/.dataset_condensation` and temporary folders are allowed."""

import io
import json
import re
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPLIT_SHARED = re.compile(r'[\'"]shared[\'"]\s*/\s*[\'"]data[\'"]')  # Path(...)/'shared'/'data'
ABSOLUTE = re.compile(r'(^|[\s\'"=:])(/work|/root|/home|/mnt|/data)(/|$)')
PATHLIKE = re.compile(r'(^|[\s\'"=])((?:\.\./)+[\w.\-/]*)')

CHECKERS = ('tools/check_paths.py', 'tests/test_references.py')  # they name the patterns they look for


def strings(code: str):
    "The string literals of `code` with their line numbers (nothing when it does not tokenize, e.g. shell magics)."
    try:
        for t in tokenize.generate_tokens(io.StringIO(code).readline):
            if t.type == tokenize.STRING:
                yield t.start[0], t.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return


def problems(code: str, base: Path, where: str) -> list[str]:
    "Paths outside the repository named in `code`, whose relative paths resolve from `base`."
    out = [f'{where}: {m.group(0)}' for m in SPLIT_SHARED.finditer(code)]
    for line, s in strings(code):
        if 'shared/data' in s or ABSOLUTE.search(s):
            out.append(f'{where}:{line}: {s[:80]}')
            continue
        for m in PATHLIKE.finditer(s):
            target = (base / m.group(2)).resolve()
            if ROOT not in target.parents and target != ROOT:
                out.append(f'{where}:{line}: {m.group(2)} leaves the repository')
    return out


def main() -> int:
    found = []
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        cells = json.loads(nb.read_text(encoding='utf-8'))['cells']
        for i, c in enumerate(cells):
            if c['cell_type'] == 'code':
                code = '\n'.join(l for l in ''.join(c['source']).splitlines() if not l.lstrip().startswith(('!', '%')))
                found += problems(code, nb.parent, f'{nb.relative_to(ROOT)} cell {i}')
    for folder in ('dataset_condensation', 'tests', 'tools'):
        for f in sorted((ROOT / folder).rglob('*.py')):
            if f.name == '_modidx.py' or f.relative_to(ROOT).as_posix() in CHECKERS:
                continue
            found += problems(f.read_text(encoding='utf-8'), ROOT, str(f.relative_to(ROOT)))
    if found:
        print('paths outside the repository (a clone does not have them):', *found, sep='\n  ', file=sys.stderr)
        return 1
    print('no path outside the repository')
    return 0


if __name__ == '__main__':
    sys.exit(main())
