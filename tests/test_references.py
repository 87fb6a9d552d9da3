"""The repository stands alone: no notebook, module or README names a document or an anchor that is not in it.

Checked in the markdown and the code of every notebook in `nbs/`, in every module of the package (docstrings,
comments, messages) and in README.md:

- no citation of the design documents that live outside the repository: `REFERENCES §…`, `REFERENCES.md`,
  `DESIGN §…`, `DESIGN.md`, the bare word `REFERENCES`, `../shared`, `shared/data`;
- a section sign names its document ("paper §4.1", "FTD §4.2"); a bare "(§1.6)" is a section of nothing here;
- "pitfall N" is a link to `90_references.ipynb#pitfall-N` (markdown) or is written as that reference (code);
- every link to a notebook page (`x.ipynb`, `x.html`, with or without `#anchor`) resolves: the notebook
  exists and the anchor is on it (an explicit `<a id="...">`, a MyST target, a heading, or an exported name);
  relative links to other files point at files that exist.

The references notebook `nbs/90_references.ipynb` holds the sources; the notebooks link its anchors.
"""

from __future__ import annotations
import json
import re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
PKG = ROOT / 'dataset_condensation'

FORBIDDEN = [
    (re.compile(r'REFERENCES\.md|DESIGN\.md'), 'names a design document that is not in the repository'),
    (re.compile(r'REFERENCES\s*§|DESIGN\s*§'), 'cites a section of a design document that is not in the repository'),
    (re.compile(r'\bREFERENCES\b(?!\s*§|\.md)'), 'names a design document that is not in the repository'),
    (re.compile(r'\.\./shared|shared/data'), 'points outside the repository'),
]
RE_MD_LINK = re.compile(r'(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
RE_HREF = re.compile(r'<a\b[^>]*\bhref="([^"]+)"')
RE_CODE_REF = re.compile(r'(?<![\w/.-])([\w.-]+\.(?:ipynb|html))(#[\w.-]+)?')
RE_PITFALL = re.compile(r'\bpitfalls?\s+\d+', re.I)
RE_BARE_SECTION = re.compile(r'§\s?\d')


def slug(text: str) -> str:
    "A heading's anchor as GitHub and MyST make it: lower case, punctuation dropped, spaces as hyphens."
    text = re.sub(r'<[^>]+>', '', text)
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', text)
    text = re.sub(r'[^\w\s-]', '', text.strip().lower())
    return re.sub(r'\s', '-', text)


def notebooks() -> list[Path]:
    return sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))


def cells(path: Path) -> list[tuple[int, str, str]]:
    "(index, 'md' or 'code', source) of a notebook's markdown and code cells."
    nb = json.loads(path.read_text(encoding='utf-8'))
    out = []
    for i, c in enumerate(nb['cells']):
        if c['cell_type'] in ('markdown', 'code'):
            src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
            out.append((i, 'md' if c['cell_type'] == 'markdown' else 'code', src))
    return out


_anchor_cache: dict[Path, set[str]] = {}


def anchors(path: Path) -> set[str]:
    "The anchors a notebook page has: explicit ids, MyST targets, headings, and its exported names (nbdev's)."
    if path not in _anchor_cache:
        ids: set[str] = set()
        for _, kind, src in cells(path):
            if kind == 'md':
                ids |= set(re.findall(r'<a\s+(?:id|name)="([^"]+)"', src))
                ids |= set(re.findall(r'^\(([\w.-]+)\)=\s*$', src, re.M))
                ids |= {slug(h) for h in re.findall(r'^#{1,6}\s+(.+?)\s*#*\s*$', src, re.M)}
            elif re.match(r'\s*#\|\s*export', src):
                ids |= {n.lower() for n in re.findall(r'^(?:def|class)\s+(\w+)', src, re.M)}
        _anchor_cache[path] = ids
    return _anchor_cache[path]


def _strip_code(md: str) -> str:
    "Markdown without its fenced blocks and inline code (their contents are not links)."
    md = re.sub(r'^```.*?^```', '', md, flags=re.M | re.S)
    return re.sub(r'`[^`\n]*`', '', md)


def check_target(target: str, base: Path, here: Path | None) -> str | None:
    "Why a relative link target does not resolve (None when it does)."
    if re.match(r'^[a-zA-Z][\w+.-]*:', target) or target.startswith('//'):
        return None  # a URL
    path, _, frag = target.partition('#')
    if not path:
        if here is None or frag in anchors(here):
            return None
        return f'link to #{frag}: no such anchor on this page'
    if path.endswith(('.ipynb', '.html')):
        nb = (base / path).with_suffix('.ipynb') if base is not None else NBS / Path(path).with_suffix('.ipynb').name
        if not nb.exists():
            return f'link to {target}: no notebook {nb.relative_to(ROOT) if nb.is_relative_to(ROOT) else nb}'
        if frag and frag not in anchors(nb):
            return f'link to {target}: no anchor "{frag}" on {nb.name}'
        return None
    if base is not None and not (base / path).exists():
        return f'link to {target}: no such file'
    return None


def problems(text: str, kind: str, base: Path | None = NBS, here: Path | None = None) -> list[str]:
    """What is wrong with one piece of text ('md' or 'code'); links resolve against the folder `base`
    (None: a notebook name in code is looked up in nbs/)."""
    out = []
    for rx, why in FORBIDDEN:
        for m in rx.finditer(text):
            out.append(f'"{m.group(0)}" {why}')
    defined = set(re.findall(r'id="pitfall-(\d+)"', text))  # the references notebook's own entries
    if kind == 'md':
        prose = _strip_code(text)
        for m in RE_MD_LINK.finditer(prose):
            words, target = m.group(2), m.group(3)
            for n in re.findall(r'pitfalls?\s+(\d+)', words, re.I):
                if not target.endswith(f'#pitfall-{n}'):
                    out.append(f'[{words}]({target}) does not link pitfall {n}')
            if why := check_target(target, base, here):
                out.append(why)
        for m in RE_HREF.finditer(prose):
            if why := check_target(m.group(1), base, here):
                out.append(why)
        rest = RE_MD_LINK.sub(' ', prose)
        for m in RE_PITFALL.finditer(rest):
            if re.search(r'\d+', m.group(0)).group(0) not in defined:
                out.append(f'"{m.group(0)}" is not a link to its entry')
        for m in RE_BARE_SECTION.finditer(rest):
            before = rest[: m.start()].rstrip()
            if not before or not re.search(r'[A-Za-z0-9]$', before):
                out.append(f'"{rest[m.start() : m.start() + 8]}": a section of which document?')
        # code blocks of the markdown: references written as in code
        for block in re.findall(r'^```.*?^```', text, flags=re.M | re.S):
            out += problems_code_refs(block)
    else:
        for m in RE_PITFALL.finditer(text):
            out.append(f'"{m.group(0)}": write 90_references.ipynb#pitfall-N')
        out += problems_code_refs(text)
    return out


def problems_code_refs(text: str) -> list[str]:
    "Notebook references in code or code blocks (`90_references.ipynb#dm`): the notebook and anchor exist."
    out = []
    for m in RE_CODE_REF.finditer(text):
        name, frag = m.group(1), (m.group(2) or '')[1:]
        if name.endswith('.html') and not (NBS / Path(name).with_suffix('.ipynb').name).exists():
            continue  # other pages
        if why := check_target(name + ('#' + frag if frag else ''), None, None):
            out.append(why)
    return out


# ---------------------------------------------------------------- the checker itself


def test_checker_flags_outside_references():
    assert problems('see REFERENCES §3.5 and DESIGN §8', 'md')
    assert problems('as in REFERENCES.md', 'md') and problems('# DESIGN.md', 'code')
    assert problems("Path('../../shared/data/x.npz')", 'code') and problems('a `shared/data` folder', 'md')
    assert problems('the official code (pitfall 19)', 'md')
    assert problems('# the official code (pitfall 19)', 'code')
    assert problems('the CCS table (§2.8) shows', 'md')
    assert not problems('rho = 0.01 (paper §4.1; FTD §4.2)', 'md')


def test_checker_resolves_links():
    assert not problems('[pitfall 19](90_references.ipynb#pitfall-19)', 'md')
    assert not problems('[DM](90_references.html#dm), [the page](90_references.ipynb)', 'md')
    assert not problems('# 90_references.ipynb#pitfall-14', 'code')
    assert problems('[pitfall 19](90_references.ipynb#pitfall-18)', 'md')  # wrong entry
    assert problems('[x](90_references.ipynb#no-such-anchor)', 'md')
    assert problems('[x](99_nowhere.ipynb)', 'md') and problems('# 99_nowhere.ipynb#x', 'code')
    assert problems('# see 90_references.ipynb#no-such-anchor', 'code')
    assert not problems('[a heading](90_references.ipynb#shared-setup)', 'md')  # heading anchors count
    assert not problems('[api](23_distribution_matching.html#distribution_loss)', 'md')  # exported names count
    assert not problems('[repo](https://github.com/x/y#readme) `REF` in code: `x.ipynb#nothing`', 'md')
    assert problems('[x](90_references.ipynb#dm)', 'md', base=ROOT)  # README: relative to the root
    assert not problems('[x](nbs/90_references.ipynb#dm)', 'md', base=ROOT)


def test_references_notebook():
    "The references notebook exists, every pitfall has its entry, and its anchors are unique."
    p = NBS / '90_references.ipynb'
    assert p.exists()
    text = '\n'.join(src for _, kind, src in cells(p) if kind == 'md')
    ids = re.findall(r'<a id="([^"]+)"></a>', text)
    assert len(ids) == len(set(ids))
    assert {f'pitfall-{n}' for n in range(1, 40)} <= set(ids)
    assert {'bibliography', 'dm', 'mtt', 'evaluation-protocols', 'pitfalls', 'profiles'} <= set(ids)


# ---------------------------------------------------------------- the repository


@pytest.mark.parametrize('path', notebooks(), ids=lambda p: p.name)
def test_notebook(path):
    bad = [f'cell {i}: {why}' for i, kind, src in cells(path) for why in problems(src, kind, NBS, path)]
    assert not bad, f'{path.name}:\n  ' + '\n  '.join(bad)


MODULES = sorted(p for p in PKG.rglob('*.py') if p.name != '_modidx.py')


@pytest.mark.parametrize('path', MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module(path):
    bad = problems(path.read_text(encoding='utf-8'), 'code', None)
    assert not bad, f'{path.relative_to(ROOT)}:\n  ' + '\n  '.join(bad)


def test_readme():
    bad = problems((ROOT / 'README.md').read_text(encoding='utf-8'), 'md', ROOT)
    assert not bad, 'README.md:\n  ' + '\n  '.join(bad)
