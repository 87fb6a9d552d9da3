"""Package-level tests: every module imports without nbdev, the `dc` command end to end, bad input,
and files that are never half-written or unsafely loaded. The notebooks hold the unit tests."""

import json
import os
import pickle
import pkgutil
import subprocess
import sys
from pathlib import Path
import numpy as np
import pytest
import torch

import dataset_condensation as dc_pkg
from dataset_condensation.cli import main

ROOT = Path(__file__).resolve().parent.parent


def modules():
    return sorted(
        m.name
        for m in pkgutil.walk_packages(dc_pkg.__path__, 'dataset_condensation.')
        if not m.name.endswith('_modidx')
    )


@pytest.mark.parametrize('name', modules())
def test_module_imports_without_notebook_state(name):
    # a fresh interpreter, so a module that leans on unexported notebook state fails here
    r = subprocess.run([sys.executable, '-c', f'import {name}'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_runtime_needs_no_nbdev():
    code = (
        "import sys, builtins; real = builtins.__import__\n"
        "def imp(n, *a, **k):\n"
        "    if n.split('.')[0] in ('nbdev', 'fastcore', 'execnb'): raise ImportError(n)\n"
        "    return real(n, *a, **k)\n"
        "builtins.__import__ = imp\n"
        "import dataset_condensation.core, dataset_condensation.data, dataset_condensation.models, "
        "dataset_condensation.augment, dataset_condensation.train, dataset_condensation.evaluate, "
        "dataset_condensation.cli"
    )
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def dc(*args, cwd=None):
    return subprocess.run(
        [sys.executable, '-c', 'import sys; from dataset_condensation.cli import main; sys.exit(main())', *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ, DC_PROGRESS='0'),
    )


@pytest.mark.parametrize('sub', [[], ['datasets'], ['eval'], ['demo'], ['prune'], ['distill'], ['bench']])
def test_help_everywhere(sub):
    r = dc(*sub, '--help')
    assert r.returncode == 0 and 'usage: dc' in r.stdout
    if sub:
        assert '--device' in r.stdout and '--seed' in r.stdout


def test_console_script_installed():
    r = subprocess.run(['dc', 'datasets'], capture_output=True, text=True)
    assert r.returncode == 0 and 'mnist5k' in r.stdout and 'offline' in r.stdout


def test_demo_end_to_end(tmp_path):  # the quick tour (the full demo is tested in nbs/31_demo on digits)
    r = dc(
        'demo',
        '--quick',
        '--out',
        str(tmp_path / 'demo'),
        '--device',
        'cpu',
        '--width',
        '8',
        '--full-epochs',
        '1',
        '--subset-epochs',
        '3',
        '--n-models',
        '1',
    )
    assert r.returncode == 0, r.stderr
    for f in ('results.json', 'accuracy.png', 'images.png'):
        assert (tmp_path / 'demo' / f).stat().st_size > 0
    rows = json.loads((tmp_path / 'demo' / 'results.json').read_text())['rows']
    assert [r['name'] for r in rows] == ['full training set', 'random 10%', 'random 10 per class']
    assert all(r['report'] == 'final' and len(r['accs']) == 1 for r in rows)
    assert 'test acc' in r.stdout


def test_eval_coreset_same_seed_same_result(tmp_path):
    d = tmp_path / 'c'
    d.mkdir()
    (d / 'coreset.json').write_text(json.dumps(dict(dataset='digits', indices=list(range(0, 1400, 14)))))
    args = [
        'eval',
        '--dataset',
        'digits',
        '--coreset',
        str(d),
        '--epochs',
        '3',
        '--width',
        '8',
        '--n-models',
        '2',
        '--device',
        'cpu',
        '--seed',
        '5',
    ]
    assert main(args) == 0
    a = json.loads((d / 'metrics.json').read_text())
    assert main([*args, '--force']) == 0
    b = json.loads((d / 'metrics.json').read_text())  # metrics.json exists: --force
    assert a['accs'] == b['accs'] and a['seeds'] == [5, 6] and a['report'] == 'final'
    for k in ('acc_mean', 'acc_std', 'accs', 'epochs', 'arch', 'dataset', 'split', 'library_version', 'budget'):
        assert k in a


@pytest.mark.parametrize(
    'args,msg',
    [
        (['eval', '--dataset', 'nope', '--coreset', '.'], "dataset='nope' is not valid"),
        (['prune', '--dataset', 'mnist5k', '--method', 'magic', '--keep', '0.3'], "method='magic' is not valid"),
        (['distill', '--dataset', 'mnist5k', '--method', 'magic', '--ipc', '1'], "method='magic' is not valid"),
        (['bench', 'everything'], "bench='everything' is not valid"),
    ],
)
def test_cli_bad_input_is_one_clear_line(args, msg, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert msg in err and 'Traceback' not in err


def test_eval_rejects_coreset_of_another_dataset(tmp_path, capsys):
    (tmp_path / 'coreset.json').write_text(json.dumps(dict(dataset='mnist5k', indices=[0, 1])))
    assert main(['eval', '--dataset', 'digits', '--coreset', str(tmp_path)]) == 2
    assert "selected on 'mnist5k'" in capsys.readouterr().err


def test_eval_rejects_out_of_range_indices(tmp_path, capsys):
    (tmp_path / 'coreset.json').write_text(json.dumps(dict(dataset='digits', indices=[0, 99999])))
    assert main(['eval', '--dataset', 'digits', '--coreset', str(tmp_path)]) == 2
    assert 'indices must lie in [0, 1438)' in capsys.readouterr().err


def test_unknown_model_and_bad_option():
    from dataset_condensation.models import get_network

    with pytest.raises(ValueError, match="model='ConvNet9' is not valid"):
        get_network('ConvNet9', 3, 10, (32, 32))
    with pytest.raises(ValueError, match='norm'):
        get_network('ConvNet', 3, 10, (32, 32), norm='bn')


def test_wrong_image_shape_for_evaluation():
    from dataset_condensation.data import load_dataset
    from dataset_condensation.evaluate import evaluate_synset

    te = load_dataset('digits', 'test')
    with pytest.raises(ValueError, match=r'training images have shape \(3, 32, 32\)'):
        evaluate_synset(torch.zeros(10, 3, 32, 32), torch.arange(10), te)


def test_medmnist_dir_without_file_says_where(tmp_path):
    from dataset_condensation.data import load_dataset

    with pytest.raises(FileNotFoundError, match='pneumoniamnist.npz'):
        load_dataset('pneumoniamnist', root=tmp_path)


def test_missing_optional_package_gives_install_command(monkeypatch):
    from dataset_condensation.data import load_dataset

    monkeypatch.setitem(sys.modules, 'animal_mnist', None)  # makes `import animal_mnist` fail
    with pytest.raises(ImportError, match='pip install --no-deps animal-mnist==0.4'):
        load_dataset('animal_mnist')


def test_numpy_only_unpickler_refuses_code(tmp_path):
    from dataset_condensation.files import safe_unpickle

    class Evil:
        def __reduce__(self):
            return (os.system, ('echo owned',))

    f = tmp_path / 'evil.pkl'
    f.write_bytes(pickle.dumps(Evil()))
    with open(f, 'rb') as fh, pytest.raises(pickle.UnpicklingError, match='posix.system|os.system'):
        safe_unpickle(fh)
    f.write_bytes(pickle.dumps(np.arange(3)))
    with open(f, 'rb') as fh:
        assert safe_unpickle(fh).tolist() == [0, 1, 2]


def test_atomic_write_keeps_old_file_on_crash(tmp_path):
    from dataset_condensation.core import save_json, atomic_write, load_json

    p = save_json({'v': 1}, tmp_path / 'x.json')

    def crash(tmp):
        tmp.write_text('{"v": 2, "trunc')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(p, crash)
    assert load_json(p) == {'v': 1} and [q.name for q in tmp_path.iterdir()] == ['x.json']


def test_readme_in_sync_and_names_ci_command():
    r = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'make_readme.py'), '--check'], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr


def test_readme_soft_label_table_refuses_a_cell_from_before_the_presets(monkeypatch):
    sys.path.insert(0, str(ROOT / 'tools'))
    import readme_tables

    res = readme_tables._load('distillation/distillation_benchmark.json')
    assert '| animal_mnist IPC 50 |' in readme_tables.soft_labels()  # every committed cell has the official presets
    del res['animal_mnist']['table']['infer']['50']['config']['jitter_range']  # as a cell made before them
    monkeypatch.setattr(readme_tables, '_load', lambda rel: res)
    with pytest.raises(ValueError, match='animal_mnist infer IPC 50: the cell was distilled before'):
        readme_tables.soft_labels()


def test_prune_then_eval_end_to_end(tmp_path):
    r = dc(
        'prune',
        '--dataset',
        'digits',
        '--method',
        'random',
        '--keep',
        '0.2',
        '--seed',
        '1',
        '--out',
        str(tmp_path / 'c'),
        '--device',
        'cpu',
    )
    assert r.returncode == 0, r.stderr
    c = json.loads((tmp_path / 'c' / 'coreset.json').read_text())
    assert c['n_kept'] == round(0.2 * c['n_total']) and len(set(c['indices'])) == c['n_kept']
    assert np.load(tmp_path / 'c' / 'scores.npy').shape == (c['n_total'],)
    r = dc(
        'eval',
        '--dataset',
        'digits',
        '--coreset',
        str(tmp_path / 'c'),
        '--epochs',
        '2',
        '--width',
        '8',
        '--n-models',
        '1',
        '--device',
        'cpu',
    )
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / 'c' / 'metrics.json').read_text())
    assert m['n_train'] == c['n_kept'] and m['report'] == 'final' and 0 <= m['acc_mean'] <= 1


def test_pruning_methods_all_registered():
    from dataset_condensation.pruning.core import load_pruning_methods

    names = load_pruning_methods()
    for m in ('random', 'forgetting', 'svp', 'el2n', 'grand', 'tdds', 'eva'):
        assert m in names


def test_prune_synset_cli(tmp_path, capsys):  # issue 19: a condensed set pruned to a smaller IPC, with its provenance
    from dataset_condensation.data import load_dataset
    from dataset_condensation.distill.core import distill
    from dataset_condensation.distill.synset import SyntheticSet

    syn = distill(load_dataset('digits'), 'dm', 3, profile='cpu', iterations=2, progress=False)
    syn.save(tmp_path / 'set')
    assert (
        main(
            [
                'prune',
                '--synset',
                str(tmp_path / 'set'),
                '--ipc',
                '1',
                '--out',
                str(tmp_path / 'small'),
                '--no-progress',
            ]
        )
        == 0
    )
    small = SyntheticSet.load(tmp_path / 'small')
    assert len(small) == 10 and small.counts().tolist() == [1] * 10
    assert small.meta['pruned']['rule'] == 'yoco' and small.meta['pruned']['parent']['method'] == 'dm'
    kept = small.meta['pruned']['kept']
    assert all(small.labels[i] == syn.labels[k] for i, k in enumerate(kept))
    assert main(['prune', '--synset', str(tmp_path / 'set'), '--ipc', '4', '--out', str(tmp_path / 'x')]) == 2
    assert not (tmp_path / 'x').exists()
