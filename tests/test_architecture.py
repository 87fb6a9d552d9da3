"""The package's structure: no import cycle, and one training loop.

The graph has an edge A -> B for every import statement in module A that names module B of the package, at module
level or inside a function (a deferred import is still a dependency). Plugin loading by name (`importlib`) in
`load_pruning_methods` / `load_distillation_methods` is not an import statement and is not an edge."""

import ast
import pathlib

PKG = pathlib.Path(__file__).resolve().parents[1] / 'dataset_condensation'


def _modules() -> dict:
    out = {}
    for f in PKG.rglob('*.py'):
        if f.name == '_modidx.py':
            continue
        name = '.'.join(f.relative_to(PKG.parent).with_suffix('').parts)
        out[name.removesuffix('.__init__')] = f
    return out


def import_graph() -> dict:
    "{module: set of package modules it imports}"
    mods = _modules()
    edges = {}
    for name, f in mods.items():
        pkg = name if f.name == '__init__.py' else name.rsplit('.', 1)[0]
        out = set()
        for n in ast.walk(ast.parse(f.read_text(encoding='utf-8'))):
            if isinstance(n, ast.ImportFrom):
                parts = pkg.split('.')
                base = parts[: len(parts) - n.level + 1] if n.level else []
                m = '.'.join(base + ([n.module] if n.module else [])) if n.level else (n.module or '')
                cands = [m] + [f'{m}.{a.name}' for a in n.names]
            elif isinstance(n, ast.Import):
                cands = [a.name for a in n.names]
            else:
                continue
            out |= {c for c in cands if c in mods and c != name}
        edges[name] = out
    return edges


def find_cycle(edges: dict) -> list | None:
    "One cycle of the graph as a list of modules (first == last), or None."
    state = {}

    def visit(v, path):
        state[v] = 'open'
        for w in sorted(edges.get(v, ())):
            if state.get(w) == 'open':
                return path[path.index(w) :] + [w]
            if w not in state:
                c = visit(w, path + [w])
                if c:
                    return c
        state[v] = 'done'
        return None

    for v in sorted(edges):
        if v not in state:
            c = visit(v, [v])
            if c:
                return c
    return None


def test_find_cycle_finds_one():
    # the checker itself: a cycle of three is found, a chain is not
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': set()}) is None


def test_graph_sees_relative_and_deferred_imports():
    g = import_graph()
    assert 'dataset_condensation.core' in g['dataset_condensation.train']  # `from .core import ...`
    assert 'dataset_condensation.train' in g['dataset_condensation.pruning.dynamics']
    assert 'dataset_condensation.distill.seqmatch' in g['dataset_condensation.distill.bench']  # inside a function


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, 'import cycle: ' + ' -> '.join(cycle)


def _training_loops(src: str) -> list:
    "Functions with an epoch loop (`for` over `range(...epochs...)`) that holds a loop over batches (a nested `for`)."
    out = []
    for fn in ast.walk(ast.parse(src)):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for n in ast.walk(fn):
            it = ast.unparse(n.iter) if isinstance(n, ast.For) else ''
            if 'epochs' in it and 'range(' in it and any(isinstance(m, ast.For) for b in n.body for m in ast.walk(b)):
                out.append(fn.name)
                break
    return out


def test_training_loop_detector():
    loop = (
        "def f(m, x, epochs):\n    for e in range(epochs):\n        for b in range(0, len(x), 8):\n            m(b)\n"
    )
    relabel = "def g(t, epochs):\n    for e in range(epochs):\n        t(e)\n"
    assert _training_loops(loop) == ['f'] and _training_loops(relabel) == []


def test_one_training_loop():
    # epochs of training batches are iterated only in train.fit and train._stacked_fit (fit_many's vmapped path);
    # the distillation outer loops iterate over iterations, not epochs of data
    found = {str(f.relative_to(PKG)): _training_loops(f.read_text(encoding='utf-8')) for f in PKG.rglob('*.py')}
    found = {k: v for k, v in found.items() if v}
    assert found == {'train.py': ['fit', '_stacked_fit']}, found
