#!/usr/bin/env python
"""Build README.md from nbs/index.ipynb without Quarto (nbdev_readme needs it).

Markdown cells are copied as they are; code cells become ```python blocks (cells marked `#| hide`
are left out, cells marked `#| echo: false` show only their outputs, `#|` directive lines are dropped); text
outputs become plain blocks; image outputs are written to readme_files/ and linked. The result tables are not typed:
each `<!-- table: NAME -->` ... `<!-- /table -->` block of the notebook's markdown is filled from the committed result
files by `tools/readme_tables.py` (in the notebook and in the README alike). `--check` regenerates in memory and fails
if a table differs from its result file, or README.md or the images differ (CI runs it)."""

import argparse
import base64
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))
from readme_tables import fill  # noqa: E402

NB, README, IMG = ROOT / 'nbs' / 'index.ipynb', ROOT / 'README.md', ROOT / 'readme_files'


def render(nb: dict) -> tuple[str, dict]:
    "The README text and the {file name: bytes} of its images."
    parts, images = [], {}
    for i, cell in enumerate(nb['cells']):
        src = ''.join(cell['source'])
        if cell['cell_type'] == 'markdown':  # links to notebooks are relative to nbs/, the README's to the root
            parts.append(re.sub(r'\]\((?![a-zA-Z][\w+.-]*:|/|#|nbs/)([^)\s]+\.ipynb)', r'](nbs/\1', src.strip()))
            continue
        if cell['cell_type'] != 'code':
            continue
        lines = src.splitlines()
        if any(l.strip().replace(' ', '') in ('#|hide', '#|include:false') for l in lines):
            continue
        echo = not any(l.strip().replace(' ', '') == '#|echo:false' for l in lines)
        code = '\n'.join(l for l in lines if not l.lstrip().startswith('#|')).strip()
        if code and echo:
            parts.append(f"```python\n{code}\n```")
        for o in cell.get('outputs', []):
            if o['output_type'] == 'stream' and o.get('name') == 'stdout':
                parts.append('    ' + ''.join(o['text']).rstrip().replace('\n', '\n    '))
            elif o['output_type'] in ('execute_result', 'display_data'):
                data = o.get('data', {})
                if 'image/png' in data:
                    name = f'cell{i}_{len(images)}.png'
                    images[name] = base64.b64decode(data['image/png'])
                    parts.append(f'![](readme_files/{name})')
                elif 'text/markdown' in data:
                    parts.append(''.join(data['text/markdown']).strip())
                elif 'text/plain' in data:
                    parts.append('    ' + ''.join(data['text/plain']).rstrip().replace('\n', '\n    '))
    text = (
        '<!-- generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file -->\n\n'
        + '\n\n'.join(p for p in parts if p)
        + '\n'
    )
    return text, images


def fill_tables(nb: dict) -> tuple[dict, list]:
    "The notebook with its table blocks refilled from the result files, and the names of the blocks that changed."
    changed = []
    for cell in nb['cells']:
        if cell['cell_type'] != 'markdown':
            continue
        text, names = fill(''.join(cell['source']))
        if names:
            lines = text.split('\n')
            cell['source'] = [line + '\n' for line in lines[:-1]] + [lines[-1]]
            changed += names
    return nb, changed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--check', action='store_true', help='fail if README.md is not what the notebook gives')
    a = ap.parse_args()
    nb, stale_tables = fill_tables(json.loads(NB.read_text(encoding='utf-8')))
    if a.check and stale_tables:
        print(
            f"README tables differ from their result files: {stale_tables}; run: python tools/make_readme.py",
            file=sys.stderr,
        )
        return 1
    if stale_tables:
        NB.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
        print(f'refilled tables in {NB.name} from the result files: {stale_tables}')
    text, images = render(nb)
    if a.check:
        bad = [] if README.exists() and README.read_text(encoding='utf-8') == text else ['README.md']
        bad += [n for n, b in images.items() if not (IMG / n).exists() or (IMG / n).read_bytes() != b]
        stale = sorted(p.name for p in IMG.glob('*.png') if p.name not in images) if IMG.exists() else []
        ci = (ROOT / '.ci' / 'run').read_text().strip().splitlines()[-1].strip()
        if ci not in text:
            bad.append(f'the test command of .ci/run ({ci!r}) is not in README.md')
        if bad or stale:
            print(
                f"README out of sync with nbs/index.ipynb: {bad + stale}; run: python tools/make_readme.py",
                file=sys.stderr,
            )
            return 1
        print('README.md is in sync with nbs/index.ipynb')
        return 0
    README.write_text(text, encoding='utf-8')
    if IMG.exists():
        for p in IMG.glob('*.png'):
            if p.name not in images:
                p.unlink()
    if images:
        IMG.mkdir(exist_ok=True)
    for n, b in images.items():
        (IMG / n).write_bytes(b)
    print(f'wrote README.md ({len(images)} images)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
