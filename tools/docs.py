#!/usr/bin/env python
"""Build the documentation site from the notebooks, without Quarto.

1. nbdev's own notebook processing (what `nbdev_proc_nbs` runs: front matter, `#| hide` and exported cells
   removed, `show_doc` of every exported name rendered, symbol names linked), called as the library function
   `nbdev.serve`'s processors so that no Quarto installer runs and nothing is written into `nbs/`. One change:
   a code cell that mixes imports with other code has only its imports run (nbdev would run the whole cell,
   i.e. a piece of an experiment, to render the documentation).
2. A few translations from Quarto's dialect to MyST (the title from the front matter, `#| echo: false` as a
   cell tag, `<a id>` anchors as MyST targets, nbdev's links to the API pages of the hosted site as links
   to this site's pages, a table of contents in notebook order).
3. Sphinx with myst-nb renders the processed notebooks with their committed outputs (nothing is executed),
   MathJax from the `sphinx-mathjax-offline` package (no CDN), into `_site/`.

Usage: `python tools/docs.py [--out _site] [--jobs 2] [--strict]`; `tools/docs.sh` calls it.
"""

from __future__ import annotations
import argparse
import ast
import json
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
STAGE = ROOT / '_site_src'  # processed notebooks: Sphinx's source folder
CONF = ROOT / 'docs'  # conf.py and static files

# The sidebar: notebook order, in parts (a notebook whose number is not listed goes into 'More').
PARTS = [
    ('Foundations', 0, 9),
    ('Dataset pruning', 10, 19),
    ('Dataset distillation', 20, 29),
    ('Command line', 30, 39),
    ('References', 90, 99),
]


def notebooks(nbs: Path = NBS) -> list[Path]:
    "The notebooks to render, in reading order (nbdev skips names starting with `_` or `.`)."
    return sorted(p for p in nbs.glob('*.ipynb') if not p.name.startswith(('_', '.')))


# ---------------------------------------------------------------- 1. nbdev processing (runs in worker processes)


def _imports_only(src: str) -> str | None:
    "The top-level import statements of a cell, or None when the cell is nothing but imports."
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return ''
    imps = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    if len(imps) == len(tree.body):
        return None
    return '\n'.join(ast.get_source_segment(src, n) for n in imps)


def _procs():
    "nbdev's processors, with `exec_show_docs` replaced by one that runs only what `show_doc` needs."
    from nbdev.processors import FilterDefaults, exec_show_docs, _do_eval
    from nbdev.showdoc import show_doc  # noqa: F401  (imported once in the parent of every shell)

    class exec_for_docs(exec_show_docs):
        "Run exported cells, `show_doc` cells and imports; of a cell that mixes imports and code, only the imports."

        def __call__(self, cell):
            if not self.nb.has_docs_ or not hasattr(self, 'k'):
                return
            fm = getattr(self.nb, 'frontmatter_', {})
            if str(fm.get('skip_showdoc', '')).lower() in ('true', '1', 'yes'):
                return
            if cell.cell_type != 'code' or not cell.source:
                return
            dirs = set(cell.directives_)
            if not dirs & {'export', 'exports', 'exporti', 'exec_doc'} and not re.search(
                r'^show_doc', cell.source, re.M
            ):
                imps = _imports_only(cell.source)
                if imps is not None:  # mixed cell: its imports only, and its committed outputs stay
                    if imps:
                        self.k.run(imps)
                    if self.k.exc:
                        raise RuntimeError(f"{self.nb.path_}: cell {cell.idx_}: {self.k.exc!r}")
                    return
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                if not _do_eval(cell):
                    return
            self.k.cell(cell)
            if self.k.exc:
                if not re.search(r'^show_doc', cell.source, re.M):
                    raise RuntimeError(f"{self.nb.path_}: cell {cell.idx_}:\n{cell.source}\n{self.k.exc!r}")
                self.k.exc = None
                self.retry = getattr(self, 'retry', []) + [cell]  # e.g. an annotation names a later class

        def end(self):
            for cell in getattr(self, 'retry', []):  # once the whole notebook's exported code has run
                self.k.cell(cell)
                if self.k.exc:
                    print(
                        f"WARNING: {Path(self.nb.path_).name} cell {cell.idx_}: {cell.source.splitlines()[-1]}: "
                        f"{self.k.exc!r}",
                        flush=True,
                    )
                    self.k.exc = None
            super().end()

    class DocsFilter(FilterDefaults):
        def base_procs(self):
            return [exec_for_docs if p is exec_show_docs else p for p in super().base_procs()]

    return DocsFilter


def process_notebook(src: str) -> tuple[str, float]:
    "nbdev-process one notebook into the staging folder (a worker's job); returns its name and seconds."
    t0 = time.time()
    os.environ['IN_TEST'] = '1'  # as nbdev's own driver: `nbdev_export()` and friends do nothing
    os.environ.setdefault('MPLBACKEND', 'agg')
    src = Path(src)
    os.chdir(src.parent)  # relative paths resolve as when the notebook runs
    from execnb.nbio import read_nb, write_nb

    main = sys.modules['__main__']
    try:
        nb = read_nb(src)
        _procs()()(nb)
    finally:
        sys.modules['__main__'] = main  # the shell that ran the cells took `__main__` over
    write_nb(nb, STAGE / (src.stem + '.raw.ipynb'))
    return src.name, time.time() - t0


# ---------------------------------------------------------------- 2. Quarto dialect -> MyST


def _page_map(nbs: list[Path]) -> dict[str, str]:
    "nbdev's page name of each notebook (numbers stripped: 'models.html') -> this site's ('02_models.html')."
    from nbdev.doclinks import _nbpath2html

    return {_nbpath2html(p).name: p.stem + '.html' for p in nbs}


def _src(c) -> str:
    return ''.join(c['source']) if isinstance(c.get('source'), list) else (c.get('source') or '')


_re_anchor = re.compile(r'^[ \t]*<a\s+(?:id|name)="([^"]+)"\s*>\s*</a>[ \t]*$', re.M)
_re_directive = re.compile(r'^#\|\s*([\w-]+)\s*:?\s*(.*)$')


_re_badge = re.compile(
    r'\[!\[([^\]]*)\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\(([^)\s]+)\)'
)


def _fix_links(s: str, host: str, pages: dict[str, str]) -> str:
    "nbdev's links to the hosted API pages (and `{target=...}` attributes) as links into this site."
    # the Colab badge image from the site itself (the pages need no network)
    s = _re_badge.sub(r'<a href="\2"><img src="_static/colab-badge.svg" alt="\1"></a>', s)

    def page(url):
        name, _, frag = url[len(host) :].partition('#')
        return pages.get(name, name) + ('#' + frag if frag else '')

    s = re.sub(
        r'\[(`[^`\]]+`)\]\(' + re.escape(host) + r'([^)\s]*)\)',
        lambda m: f'<a href="{page(host + m.group(2))}"><code>{m.group(1)[1:-1]}</code></a>',
        s,
    )
    s = re.sub(r'\[source\]\((https?://[^)\s]+)\)\{[^}]*\}', r'<a class="nbdev-source" href="\1">source</a>', s)
    return s


def _show_doc_md(lines: list[str] | str) -> str:
    "A `show_doc` output: a leading rule dropped and an anchor named as nbdev names it (`#name`, lower case)."
    s = ''.join(lines) if isinstance(lines, list) else lines
    s = re.sub(r'^\s*---\s*\n', '', s)
    return re.sub(
        r'^(#{2,4}) (\S+)\s*$',
        lambda m: f'<a id="{m.group(2).lower()}"></a>\n\n{m.group(1)} {m.group(2)}',
        s,
        count=1,
        flags=re.M,
    )


_KEYS = {
    'markdown': ('cell_type', 'id', 'metadata', 'source', 'attachments'),
    'code': ('cell_type', 'id', 'metadata', 'source', 'outputs', 'execution_count'),
}


def _clean(c: dict, i: int) -> dict:
    "A valid nbformat cell: nbdev's working keys dropped, an id where there is none."
    c = {k: v for k, v in c.items() if k in _KEYS[c['cell_type']]}
    c.setdefault('id', f'c{i:04d}')
    if c['cell_type'] == 'code':
        c['execution_count'] = None
    return c


def to_myst(nb: dict, host: str, pages: dict[str, str]) -> dict:
    "Translate one nbdev-processed notebook for myst-nb."
    nb = {**nb, 'cells': _to_myst_cells(nb['cells'], host, pages)}
    nb['cells'] = [_clean(c, i) for i, c in enumerate(nb['cells'])]
    return nb


def _to_myst_cells(cells_in: list, host: str, pages: dict[str, str]) -> list:
    cells = []
    for c in cells_in:
        s = _src(c)
        if c['cell_type'] == 'raw':
            m = re.match(r'^---\s*\n(.*?)\n---\s*$', s.strip(), re.S)
            if m:  # nbdev's front matter: the notebook's title and summary
                import yaml

                fm = yaml.safe_load(m.group(1)) or {}
                title = fm.get('title', '')
                desc = fm.get('description', '')
                c = {
                    'cell_type': 'markdown',
                    'metadata': {},
                    'source': f"# {title}\n\n> {desc}\n" if desc else f"# {title}\n",
                }
                cells.append(c)
            continue
        if c['cell_type'] == 'markdown':
            if not s.strip() or s.strip().startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'):
                continue
            s = _re_anchor.sub(lambda m: f'({m.group(1)})=', s)
            c = {**c, 'source': _fix_links(s, host, pages)}
            cells.append(c)
            continue
        # code cells: Quarto's cell options as myst-nb tags; the option lines not shown
        lines = s.splitlines()
        opts, body = {}, []
        for i, line in enumerate(lines):
            m = _re_directive.match(line)
            if m and not body:
                opts[m.group(1)] = m.group(2).strip().lower()
            else:
                body.append(line)
        tags = set(c.get('metadata', {}).get('tags', []))
        if opts.get('echo') == 'false' or not ''.join(body).strip():
            tags.add('remove-input')
        if opts.get('output') == 'false':
            tags.add('remove-output')
        if opts.get('include') == 'false':
            continue
        outs = c.get('outputs', [])
        if not ''.join(body).strip() and not outs:
            continue
        for o in outs:
            d = o.get('data', {})
            if 'text/markdown' in d:
                md = _show_doc_md(d['text/markdown']) if opts.get('output') == 'asis' else ''.join(d['text/markdown'])
                d['text/markdown'] = _fix_links(md, host, pages)
        meta = {**c.get('metadata', {}), 'tags': sorted(tags)} if tags else c.get('metadata', {})
        cells.append({**c, 'source': '\n'.join(body).strip('\n'), 'metadata': meta, 'outputs': outs})
    return cells


def toctree(nbs: list[Path]) -> str:
    "The hidden table of contents of the index page: every notebook in order, in parts."
    out, rest = [], [p.stem for p in nbs if p.stem != 'index' and not re.match(r'^\d+', p.stem)]
    for name, lo, hi in PARTS:
        docs = [p.stem for p in nbs if (m := re.match(r'^(\d+)', p.stem)) and lo <= int(m.group(1)) <= hi]
        if docs:
            out.append(f"```{{toctree}}\n:hidden:\n:maxdepth: 1\n:caption: {name}\n\n" + '\n'.join(docs) + '\n```')
    if rest:
        out.append("```{toctree}\n:hidden:\n:maxdepth: 1\n:caption: More\n\n" + '\n'.join(rest) + '\n```')
    return '\n\n'.join(out)


def _write_if_changed(path: Path, text: str):
    if not path.exists() or path.read_text(encoding='utf-8') != text:
        path.write_text(text, encoding='utf-8')


# ---------------------------------------------------------------- 3. build


def build(out: Path, jobs: int = 2, strict: bool = False) -> int:
    t0 = time.time()
    nbs = notebooks()
    if not nbs:
        sys.exit(f"no notebooks in {NBS}")
    STAGE.mkdir(exist_ok=True)
    for p in STAGE.glob('*.ipynb'):
        if p.name.replace('.raw', '') not in {n.name for n in nbs}:
            p.unlink()
    print(f"processing {len(nbs)} notebooks with nbdev ({jobs} workers)...", flush=True)
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=get_context('spawn')) as ex:
        for name, sec in ex.map(process_notebook, [str(p) for p in nbs]):
            print(f"  {name}: {sec:.1f} s", flush=True)
    print(f"processed in {time.time() - t0:.0f} s", flush=True)

    from nbdev.config import get_config

    cfg = get_config()
    host = f"{cfg.doc_host.rstrip('/')}{cfg.doc_baseurl.rstrip('/')}/"
    pages = _page_map(nbs)
    for p in nbs:
        raw = STAGE / (p.stem + '.raw.ipynb')
        nb = to_myst(json.loads(raw.read_text(encoding='utf-8')), host, pages)
        if p.stem == 'index':
            nb['cells'].append({'cell_type': 'markdown', 'id': 'toctree', 'metadata': {}, 'source': toctree(nbs)})
        raw.unlink()
        _write_if_changed(STAGE / p.name, json.dumps(nb, indent=1, ensure_ascii=False) + '\n')

    from sphinx.cmd.build import build_main

    args = ['-b', 'html', '-c', str(CONF), '-d', str(out / '.doctrees'), '-j', str(max(1, jobs)), '-q']
    if strict:
        args += ['-W', '--keep-going']
    rc = build_main(args + [str(STAGE), str(out)])
    (out / '.nojekyll').touch()
    print(f"site in {out} ({time.time() - t0:.0f} s); open {out / 'index.html'}", flush=True)
    return rc


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT / '_site'), help='output folder (default: _site)')
    ap.add_argument('--jobs', type=int, default=2, help='worker processes (default: 2)')
    ap.add_argument('--strict', action='store_true', help='fail on any Sphinx warning')
    a = ap.parse_args()
    sys.exit(build(Path(a.out).resolve(), a.jobs, a.strict))
