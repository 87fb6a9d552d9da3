"""Bad input through `dc`, in-process: every case must end in exit status 2, exactly one line on stderr that names
the problem, and no file left behind (neither new files in the case's folder nor changes to the shared fixtures).
Every case fails before any training. A second table does the same for the Python API (a clear `ValueError`,
`FileNotFoundError` or `FileExistsError` naming the argument, never a raw TypeError/AttributeError from deep inside)."""

import hashlib
import json
import os
import shutil
import signal
from pathlib import Path
import pytest
import torch

from dataset_condensation.cli import main

os.environ.setdefault('DC_PROGRESS', '0')
CPU = ['--device', 'cpu']

# ----------------------------------------------------------------------------------------------------------------
# Shared, finished outputs on `digits` (made once per module): a coreset, a synthetic set, an expert buffer, teachers.


def make_fixtures(root: Path) -> dict:
    "Finished outputs on digits in `root` (seconds on a CPU)."
    from dataset_condensation.data import load_dataset
    from dataset_condensation.models import get_network
    from dataset_condensation.teachers import save_teacher

    assert (
        main(
            [
                'prune',
                '--dataset',
                'digits',
                '--method',
                'random',
                '--keep',
                '0.1',
                '--out',
                str(root / 'coreset'),
                *CPU,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                'distill',
                '--dataset',
                'digits',
                '--method',
                'dm',
                '--ipc',
                '1',
                '--iterations',
                '2',
                '--out',
                str(root / 'synset'),
                '--no-progress',
                *CPU,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                'experts',
                '--dataset',
                'digits',
                '--n',
                '1',
                '--epochs',
                '3',
                '--width',
                '8',
                '--out',
                str(root / 'buffer'),
                *CPU,
            ]
        )
        == 0
    )
    dg = load_dataset('digits')
    save_teacher(
        get_network('ConvNetBN', 1, 10, (8, 8), seed=0, width=8),
        root / 'teacher.safetensors',
        'ConvNetBN',
        dict(width=8),
        dg,
    )
    save_teacher(
        get_network('ConvNet', 1, 10, (8, 8), seed=0, width=8), root / 'nobn.safetensors', 'ConvNet', dict(width=8), dg
    )
    return dict(
        root=root,
        coreset=root / 'coreset',
        synset=root / 'synset',
        buffer=root / 'buffer',
        teacher=root / 'teacher.safetensors',
        nobn=root / 'nobn.safetensors',
    )


@pytest.fixture(scope='module')
def fx(tmp_path_factory):
    return make_fixtures(tmp_path_factory.mktemp('fixtures'))


def fill(arg: str, tmp: Path, fx: dict) -> str:
    "An argument with {tmp} and the fixture names ({coreset}, ...) replaced by their paths."
    for k, v in dict(fx, tmp=tmp).items():
        arg = arg.replace('{' + k + '}', str(v))
    return arg


def snapshot(folder: Path) -> dict:
    "Every file and folder under `folder` with the hash of its bytes (folders: None)."
    out = {}
    for p in sorted(folder.rglob('*')):
        out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
    return out


# ----------------------------------------------------------------------------------------------------------------
# Set-ups that write damaged inputs into the case's folder (`{tmp}`).


def coreset_json(obj):
    def f(tmp, fx):
        (tmp / 'c').mkdir()
        (tmp / 'c' / 'coreset.json').write_text(obj if isinstance(obj, str) else json.dumps(obj))

    return f


def copy(name, to=None):
    def f(tmp, fx):
        shutil.copytree(fx[name], tmp / (to or name))

    return f


def synset_edit(edit):
    "Copy the fixture set to {tmp}/s, then edit it."

    def f(tmp, fx):
        shutil.copytree(fx['synset'], tmp / 's')
        edit(tmp / 's')

    return f


def _json_edit(path, fn):
    d = json.loads(path.read_text())
    fn(d)
    path.write_text(json.dumps(d))


def _resave(folder, fn):
    "Rewrite the set's tensors (and JSON) through the library, changing them with fn(set)."
    from dataset_condensation.distill.synset import SyntheticSet

    s = SyntheticSet.load(folder)
    fn(s)
    shutil.rmtree(folder)
    s.save(folder)


def _set_tensors(folder, **tensors):
    "Overwrite synset.safetensors with other tensors, leaving synset.json as it is."
    from safetensors.torch import load_file, save_file

    t = load_file(str(folder / 'synset.safetensors'))
    t.update(tensors)
    save_file(t, str(folder / 'synset.safetensors'))


def buffer_edit(edit):
    def f(tmp, fx):
        shutil.copytree(fx['buffer'], tmp / 'b')
        edit(tmp / 'b')

    return f


def ckpt_gone(tmp, fx):
    shutil.copytree(fx['synset'], tmp / 's')
    (tmp / 's' / 'ckpt.safetensors').unlink()


def ckpt_only(tmp, fx):
    shutil.copytree(fx['synset'], tmp / 's')
    for f in ('synset.safetensors', 'synset.json', 'grid.png'):
        (tmp / 's' / f).unlink()


def a_file(name):
    def f(tmp, fx):
        (tmp / name).write_text('I am a file')

    return f


def empty_dir(name):
    def f(tmp, fx):
        (tmp / name).mkdir()

    return f


def metrics_there(tmp, fx):
    shutil.copytree(fx['coreset'], tmp / 'c')
    (tmp / 'c' / 'metrics.json').write_text('{"acc_mean": 0.5}')


def other_buffer(tmp, fx):
    shutil.copytree(fx['buffer'], tmp / 'b')


def teacher_file(content: bytes):
    def f(tmp, fx):
        (tmp / 't.safetensors').write_bytes(content)

    return f


def teacher_other_data(tmp, fx):
    from dataset_condensation.data import load_dataset
    from dataset_condensation.models import get_network
    from dataset_condensation.teachers import save_teacher

    m5 = load_dataset('digits')
    m5.name = 'mnist5k'
    save_teacher(
        get_network('ConvNetBN', 1, 10, (8, 8), seed=0, width=8), tmp / 't.safetensors', 'ConvNetBN', dict(width=8), m5
    )


# ----------------------------------------------------------------------------------------------------------------
# The table: (id, argv, substrings the error line must contain, set-up). `{tmp}` is the case's folder; fixture names
# ({coreset}, {synset}, {buffer}, {teacher}, {nobn}) are the shared outputs above (never changed by a case).

EV = ['eval', '--dataset', 'digits', *CPU]
PR = ['prune', '--dataset', 'digits', '--method', 'random', '--keep', '0.1', *CPU]
DM = ['distill', '--dataset', 'digits', '--method', 'dm', '--ipc', '1', '--iterations', '2', *CPU]
MTT = [
    'distill',
    '--dataset',
    'digits',
    '--method',
    'mtt',
    '--ipc',
    '1',
    '--iterations',
    '2',
    '--buffer',
    '{buffer}',
    *CPU,
]
MTTB = [
    'distill',
    '--dataset',
    'digits',
    '--method',
    'mtt',
    '--ipc',
    '1',
    '--iterations',
    '2',
    '--buffer',
    '{tmp}/b',
    *CPU,
]
SRE = ['distill', '--dataset', 'digits', '--method', 'sre2l', '--ipc', '1', '--iterations', '2', *CPU]
EX = ['experts', '--dataset', 'digits', '--n', '1', '--epochs', '2', *CPU]
EL = ['prune', '--dataset', 'digits', '--method', 'el2n', '--keep', '0.1', *CPU]
FG = ['prune', '--dataset', 'digits', '--method', 'forgetting', '--keep', '0.1', *CPU]
BE = ['bench']


def C(id, argv, expect, setup=None):
    return pytest.param(argv, [expect] if isinstance(expect, str) else expect, setup, id=id)


CASES = [
    # --- unknown names ------------------------------------------------------------------------------------------
    C('eval-dataset', ['eval', '--dataset', 'nope', '--coreset', '{coreset}', *CPU], "dataset='nope' is not valid"),
    C(
        'prune-dataset',
        ['prune', '--dataset', 'nope', '--method', 'random', '--keep', '0.1', *CPU],
        "dataset='nope' is not valid",
    ),
    C(
        'distill-dataset',
        ['distill', '--dataset', 'nope', '--method', 'dm', '--ipc', '1', *CPU],
        "dataset='nope' is not valid",
    ),
    C('experts-dataset', ['experts', '--dataset', 'nope', '--out', '{tmp}/b', *CPU], "dataset='nope' is not valid"),
    C('demo-dataset', ['demo', '--dataset', 'nope', '--out', '{tmp}/d', *CPU], "dataset='nope' is not valid"),
    C(
        'bench-baselines-dataset',
        ['bench', 'baselines', '--datasets', 'digits', 'nope', *CPU],
        "dataset='nope' is not valid",
    ),
    C('bench-pruning-dataset', ['bench', 'pruning', '--datasets', 'nope', *CPU], "dataset='nope' is not valid"),
    C(
        'bench-distillation-dataset',
        ['bench', 'distillation', '--datasets', 'nope', *CPU],
        "dataset='nope' is not valid",
    ),
    C(
        'prune-method',
        ['prune', '--dataset', 'digits', '--method', 'magic', '--keep', '0.1', *CPU],
        "method='magic' is not valid",
    ),
    C(
        'distill-method',
        ['distill', '--dataset', 'digits', '--method', 'magic', '--ipc', '1', *CPU],
        "method='magic' is not valid",
    ),
    C(
        'bench-method',
        ['bench', 'distillation', '--datasets', 'digits', '--methods', 'dm', 'magic', *CPU],
        "method='magic' is not valid",
    ),
    C('prune-rule', [*PR, '--rule', 'best'], "rule='best' is not valid"),
    C('eval-recipe', [*EV, '--coreset', '{coreset}', '--recipe', 'fast'], "--recipe"),
    C('eval-arch', [*EV, '--coreset', '{coreset}', '--arch', 'ConvNet9'], "arch='ConvNet9' is not valid"),
    C('eval-report', [*EV, '--coreset', '{coreset}', '--report', 'median'], "--report"),
    C('eval-labels', [*EV, '--synset', '{synset}', '--labels', 'medium'], "--labels"),
    C('experts-arch', [*EX, '--arch', 'ConvNet9', '--out', '{tmp}/b'], "arch='ConvNet9' is not valid"),
    C('experts-arch-bn', [*EX, '--arch', 'ConvNetBN', '--out', '{tmp}/b'], "has BatchNorm layers"),
    C('experts-step', [*EX, '--step', 'bogus', '--out', '{tmp}/b'], ["step='bogus' is not valid", "'gsam'"]),
    C('experts-dtype', [*EX, '--dtype', 'float64', '--out', '{tmp}/b'], "--dtype"),
    C('experts-profile', [*EX, '--profile', 'gpu', '--out', '{tmp}/b'], "--profile"),
    C('distill-profile', [*DM, '--profile', 'gpu'], "--profile"),
    C('bench-what', ['bench', 'everything'], "bench='everything' is not valid"),
    C('distill-set-arch', [*DM, '--set', 'arch=ConvNet9'], "arch='ConvNet9' is not valid"),
    C('distill-set-init', [*DM, '--set', 'init=magic'], "init='magic' is not valid"),
    C('distill-set-eval-recipe', [*DM, '--set', 'eval_recipe=slow'], "eval_recipe='slow' is not valid"),
    C('distill-set-memory', [*MTT, '--set', 'memory=cloud'], "memory='cloud' is not valid"),
    C('distill-set-lr-guard', [*MTT, '--set', 'lr_guard=maybe'], "lr_guard='maybe' is not valid"),
    C(
        'distill-set-label-mode',
        [*SRE, '--teacher', '{teacher}', '--set', 'label_mode=fuzzy'],
        "label_mode='fuzzy' is not valid",
    ),
    C('distill-set-teacher-arch', [*SRE, '--set', 'teacher_arch=ConvNet9'], "teacher_arch='ConvNet9' is not valid"),
    C('prune-set-never-learned', [*FG, '--set', 'never_learned=sometimes'], "never_learned='sometimes' is not valid"),
    C('prune-set-mode', [*EL, '--set', 'mode=psychic'], "mode='psychic' is not valid"),
    # --- devices ------------------------------------------------------------------------------------------------
    *[
        C(f'{cmd}-device-{dev or "empty"}', argv + ['--device', dev], f"device={dev!r}")
        for cmd, argv in [
            ('eval', ['eval', '--dataset', 'digits', '--coreset', '{coreset}']),
            ('prune', ['prune', '--dataset', 'digits', '--method', 'random', '--keep', '0.1', '--out', '{tmp}/c']),
            ('distill', ['distill', '--dataset', 'digits', '--method', 'dm', '--ipc', '1', '--out', '{tmp}/s']),
            ('experts', ['experts', '--dataset', 'digits', '--out', '{tmp}/b']),
            ('demo', ['demo', '--out', '{tmp}/d']),
            ('bench', ['bench', 'baselines', '--datasets', 'digits', '--out', '{tmp}/o']),
        ]
        for dev in ['gpu', 'cuda:99', 'tpu', 'cpu:x', '']
    ],
    # --- bad numbers in options ----------------------------------------------------------------------------------
    *[
        C(
            f'prune-keep-{k or "empty"}',
            ['prune', '--dataset', 'digits', '--method', 'random', '--keep', k, *CPU],
            '--keep',
        )
        for k in ['0', '0.0', '-1', '-0.5', '1.5', 'half', 'nan', 'inf', '1e400', '']
    ],
    C(
        'prune-keep-5000',
        ['prune', '--dataset', 'digits', '--method', 'random', '--keep', '5000', *CPU],
        'keep=5000 is out of range',
    ),
    *[
        C(f'distill-ipc-{v}', ['distill', '--dataset', 'digits', '--method', 'dm', '--ipc', v, *CPU], m)
        for v, m in [
            ('0', '--ipc'),
            ('-1', '--ipc'),
            ('500', 'ipc=500 is out of range'),
            ('1.5', '--ipc'),
            ('abc', '--ipc'),
        ]
    ],
    *[
        C(f'distill-iterations-{v}', [*DM[:-4], '--iterations', v, *CPU], '--iterations')
        for v in ['0', '-3', 'abc', '2.5']
    ],
    *[
        C(f'eval-{o}-{v}', [*EV, '--coreset', '{coreset}', f'--{o}', v], f'--{o}')
        for o, vs in [('epochs', ['0', '-1', 'abc']), ('width', ['0', '-8', '8.5']), ('n-models', ['0', '-1'])]
        for v in vs
    ],
    *[
        C(f'experts-{o}-{v}', [*EX[:-4], f'--{o}', v, '--out', '{tmp}/b', *CPU], f'--{o}')
        for o, vs in [
            ('n', ['0', '-1']),
            ('epochs', ['0']),
            ('lr', ['0', '-0.1', 'nan', 'inf', 'abc']),
            ('width', ['0']),
        ]
        for v in vs
    ],
    *[
        C(f'demo-{o}-{v}', ['demo', '--out', '{tmp}/d', f'--{o}', v, *CPU], f'--{o}')
        for o, v in [('width', '0'), ('n-models', '0'), ('full-epochs', '0'), ('subset-epochs', '0'), ('width', 'wide')]
    ],
    *[
        C(f'bench-{o}-{v}', ['bench', 'baselines', '--datasets', 'digits', f'--{o}', v, *CPU], f'--{o}')
        for o, v in [('n-seeds', '0'), ('width', '0'), ('ipcs', '0'), ('subset-epochs', '0'), ('full-epochs', '0')]
    ],
    *[
        C(f'bench-pruning-{o}-{v}', ['bench', 'pruning', '--datasets', 'digits', f'--{o}', v, *CPU], f'--{o}')
        for o, v in [('keeps', '0'), ('keeps', '1.5'), ('iterations', '0')]
    ],
    C(
        'bench-distillation-eval-epochs',
        ['bench', 'distillation', '--datasets', 'digits', '--eval-epochs', '0', *CPU],
        '--eval-epochs',
    ),
    *[
        C(f'{c}-seed-{v}', argv + ['--seed', v], '--seed')
        for c, argv in [('prune', PR), ('distill', DM), ('eval', [*EV, '--coreset', '{coreset}'])]
        for v in ['-1', 'abc']
    ],
    # --- --set: keys, types, ranges ------------------------------------------------------------------------------
    C('set-unknown', [*DM, '--set', 'lr_imgg=1'], ["lr_imgg", "unknown"]),
    C('set-unknown-2', [*DM, '--set', 'foo=1'], ["foo", "lr_img"]),
    C('set-no-equals', [*DM, '--set', 'lr_img'], "expected KEY=VALUE"),
    C('set-empty-key', [*DM, '--set', '=1'], "expected KEY=VALUE"),
    *[
        C(f'set-not-settable-{k}', [*DM, '--set', f'{k}={v}'], [k, f'--{opt}'])
        for k, v, opt in [
            ('ipc', '5', 'ipc'),
            ('profile', 'paper', 'profile'),
            ('seed', '3', 'seed'),
            ('iterations', '5', 'iterations'),
            ('buffer', 'x', 'buffer'),
            ('teacher', 'x', 'teacher'),
        ]
    ],
    *[
        C(f'set-type-{k}-{v}', [*DM, '--set', f'{k}={v}'], [f'{k}=', what])
        for k, v, what in [
            ('lr_img', 'abc', 'number'),
            ('width', '8.5', 'integer'),
            ('width', 'wide', 'integer'),
            ('dsa', 'maybe', 'true or false'),
            ('dsa', '1', 'true or false'),
            ('eval_every', 'abc', 'integer'),
            ('depth', 'x', 'integer'),
            ('batch_real', '1.5', 'integer'),
            ('momentum_img', 'abc', 'number'),
            ('per_class_step', 'null', 'true or false'),
            ('lr_img', '[1, 2]', 'number'),
            ('lr_img', 'true', 'number'),
        ]
    ],
    C('set-type-init-json', [*DM, '--set', 'init={"a": 1}'], 'init=\'{"a": 1}\' is not valid'),
    *[
        C(f'set-range-{k}-{v}', [*DM, '--set', f'{k}={v}'], [f'{k}=', 'out of range'])
        for k, v in [
            ('lr_img', '-1'),
            ('lr_img', '0'),
            ('lr_img', 'NaN'),
            ('lr_img', 'Infinity'),
            ('width', '0'),
            ('width', '-8'),
            ('momentum_img', '1.5'),
            ('momentum_img', '-0.1'),
            ('eval_every', '-1'),
            ('ckpt_every', '0'),
            ('batch_real', '0'),
            ('eval_models', '0'),
            ('eval_epochs', '0'),
            ('depth', '0'),
        ]
    ],
    *[
        C(f'set-mtt-{k}-{v}', [*MTT, '--set', f'{k}={v}'], f'{k}=')
        for k, v in [
            ('syn_steps', '0'),
            ('max_start_epoch', '0'),
            ('expert_epochs', '0'),
            ('lr_lr', '-1'),
            ('batch_syn', '0'),
            ('lr_teacher', '0'),
            ('momentum', '1'),
            ('zca', 'yes'),
        ]
    ],
    *[
        C(f'set-sre2l-{k}-{v}', [*SRE, '--teacher', '{teacher}', '--set', f'{k}={v}'], f'{k}=')
        for k, v in [('temperature', '0'), ('jitter', '-1'), ('r_bn', '-1'), ('batch', '0'), ('mixup', '-0.5')]
    ],
    C(
        'set-sre2l-teacher-epochs',
        [*SRE, '--set', 'teacher_epochs=0', '--train-teacher', '--out', '{tmp}/s'],
        'teacher_epochs=',
    ),
    *[
        C(
            f'prune-set-{m}-{kv}',
            ['prune', '--dataset', 'digits', '--method', m, '--keep', '0.1', '--set', kv, *CPU],
            msg,
        )
        for m, kv, msg in [
            ('random', 'foo=1', ["foo", "random"]),
            ('el2n', 'foo=1', ["foo", "el2n"]),
            ('el2n', 'epochs=abc', ['epochs=', 'integer']),
            ('el2n', 'epochs=0', ['epochs=', 'out of range']),
            ('forgetting', 'runs=0', ['runs=', 'out of range']),
            ('el2n', 'width=8.5', ['width=', 'integer']),
            ('el2n', 'lr=-1', ['lr=', 'out of range']),
            ('el2n', 'runs', 'KEY=VALUE'),
            ('el2n', 'seed=3', ['seed', '--seed']),
            ('tdds', 'beta=abc', ['beta=', 'number']),
        ]
    ],
    *[
        C(f'experts-set-{s}-{kv}', [*EX, '--step', s, '--set', kv, '--out', '{tmp}/b'], msg)
        for s, kv, msg in [
            ('sgd', 'rho=0.1', ["'sgd'", 'rho']),
            ('gsam', 'bogus=1', ['bogus', 'rho']),
            ('gsam', 'rho=abc', ['rho=', 'number']),
            ('gsam', 'rho=-1', ['rho=', 'out of range']),
        ]
    ],
    # --- coreset files -----------------------------------------------------------------------------------------
    C('coreset-missing-folder', [*EV, '--coreset', '{tmp}/nothing'], 'does not exist'),
    C('coreset-no-json', [*EV, '--coreset', '{tmp}/c'], 'coreset.json', empty_dir('c')),
    C('coreset-not-json', [*EV, '--coreset', '{tmp}/c'], 'not valid JSON', coreset_json('{"indices": [1, 2')),
    C('coreset-json-list', [*EV, '--coreset', '{tmp}/c'], 'JSON object', coreset_json([1, 2, 3])),
    C('coreset-no-indices', [*EV, '--coreset', '{tmp}/c'], "no 'indices'", coreset_json(dict(dataset='digits'))),
    C(
        'coreset-indices-null',
        [*EV, '--coreset', '{tmp}/c'],
        'indices',
        coreset_json(dict(dataset='digits', indices=None)),
    ),
    C(
        'coreset-indices-string',
        [*EV, '--coreset', '{tmp}/c'],
        'indices',
        coreset_json(dict(dataset='digits', indices='0-10')),
    ),
    C(
        'coreset-indices-strings',
        [*EV, '--coreset', '{tmp}/c'],
        'integers',
        coreset_json(dict(dataset='digits', indices=['1', '2'])),
    ),
    C(
        'coreset-indices-nested',
        [*EV, '--coreset', '{tmp}/c'],
        'indices',
        coreset_json(dict(dataset='digits', indices=[[1, 2], [3, 4]])),
    ),
    C(
        'coreset-duplicates',
        [*EV, '--coreset', '{tmp}/c'],
        'duplicate',
        coreset_json(dict(dataset='digits', indices=[5] * 300)),
    ),
    C(
        'coreset-floats',
        [*EV, '--coreset', '{tmp}/c'],
        'integers',
        coreset_json(dict(dataset='digits', indices=[1.5, 2.7])),
    ),
    C(
        'coreset-integral-floats',
        [*EV, '--coreset', '{tmp}/c'],
        'integers',
        coreset_json(dict(dataset='digits', indices=[1.0, 2.0])),
    ),
    C(
        'coreset-booleans',
        [*EV, '--coreset', '{tmp}/c'],
        'boolean',
        coreset_json(dict(dataset='digits', indices=[True, False, True])),
    ),
    C(
        'coreset-negative',
        [*EV, '--coreset', '{tmp}/c'],
        'must lie in [0, 1438)',
        coreset_json(dict(dataset='digits', indices=[-1, 2])),
    ),
    C(
        'coreset-out-of-range',
        [*EV, '--coreset', '{tmp}/c'],
        'must lie in [0, 1438)',
        coreset_json(dict(dataset='digits', indices=[0, 99999])),
    ),
    C('coreset-empty', [*EV, '--coreset', '{tmp}/c'], 'empty', coreset_json(dict(dataset='digits', indices=[]))),
    C(
        'coreset-other-dataset',
        [*EV, '--coreset', '{tmp}/c'],
        "selected on 'mnist5k'",
        coreset_json(dict(dataset='mnist5k', indices=[0, 1])),
    ),
    C(
        'coreset-n-total',
        [*EV, '--coreset', '{tmp}/c'],
        'n_total',
        coreset_json(dict(dataset='digits', n_total=500, indices=[0, 1])),
    ),
    C('coreset-is-file', [*EV, '--coreset', '{tmp}/c'], 'not a folder', a_file('c')),
    C('coreset-metrics-exist', [*EV, '--coreset', '{tmp}/c'], ['metrics.json', '--force'], metrics_there),
    C('coreset-and-synset', [*EV, '--coreset', '{coreset}', '--synset', '{synset}'], 'not allowed with'),
    C('eval-neither', EV, 'one of the arguments --coreset --synset is required'),
    C('eval-no-dataset', ['eval', '--coreset', '{coreset}'], '--dataset'),
    # --- synthetic-set files ----------------------------------------------------------------------------------------
    C('synset-missing-folder', [*EV, '--synset', '{tmp}/nothing'], 'does not exist'),
    C('synset-empty-folder', [*EV, '--synset', '{tmp}/s'], 'synset.safetensors', empty_dir('s')),
    C(
        'synset-no-json',
        [*EV, '--synset', '{tmp}/s'],
        'synset.json',
        synset_edit(lambda s: (s / 'synset.json').unlink()),
    ),
    C(
        'synset-no-tensors',
        [*EV, '--synset', '{tmp}/s'],
        'synset.safetensors',
        synset_edit(lambda s: (s / 'synset.safetensors').unlink()),
    ),
    C(
        'synset-json-corrupt',
        [*EV, '--synset', '{tmp}/s'],
        'not valid JSON',
        synset_edit(lambda s: (s / 'synset.json').write_text('{"method": "dm", "ipc"')),
    ),
    C(
        'synset-json-list',
        [*EV, '--synset', '{tmp}/s'],
        'JSON object',
        synset_edit(lambda s: (s / 'synset.json').write_text('[1, 2]')),
    ),
    C(
        'synset-tensors-garbage',
        [*EV, '--synset', '{tmp}/s'],
        'corrupted or truncated',
        synset_edit(lambda s: (s / 'synset.safetensors').write_bytes(b'garbage')),
    ),
    C(
        'synset-tensors-truncated',
        [*EV, '--synset', '{tmp}/s'],
        'synset.safetensors',
        synset_edit(lambda s: (s / 'synset.safetensors').write_bytes((s / 'synset.safetensors').read_bytes()[:-40])),
    ),
    C(
        'synset-tensors-replaced',
        [*EV, '--synset', '{tmp}/s'],
        'synset.json',
        synset_edit(lambda s: _set_tensors(s, images=torch.zeros(10, 1, 8, 8))),
    ),
    C(
        'synset-shape-mismatch',
        [*EV, '--synset', '{tmp}/s'],
        'images have shape',
        synset_edit(lambda s: _resave(s, lambda x: setattr(x, 'images', torch.zeros(10, 1, 9, 9)))),
    ),
    C(
        'synset-classes-mismatch',
        [*EV, '--synset', '{tmp}/s'],
        'classes',
        synset_edit(lambda s: _resave(s, lambda x: x.meta.update(classes=[f'animal{i}' for i in range(10)]))),
    ),
    C(
        'synset-n-classes-mismatch',
        [*EV, '--synset', '{tmp}/s'],
        'classes',
        synset_edit(lambda s: _resave(s, lambda x: x.meta.update(n_classes=12))),
    ),
    C(
        'synset-labels-beyond',
        [*EV, '--synset', '{tmp}/s'],
        'labels go up to',
        synset_edit(
            lambda s: _resave(s, lambda x: (x.meta.pop('n_classes'), setattr(x, 'labels', torch.arange(10) + 5)))
        ),
    ),
    C(
        'synset-soft-labels-classes',
        [*EV, '--synset', '{tmp}/s'],
        'soft_labels',
        synset_edit(lambda s: _resave(s, lambda x: setattr(x, 'soft_labels', torch.zeros(10, 7)))),
    ),
    C(
        'synset-nan-images',
        [*EV, '--synset', '{tmp}/s'],
        'NaN',
        synset_edit(lambda s: _resave(s, lambda x: x.images.fill_(float('nan')))),
    ),
    C(
        'synset-float-labels',
        [*EV, '--synset', '{tmp}/s'],
        'does not match',
        synset_edit(lambda s: _set_tensors(s, labels=torch.zeros(10))),
    ),
    C(
        'synset-metrics-exist',
        [*EV, '--synset', '{tmp}/s'],
        ['metrics.json', '--force'],
        synset_edit(lambda s: (s / 'metrics.json').write_text('{}')),
    ),
    C('synset-is-coreset', [*EV, '--synset', '{coreset}'], 'synset.safetensors'),
    # --- expert buffers ------------------------------------------------------------------------------------------
    C('buffer-missing', [*MTTB], 'does not exist'),
    C('buffer-no-json', [*MTTB], 'buffer.json', buffer_edit(lambda b: (b / 'buffer.json').unlink())),
    C(
        'buffer-json-corrupt',
        [*MTTB],
        'not valid JSON',
        buffer_edit(lambda b: (b / 'buffer.json').write_text('{"dataset": "dig')),
    ),
    C(
        'buffer-json-fields',
        [*MTTB],
        'buffer.json',
        buffer_edit(lambda b: (b / 'buffer.json').write_text('{"dataset": "digits"}')),
    ),
    C(
        'buffer-no-experts',
        [*MTTB],
        'no finished expert',
        buffer_edit(lambda b: _json_edit(b / 'buffer.json', lambda d: d.update(experts={}))),
    ),
    C(
        'buffer-expert-truncated',
        [*MTTB],
        'expert_0000.safetensors',
        buffer_edit(
            lambda b: (b / 'expert_0000.safetensors').write_bytes((b / 'expert_0000.safetensors').read_bytes()[:200])
        ),
    ),
    C(
        'buffer-expert-garbage',
        [*MTTB],
        'expert_0000.safetensors',
        buffer_edit(lambda b: (b / 'expert_0000.safetensors').write_bytes(b'xx')),
    ),
    C(
        'buffer-n-params',
        [*MTTB],
        'parameters',
        buffer_edit(lambda b: _json_edit(b / 'buffer.json', lambda d: d.update(n_params=7))),
    ),
    C(
        'buffer-other-dataset',
        [*MTTB],
        "trained on dataset='mnist5k'",
        buffer_edit(lambda b: _json_edit(b / 'buffer.json', lambda d: d.update(dataset='mnist5k'))),
    ),
    C('buffer-arch-given', [*MTT, '--set', 'width=16'], 'but the student is ConvNet'),
    C('buffer-too-short', [*MTT, '--set', 'max_start_epoch=9'], 'recorded epochs'),
    C('buffer-for-dm', [*DM, '--buffer', '{buffer}'], ['--buffer', "'dm'"]),
    C('buffer-is-file', [*MTTB], 'buffer', a_file('b')),
    C(
        'experts-other-settings',
        [*EX[:-4], '--epochs', '3', '--width', '16', '--n', '1', '--out', '{tmp}/b', *CPU],
        ['other settings', '--force'],
        other_buffer,
    ),
    C('experts-out-is-file', [*EX, '--out', '{tmp}/b'], 'not a folder', a_file('b')),
    C('experts-no-out', EX, '--out'),
    # --- teachers ------------------------------------------------------------------------------------------------
    C('teacher-missing', [*SRE, '--teacher', '{tmp}/none.safetensors'], 'does not exist'),
    C('teacher-garbage', [*SRE, '--teacher', '{tmp}/t.safetensors'], 'not a teacher file', teacher_file(b'\x00' * 64)),
    C('teacher-no-bn', [*SRE, '--teacher', '{nobn}'], 'BatchNorm'),
    C(
        'teacher-other-data',
        [*SRE, '--teacher', '{tmp}/t.safetensors'],
        "trained on 'mnist5k', not --dataset 'digits'",
        teacher_other_data,
    ),
    C(
        'teacher-arch-given',
        [*SRE, '--teacher', '{teacher}', '--set', 'teacher_arch=ResNet18BN'],
        ['teacher_arch', 'ConvNetBN'],
    ),
    C('teacher-width-given', [*SRE, '--teacher', '{teacher}', '--set', 'teacher_width=16'], ['teacher_width', '8']),
    C('teacher-and-train', [*SRE, '--teacher', '{teacher}', '--train-teacher'], 'not allowed with'),
    C('teacher-for-dm', [*DM, '--teacher', '{teacher}'], ['--teacher', "'dm'"]),
    C('train-teacher-for-dm', [*DM, '--train-teacher', '--out', '{tmp}/z'], 'uses no teacher'),
    # --- outputs and resume ------------------------------------------------------------------------------------------
    C('prune-out-exists', [*PR, '--out', '{tmp}/coreset'], ['already holds a coreset', '--force'], copy('coreset')),
    C('prune-out-is-file', [*PR, '--out', '{tmp}/c'], 'not a folder', a_file('c')),
    C(
        'distill-out-exists',
        [*DM, '--out', '{tmp}/synset'],
        ['already holds a synthetic set', '--resume', '--force'],
        copy('synset'),
    ),
    C('distill-out-is-file', [*DM, '--out', '{tmp}/s'], 'not a folder', a_file('s')),
    C('distill-resume-no-ckpt', [*DM, '--out', '{tmp}/s', '--resume'], ['no checkpoint', '--force'], ckpt_gone),
    C(
        'distill-resume-fewer',
        [*DM[:-4], '--iterations', '1', *CPU, '--out', '{tmp}/synset', '--resume'],
        ['--iterations 1', '2 iterations'],
        copy('synset'),
    ),
    C(
        'distill-resume-other-config',
        [*DM, '--out', '{tmp}/synset', '--resume', '--set', 'lr_img=0.5'],
        'another configuration',
        copy('synset'),
    ),
    C(
        'distill-resume-other-method',
        [
            'distill',
            '--dataset',
            'digits',
            '--method',
            'dc',
            '--ipc',
            '1',
            '--iterations',
            '3',
            *CPU,
            '--out',
            '{tmp}/synset',
            '--resume',
        ],
        'dm',
        copy('synset'),
    ),
    C(
        'distill-resume-other-seed',
        [*DM, '--out', '{tmp}/synset', '--resume', '--seed', '7'],
        'another configuration',
        copy('synset'),
    ),
    C('distill-unfinished-no-resume', [*DM, '--out', '{tmp}/s'], ['unfinished', '--resume'], ckpt_only),
    C(
        'distill-resume-and-force',
        [*DM, '--out', '{tmp}/synset', '--resume', '--force'],
        'not allowed with',
        copy('synset'),
    ),
    C(
        'distill-ckpt-corrupt',
        [*DM[:-4], '--iterations', '3', *CPU, '--out', '{tmp}/synset', '--resume'],
        'corrupted or truncated',
        lambda tmp, fx: (copy('synset')(tmp, fx), (tmp / 'synset' / 'ckpt.safetensors').write_bytes(b'\x00' * 100)),
    ),
    C('distill-no-ipc', ['distill', '--dataset', 'digits', '--method', 'dm', *CPU], '--ipc'),
    C('prune-no-keep', ['prune', '--dataset', 'digits', '--method', 'random', *CPU], '--keep'),
    C('unknown-option', [*DM, '--iters', '3'], 'unrecognized arguments'),
    C('no-command', [], 'command'),
]


@pytest.mark.parametrize('argv,expect,setup', CASES)
def test_cli_bad_input(argv, expect, setup, fx, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if setup is not None:
        setup(tmp_path, fx)
    before, fixtures = snapshot(tmp_path), snapshot(fx['root'])
    argv = [fill(a, tmp_path, fx) for a in argv]
    capsys.readouterr()

    def stuck(*_):
        raise TimeoutError('this case ran for 60 s: it reached training instead of failing first')

    old = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(60)
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code  # only argparse's --help/--version may exit this way
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2, (rc, err)
    assert len(lines) == 1, err
    assert lines[0].startswith('dc') and ': error: ' in lines[0] and 'internal error' not in lines[0], lines[0]
    for s in expect:
        assert s in lines[0], (s, lines[0])
    assert snapshot(tmp_path) == before, 'files left behind or changed'
    assert snapshot(fx['root']) == fixtures, 'a fixture was changed'


def test_table_is_large():
    assert len(CASES) >= 150, len(CASES)


# ----------------------------------------------------------------------------------------------------------------
# The Python API: clear errors naming the argument.


def _digits():
    from dataset_condensation.data import load_dataset

    return load_dataset('digits'), load_dataset('digits', 'test')


def api_cases():
    from dataset_condensation.distill.core import distill, DistillConfig
    from dataset_condensation.distill.synset import SyntheticSet
    from dataset_condensation.pruning.core import prune
    from dataset_condensation.pruning.select import Coreset
    from dataset_condensation.evaluate import evaluate_subset
    from dataset_condensation.core import get_device

    tr, te = _digits()

    def coreset_load(d):
        def f(tmp):
            (tmp / 'c').mkdir()
            (tmp / 'c' / 'coreset.json').write_text(json.dumps(d))
            return Coreset.load(tmp / 'c')

        return f

    ok = dict(method='random', n_total=1438, dataset='digits')
    return [
        (
            'distill-lr-img-str',
            lambda tmp: distill(tr, 'dm', 1, lr_img='abc', iterations=1),
            ValueError,
            "lr_img='abc'",
        ),
        ('distill-width-float', lambda tmp: distill(tr, 'dm', 1, width=8.5, iterations=1), ValueError, 'width=8.5'),
        ('distill-width-zero', lambda tmp: distill(tr, 'dm', 1, width=0, iterations=1), ValueError, 'width=0'),
        ('distill-dsa-str', lambda tmp: distill(tr, 'dm', 1, dsa='maybe', iterations=1), ValueError, "dsa='maybe'"),
        ('distill-iterations-zero', lambda tmp: distill(tr, 'dm', 1, iterations=0), ValueError, 'iterations=0'),
        ('distill-unknown', lambda tmp: distill(tr, 'dm', 1, foo=1), ValueError, 'foo'),
        ('distill-data-none', lambda tmp: distill(None, 'dm', 1), ValueError, 'data'),
        ('distill-data-tensor', lambda tmp: distill(tr.x, 'dm', 1), ValueError, 'data'),
        ('distill-ipc-str', lambda tmp: distill(tr, 'dm', '1'), ValueError, 'ipc'),
        ('distill-method', lambda tmp: distill(tr, 'magic', 1), ValueError, "method='magic'"),
        ('distill-profile', lambda tmp: distill(tr, 'dm', 1, profile='gpu'), ValueError, "profile='gpu'"),
        (
            'config-replace-type',
            lambda tmp: DistillConfig().replace(iterations='many').check(),
            ValueError,
            "iterations='many'",
        ),
        ('prune-foo', lambda tmp: prune(tr, 'random', 0.1, foo=1), ValueError, 'foo'),
        ('prune-el2n-foo', lambda tmp: prune(tr, 'el2n', 0.1, foo=1), ValueError, 'foo'),
        ('prune-el2n-epochs-str', lambda tmp: prune(tr, 'el2n', 0.1, epochs='abc'), ValueError, "epochs='abc'"),
        ('prune-data-none', lambda tmp: prune(None, 'random', 0.1), ValueError, 'data'),
        ('prune-data-tensor', lambda tmp: prune(tr.x, 'random', 0.1), ValueError, 'data'),
        ('prune-keep-str', lambda tmp: prune(tr, 'random', '0.1'), ValueError, 'keep'),
        ('coreset-floats', lambda tmp: Coreset([1.5, 2.5], None, 'x', n_total=10), ValueError, 'integers'),
        (
            'coreset-bools',
            lambda tmp: Coreset(torch.tensor([True, False]), None, 'x', n_total=2),
            ValueError,
            'boolean',
        ),
        ('coreset-dups', lambda tmp: Coreset([1, 1], None, 'x', n_total=10), ValueError, 'duplicate'),
        ('coreset-load-null', coreset_load(dict(ok, indices=None)), ValueError, 'indices'),
        ('coreset-load-floats', coreset_load(dict(ok, indices=[0.5])), ValueError, 'integers'),
        ('coreset-load-dups', coreset_load(dict(ok, indices=[3, 3])), ValueError, 'duplicate'),
        ('coreset-load-range', coreset_load(dict(ok, indices=[5000])), ValueError, 'must lie in [0, 1438)'),
        ('coreset-load-n-total', coreset_load(dict(ok, n_total='many', indices=[1])), ValueError, 'n_total'),
        ('coreset-load-missing', lambda tmp: Coreset.load(tmp / 'nothing'), FileNotFoundError, 'does not exist'),
        ('eval-subset-dups', lambda tmp: evaluate_subset(tr, [5] * 30, te, epochs=1), ValueError, 'duplicate'),
        (
            'eval-subset-floats',
            lambda tmp: evaluate_subset(tr, torch.tensor([1.5, 2.5]), te, epochs=1),
            ValueError,
            'integers',
        ),
        (
            'eval-subset-mask-length',
            lambda tmp: evaluate_subset(tr, torch.ones(10, dtype=torch.bool), te, epochs=1),
            ValueError,
            'mask',
        ),
        ('eval-subset-empty', lambda tmp: evaluate_subset(tr, [], te, epochs=1), ValueError, 'empty'),
        (
            'eval-subset-range',
            lambda tmp: evaluate_subset(tr, [0, 5000], te, epochs=1),
            ValueError,
            'must lie in [0, 1438)',
        ),
        (
            'eval-subset-negative',
            lambda tmp: evaluate_subset(tr, [-1], te, epochs=1),
            ValueError,
            'must lie in [0, 1438)',
        ),
        ('eval-subset-2d', lambda tmp: evaluate_subset(tr, [[1, 2]], te, epochs=1), ValueError, 'indices'),
        ('eval-subset-train-none', lambda tmp: evaluate_subset(None, [1, 2], te, epochs=1), ValueError, 'train'),
        ('synset-load-missing', lambda tmp: SyntheticSet.load(tmp / 'nothing'), FileNotFoundError, 'does not exist'),
        ('device-gpu', lambda tmp: get_device('gpu'), ValueError, "device='gpu'"),
        ('device-cuda-99', lambda tmp: get_device('cuda:99'), ValueError, "device='cuda:99'"),
    ]


API_IDS = [
    'distill-lr-img-str',
    'distill-width-float',
    'distill-width-zero',
    'distill-dsa-str',
    'distill-iterations-zero',
    'distill-unknown',
    'distill-data-none',
    'distill-data-tensor',
    'distill-ipc-str',
    'distill-method',
    'distill-profile',
    'config-replace-type',
    'prune-foo',
    'prune-el2n-foo',
    'prune-el2n-epochs-str',
    'prune-data-none',
    'prune-data-tensor',
    'prune-keep-str',
    'coreset-floats',
    'coreset-bools',
    'coreset-dups',
    'coreset-load-null',
    'coreset-load-floats',
    'coreset-load-dups',
    'coreset-load-range',
    'coreset-load-n-total',
    'coreset-load-missing',
    'eval-subset-dups',
    'eval-subset-floats',
    'eval-subset-mask-length',
    'eval-subset-empty',
    'eval-subset-range',
    'eval-subset-negative',
    'eval-subset-2d',
    'eval-subset-train-none',
    'synset-load-missing',
    'device-gpu',
    'device-cuda-99',
]


@pytest.fixture(scope='module')
def api():
    return {c[0]: c[1:] for c in api_cases()}


@pytest.mark.parametrize('name', API_IDS)
def test_api_bad_input(name, api, tmp_path):
    fn, exc, msg = api[name]
    with pytest.raises(exc) as e:
        fn(tmp_path)
    assert msg in str(e.value), str(e.value)
    assert list(tmp_path.iterdir()) == [p for p in tmp_path.iterdir() if p.name == 'c'], 'files left behind'


def test_api_ids_cover_table(api):
    assert sorted(api) == sorted(API_IDS)


def test_boolean_mask_is_converted():
    "evaluate_subset takes a boolean mask over the training set as the subset it marks (not as indices 0/1)."
    from dataset_condensation.evaluate import evaluate_subset

    tr, te = _digits()
    mask = torch.zeros(len(tr), dtype=torch.bool)
    mask[::14] = True
    a = evaluate_subset(tr, mask, te, epochs=1, width=8, n_models=1)
    b = evaluate_subset(tr, torch.arange(0, len(tr), 14), te, epochs=1, width=8, n_models=1)
    assert a.n_train == int(mask.sum()) == b.n_train and a.accs == b.accs
