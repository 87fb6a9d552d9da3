"""The README's result tables, computed from the committed result files (no number typed by hand).

`nbs/index.ipynb` marks each table with `<!-- table: NAME -->` ... `<!-- /table -->`; `tools/make_readme.py` fills
the block from `TABLES[NAME]()` (and `--check` fails when a block differs from what its result file gives).
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / 'results'


def _load(rel: str) -> dict:
    return json.loads((RESULTS / rel).read_text(encoding='utf-8'))


def _pm(cell: dict) -> str:
    "mean ± std of a result cell, in percent with one decimal."
    return f"{100 * cell['acc_mean']:.1f} ± {100 * cell['acc_std']:.1f}"


def _table(head: list, rows: list) -> str:
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    return '\n'.join(lines + ['| ' + ' | '.join(r) + ' |' for r in rows])


def _mean_std(xs: list) -> dict:
    m = sum(xs) / len(xs)
    return dict(acc_mean=m, acc_std=(sum((x - m) ** 2 for x in xs) / len(xs)) ** 0.5)  # population std (np.std)


# -- baselines (results/baselines.json: the cache of `baseline_table`, one accuracy per key) --------------------------
BASELINE_SETS = {'mnist5k': 4000, 'animal_mnist': 8000, 'pneumoniamnist': 4708}  # training-set sizes
BASELINE_KEY = re.compile(
    r"^(?P<ds>[^|]+)\|(?P<kind>full|ipc\d+)\|(?P<seed>\d+)\|ConvNet\|\[\('width', 32\)\]\|300\|20$"
)


def baselines() -> str:
    cache, cells = _load('baselines.json'), {}
    for key, acc in cache.items():
        m = BASELINE_KEY.match(key)
        if m:
            cells.setdefault((m['ds'], m['kind']), []).append(acc)
    rows = []
    for ds, n in BASELINE_SETS.items():
        kinds = ('full', 'ipc1', 'ipc10', 'ipc50')
        rows.append([f'{ds} ({n:,} train)'] + [_pm(_mean_std(cells[ds, k])) for k in kinds])
    return _table(['dataset', 'full data', 'random 1/class', 'random 10/class', 'random 50/class'], rows)


# -- pruning (results/pruning_benchmark.json) ----------------------------------------------------------------------
PRUNING_LABELS = {'tdds': 'TDDS', 'eva': 'EVA', 'aum': 'AUM'}  # the result's own `labels` (what was run) come first


def _pruning_label(key: str, labels: dict) -> str:
    if key.endswith(' + CCS'):
        base = key[: -len(' + CCS')]
        return PRUNING_LABELS.get(base, base) + ' + CCS (AUM cutoff)'
    return labels.get(key) or PRUNING_LABELS.get(key, key)


def pruning(dataset: str) -> str:
    res = _load('pruning_benchmark.json')[dataset]
    keeps = [f'{k:.1f}' for k in res['keeps']]
    rows, full = [], None
    for key, cells in res['table'].items():
        if key == 'full data':
            full = cells
            continue
        rows.append(
            [_pruning_label(key, res.get('labels') or {})] + [_pm(cells[k]) if k in cells else '–' for k in keeps]
        )
    if full is not None:
        steps = res['protocol']['iterations']
        rows.append([f'full data, same {steps} steps', _pm(next(iter(full.values())))] + [''] * (len(keeps) - 1))
    return _table([dataset] + [f'keep {k}' for k in keeps], rows)


# -- distillation (results/distillation/distillation_benchmark.json) ---------------------------------------------------
DISTILL_ROWS = [  # (label, row key, second row key shown after " / " or None)
    ('random real', 'random real', None),
    ('DD', 'dd', None),
    ('KRR (ConvNet random-feature kernel)', 'krr', None),
    ('DC', 'dc', None),
    ('DSA', 'dsa', None),
    ('DM', 'dm', None),
    ('YOCO (the DM set of the largest IPC pruned: low LBPE, balanced)', 'dm+yoco', None),
    ('MDC (on DM; the whole set)', 'mdc', None),
    ('MTT', 'mtt', None),
    ('FTD (EMA images / raw images)', 'ftd', 'ftd (no EMA)'),
    ('SeqMatch (sequential evaluation)', 'seqmatch', None),
]
DISTILL_COLUMNS = [('mnist5k', '1'), ('mnist5k', '10'), ('mnist5k', '50'), ('digits', '1'), ('digits', '10')]


def distillation() -> str:
    res = _load('distillation/distillation_benchmark.json')
    rows = []
    for label, key, second in DISTILL_ROWS:
        row = [label]
        for ds, k in DISTILL_COLUMNS:
            table = res[ds]['table']
            if key not in table:
                row.append('')  # the method was not run on this dataset
            elif k not in table[key]:
                row.append('–')  # run on the dataset, not at this IPC
            else:
                row.append(_pm(table[key][k]) + (f' / {_pm(table[second][k])}' if second else ''))
        rows.append(row)
    for label, key in (
        ('full data (`full` recipe: 20 epochs, no augmentation)', 'full'),
        ("full data (the sets' recipe: DSA, 300 epochs)", 'full_protocol'),
    ):
        first = [k == str(res[ds]['ipcs'][0]) and res[ds].get(key) for ds, k in DISTILL_COLUMNS]
        if any(first):
            rows.append([label] + [_pm(res[ds][key]) if f else '' for (ds, _), f in zip(DISTILL_COLUMNS, first)])
    return _table(['method'] + [f'{ds} IPC {k}' for ds, k in DISTILL_COLUMNS], rows)


SOFT = [('SRe2L', 'sre2l'), ('DWA', 'dwa'), ('INFER', 'infer')]


def _check_presets(cell: dict, where: str) -> None:
    """Refuse a soft-label cell distilled before the presets took the official recovery jitter and logit mixing (its
    stored configuration has no `jitter_range`): one table must not mix the two."""
    if 'jitter_range' not in (cell.get('config') or {}):
        raise ValueError(
            f"{where}: the cell was distilled before the official soft-label presets (its config has no jitter_range); "
            f"re-run it (29_distillation_benchmark's results cell under DC_FULL=1) before the README can show it"
        )


def soft_labels() -> str:
    res = _load('distillation/distillation_benchmark.json')
    rows = []
    for ds in ('mnist5k', 'animal_mnist'):
        table = res[ds]['table']
        for k in ('10', '50'):
            for _, m in SOFT:
                _check_presets(table[m][k], f'{ds} {m} IPC {k}')
            main = [f"{_pm(table[m][k])} ({100 * table[f'{m} (hard labels)'][k]['acc_mean']:.1f})" for _, m in SOFT]
            rows.append([f'{ds} IPC {k}'] + main + [_pm(table['random real'][k])])
            rows.append(
                ["random real with the method's labels"]
                + [_pm(table[f'random real ({m} labels)'][k]) for _, m in SOFT]
                + ['']
            )
            equal = {m: table.get(f'random real ({m} labels, equal steps)', {}).get(k) for _, m in SOFT}
            if any(equal.values()):  # INFER's students see more images: its baseline also at equal SGD steps
                rows.append(
                    ["... the same, as many SGD steps as the method's students"]
                    + [_pm(equal[m]) if equal[m] else '' for _, m in SOFT]
                    + ['']
                )
    return _table([''] + [name for name, _ in SOFT] + ['random real, hard labels'], rows)


# -- one set, every size (results/anysize/anysize.json) ----------------------------------------------------------------
ANYSIZE_LABELS = {  # {parent}: the IPC condensed once
    'each': 'DM condensed at each IPC',
    'yoco': 'DM IPC {parent} pruned by YOCO (low LBPE, balanced)',
    'random': 'DM IPC {parent} pruned at random (balanced)',
    'el2n': 'DM IPC {parent} pruned by EL2N (hard end)',
    'forgetting': 'DM IPC {parent} pruned by forgetting events (hard end)',
    'aum': 'DM IPC {parent} pruned by AUM (low end)',
    'tdds': 'DM IPC {parent} pruned by TDDS (high end)',
    'eva': 'DM IPC {parent} pruned by EVA (high end)',
    'grand': 'DM IPC {parent} pruned by GraNd at init (high end)',
    'svp': 'DM IPC {parent} pruned by SVP (proxy forgetting, high end)',
    'svp_kcenter': 'DM IPC {parent} pruned by SVP (proxy k-center)',
    'mdc': 'MDC (base DM): one IPC-{parent} set, its first-m subsets',
}


def anysize(key: str) -> str:
    res = _load('anysize/anysize.json')[key]
    ks = sorted({int(k) for c in res['rows'].values() for k in c})
    rows = [
        [ANYSIZE_LABELS.get(r, r).format(parent=res['parent_ipc'])]
        + [_pm(c[str(k)]) if str(k) in c else '–' for k in ks]
        for r, c in res['rows'].items()
    ]
    return _table([res['dataset']] + [f'IPC {k}' for k in ks], rows)


TABLES = {
    'baselines': baselines,
    'pruning mnist5k': lambda: pruning('mnist5k'),
    'pruning animal_mnist': lambda: pruning('animal_mnist'),
    'distillation': distillation,
    'soft labels': soft_labels,
    'anysize mnist5k': lambda: anysize('mnist5k'),
    'anysize animal_mnist': lambda: anysize('animal_mnist'),
    'anysize mnist5k from IPC 50': lambda: anysize('mnist5k_ipc50'),
}
# a block's body holds no other marker, so an empty block (opening line, closing line) cannot swallow the next one
BLOCK = re.compile(r'(<!-- table: (?P<name>[^>]+?) -->\n)(?P<body>(?:(?!<!-- /?table).)*?)\n?<!-- /table -->', re.S)


def fill(text: str) -> tuple[str, list]:
    "`text` with every table block refilled from its result file, and the names of the blocks that changed."
    changed = []

    def sub(m):
        name = m['name']
        if name not in TABLES:
            raise KeyError(f"unknown README table {name!r}; known: {sorted(TABLES)}")
        body = TABLES[name]()
        if body != m['body']:
            changed.append(name)
        return m.group(1) + body + '\n<!-- /table -->'

    return BLOCK.sub(sub, text), changed
