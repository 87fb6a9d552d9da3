"""Resume never loses work, outputs are whole or absent, and the commands' defaults agree: `dc` in-process on `digits`.
One test per refusal of `--resume` / `--force` (the folder is unchanged afterwards), Ctrl-C, a crash between the two
files of a set, failed commands that leave no folder, the thread count in every output, and issue 12's two commands."""

import hashlib
import json
import os
import sys
import types
from pathlib import Path
import pytest
import torch

from dataset_condensation.cli import main
import dataset_condensation.distill.loop as dloop  # distill_loop draws each iteration's generator from here
import dataset_condensation.distill.synset as dsynset  # SyntheticSet.save writes its manifest with this save_json

os.environ.setdefault('DC_PROGRESS', '0')
DM = ['distill', '--dataset', 'digits', '--method', 'dm', '--ipc', '1', '--device', 'cpu', '--set', 'ckpt_every=2']


def files(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob('*'))
        if p.is_file()
    }


def run(argv, capsys):
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    o = capsys.readouterr()
    return rc, o.out, o.err


def eval_coreset(folder) -> list:
    "`dc eval` of a coreset folder on digits, one tiny model."
    return [
        *'eval --dataset digits --coreset'.split(),
        folder,
        *'--epochs 1 --width 8 --n-models 1 --device cpu'.split(),
    ]


def refused(argv, capsys, *msgs):
    rc, _, err = run(argv, capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    for m in msgs:
        assert m in err, (m, err)


@pytest.fixture
def finished(tmp_path, capsys):
    "A finished 4-iteration dm run in tmp/s, with a metrics.json beside it."
    assert run([*DM, '--iterations', '4', '--out', tmp_path / 's'], capsys)[0] == 0
    assert (
        run(
            [
                'eval',
                '--dataset',
                'digits',
                '--synset',
                tmp_path / 's',
                '--epochs',
                '1',
                '--width',
                '8',
                '--n-models',
                '1',
                '--device',
                'cpu',
            ],
            capsys,
        )[0]
        == 0
    )
    return tmp_path / 's'


def interrupt_at(n, monkeypatch):
    "Make iteration n of every distillation raise KeyboardInterrupt (as Ctrl-C would)."
    real = dloop.iteration_generator

    def gen(seed, it, device=None, stream=0):
        if it == n:
            raise KeyboardInterrupt
        return real(seed, it, device, stream)

    monkeypatch.setattr(dloop, 'iteration_generator', gen)
    return lambda: monkeypatch.setattr(dloop, 'iteration_generator', real)


# --- the refusals of --resume and of a finished output, each leaving the folder as it was -----------------------------


def test_resume_without_checkpoint_refuses(finished, capsys):
    (finished / 'ckpt.safetensors').unlink()
    before = files(finished)
    refused(
        [*DM, '--iterations', '4', '--out', finished, '--resume'],
        capsys,
        'holds a finished set but no checkpoint',
        '--force',
    )
    assert files(finished) == before


def test_resume_with_fewer_iterations_refuses(finished, capsys):
    before = files(finished)
    refused(
        [*DM, '--iterations', '2', '--out', finished, '--resume'],
        capsys,
        '--iterations 2 is fewer than the 4 iterations',
    )
    assert files(finished) == before


def test_resume_with_other_settings_refuses(finished, capsys):
    before = files(finished)
    refused(
        [*DM, '--iterations', '6', '--out', finished, '--resume', '--set', 'lr_img=0.5'],
        capsys,
        'another configuration',
        'lr_img',
    )
    refused(
        [*DM[:5], '--ipc', '2', *DM[7:], '--iterations', '6', '--out', finished, '--resume'], capsys, 'ipc=1, not 2'
    )
    assert files(finished) == before


def test_finished_set_needs_resume_or_force(finished, capsys):
    before = files(finished)
    refused(
        [*DM, '--iterations', '4', '--out', finished], capsys, 'already holds a synthetic set', '--resume', '--force'
    )
    assert files(finished) == before
    rc, out, _ = run([*DM, '--iterations', '3', '--out', finished, '--force', '--seed', '5'], capsys)
    assert rc == 0 and 'removed the metrics.json' not in out  # --force removed it before the run
    j = json.loads((finished / 'synset.json').read_text())
    assert (j['iterations'], j['seed']) == (3, 5) and not (finished / 'metrics.json').exists()


def test_extend_removes_stale_metrics(finished, capsys):
    rc, out, _ = run([*DM, '--iterations', '6', '--out', finished, '--resume'], capsys)
    assert rc == 0 and 'removed the metrics.json of the set it replaced' in out
    assert (
        json.loads((finished / 'synset.json').read_text())['iterations'] == 6
        and not (finished / 'metrics.json').exists()
    )


def test_resume_on_a_folder_without_a_run_starts_one(tmp_path, capsys):
    assert run([*DM, '--iterations', '2', '--out', tmp_path / 'new', '--resume'], capsys)[0] == 0
    assert json.loads((tmp_path / 'new' / 'synset.json').read_text())['iterations'] == 2


def test_unfinished_run_needs_resume(tmp_path, capsys, monkeypatch):
    restore = interrupt_at(3, monkeypatch)
    assert run([*DM, '--iterations', '5', '--out', tmp_path / 's'], capsys)[0] == 130
    restore()
    before = files(tmp_path / 's')
    refused(
        [*DM, '--iterations', '5', '--out', tmp_path / 's'],
        capsys,
        'holds an unfinished run (a checkpoint at iteration 2)',
        '--resume',
    )
    assert files(tmp_path / 's') == before


def test_other_outputs_need_force(tmp_path, capsys):
    pr = [
        'prune',
        '--dataset',
        'digits',
        '--method',
        'random',
        '--keep',
        '0.1',
        '--out',
        tmp_path / 'c',
        '--device',
        'cpu',
    ]
    assert run(pr, capsys)[0] == 0
    before = files(tmp_path / 'c')
    refused(pr, capsys, 'already holds a coreset', '--force')
    assert files(tmp_path / 'c') == before
    assert run([*pr, '--force', '--seed', '3'], capsys)[0] == 0 and files(tmp_path / 'c') != before
    ev = eval_coreset(tmp_path / 'c')
    assert run(ev, capsys)[0] == 0
    before = files(tmp_path / 'c')
    refused(ev, capsys, 'metrics.json', '--force')
    assert files(tmp_path / 'c') == before
    assert run([*ev, '--force'], capsys)[0] == 0
    ex = [
        'experts',
        '--dataset',
        'digits',
        '--n',
        '1',
        '--epochs',
        '2',
        '--width',
        '8',
        '--out',
        tmp_path / 'b',
        '--device',
        'cpu',
    ]
    assert run(ex, capsys)[0] == 0
    before = files(tmp_path / 'b')
    refused([*ex[:-4], '--width', '16', *ex[-4:]], capsys, 'other settings', '--force')
    assert files(tmp_path / 'b') == before
    assert run([*ex[:-4], '--width', '16', *ex[-4:], '--force'], capsys)[0] == 0
    assert json.loads((tmp_path / 'b' / 'buffer.json').read_text())['arch_options'] == dict(width=16)


# --- Ctrl-C, kills during writes, whole-or-absent sets ----------------------------------------------------------------


def test_ctrl_c_says_resume_and_the_resumed_run_is_exact(tmp_path, capsys, monkeypatch):
    assert run([*DM, '--iterations', '5', '--out', tmp_path / 'ref'], capsys)[0] == 0
    restore = interrupt_at(3, monkeypatch)
    rc, _, err = run([*DM, '--iterations', '5', '--out', tmp_path / 's'], capsys)
    assert (
        rc == 130
        and err.strip() == f"dc distill: interrupted; continue with --resume (the checkpoint is in {tmp_path / 's'})"
    )
    restore()
    (tmp_path / 's' / '.ckpt.safetensors.k1ll3d.tmp').write_bytes(
        b'half a checkpoint'
    )  # a kill during a checkpoint write
    assert run([*DM, '--iterations', '5', '--out', tmp_path / 's', '--resume'], capsys)[0] == 0
    assert not list((tmp_path / 's').glob('.*.tmp'))
    a, b = (dsynset.SyntheticSet.load(tmp_path / x) for x in ('ref', 's'))
    assert torch.equal(a.images, b.images)  # bit for bit


def test_ctrl_c_before_any_checkpoint_leaves_no_folder(tmp_path, capsys, monkeypatch):
    interrupt_at(0, monkeypatch)
    rc, _, err = run([*DM, '--iterations', '5', '--out', tmp_path / 's'], capsys)
    assert rc == 130 and err.strip() == 'dc distill: interrupted' and not (tmp_path / 's').exists()


def test_crash_between_tensors_and_manifest(tmp_path, capsys, monkeypatch):
    real = dsynset.save_json

    def crash(obj, path):
        if Path(path).name == 'synset.json':
            raise KeyboardInterrupt
        return real(obj, path)

    monkeypatch.setattr(dsynset, 'save_json', crash)
    assert run([*DM, '--iterations', '2', '--out', tmp_path / 's'], capsys)[0] == 130
    monkeypatch.setattr(dsynset, 'save_json', real)
    assert (tmp_path / 's' / 'synset.safetensors').exists() and not (tmp_path / 's' / 'synset.json').exists()
    refused(
        ['eval', '--dataset', 'digits', '--synset', tmp_path / 's', '--device', 'cpu'], capsys, 'the set is incomplete'
    )
    assert (
        run([*DM, '--iterations', '2', '--out', tmp_path / 's', '--resume'], capsys)[0] == 0
    )  # its run finishes the set
    assert dsynset.SyntheticSet.load(tmp_path / 's').meta['iterations'] == 2


def test_failed_commands_leave_no_folder(tmp_path, capsys, monkeypatch):
    import dataset_condensation.distill.experts as tm

    def boom(*a, **k):
        raise ValueError('the first expert fails')

    monkeypatch.setattr(tm, 'train_expert', boom)
    refused(
        ['experts', '--dataset', 'digits', '--n', '1', '--epochs', '1', '--out', tmp_path / 'b', '--device', 'cpu'],
        capsys,
        'fails',
    )
    assert not (tmp_path / 'b').exists()  # no buffer.json without experts
    fake = types.ModuleType('dataset_condensation.demo')

    def run_demo(out='demo_out', **kw):
        Path(out).mkdir(parents=True)
        raise ValueError('the demo fails')

    fake.run_demo = run_demo
    monkeypatch.setitem(sys.modules, 'dataset_condensation.demo', fake)
    refused(['demo', '--out', tmp_path / 'd', '--device', 'cpu'], capsys, 'the demo fails')
    assert not (tmp_path / 'd').exists()
    refused([*DM, '--iterations', '2', '--out', tmp_path / 'x', '--set', 'lr_img=1e15'], capsys, 'diverged')
    assert not (tmp_path / 'x').exists()  # stopped at iteration 0: nothing kept


def test_every_output_records_the_thread_count(tmp_path, capsys):
    n = torch.get_num_threads()
    assert (
        run(
            [
                'prune',
                '--dataset',
                'digits',
                '--method',
                'random',
                '--keep',
                '0.1',
                '--out',
                tmp_path / 'c',
                '--device',
                'cpu',
            ],
            capsys,
        )[0]
        == 0
    )
    assert (
        run(
            eval_coreset(tmp_path / 'c'),
            capsys,
        )[0]
        == 0
    )
    assert run([*DM, '--iterations', '1', '--out', tmp_path / 's'], capsys)[0] == 0
    assert (
        run(
            [
                'experts',
                '--dataset',
                'digits',
                '--n',
                '1',
                '--epochs',
                '1',
                '--width',
                '8',
                '--out',
                tmp_path / 'b',
                '--device',
                'cpu',
            ],
            capsys,
        )[0]
        == 0
    )
    for f in ('c/coreset.json', 'c/metrics.json', 's/synset.json', 'b/buffer.json'):
        assert json.loads((tmp_path / f).read_text())['torch_threads'] == n, f


def test_set_eval_every_evaluates_during_the_run(tmp_path, capsys):
    assert (
        run(
            [*DM, '--iterations', '2', '--set', 'eval_every=1', '--set', 'eval_epochs=1', '--out', tmp_path / 's'],
            capsys,
        )[0]
        == 0
    )
    ev = json.loads((tmp_path / 's' / 'synset.json').read_text())['history']['eval']
    assert [e['iteration'] for e in ev] == [1, 2] and all(0 <= e['acc_mean'] <= 1 for e in ev)


def test_gsam_experts_fit_ftd_with_defaults(tmp_path, capsys):
    assert (
        run(
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
                '--step',
                'gsam',
                '--out',
                tmp_path / 'b',
                '--device',
                'cpu',
            ],
            capsys,
        )[0]
        == 0
    )
    assert json.loads((tmp_path / 'b' / 'buffer.json').read_text())['step_options'] == dict(
        rho=0.01, alpha=0.3
    )  # FTD's CPU preset
    rc, _, err = run(
        [
            'distill',
            '--dataset',
            'digits',
            '--method',
            'ftd',
            '--ipc',
            '1',
            '--iterations',
            '2',
            '--set',
            'syn_steps=2',
            '--buffer',
            tmp_path / 'b',
            '--out',
            tmp_path / 's',
            '--device',
            'cpu',
        ],
        capsys,
    )
    assert rc == 0, err


# --- issue 12: the two documented commands work with their defaults ---------------------------------------------------


def test_experts_then_distill_with_defaults(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, _, err = run(['experts', '--dataset', 'digits', '--n', '2', '--epochs', '4', '--out', 'buf'], capsys)
    assert rc == 0, err
    rc, out, err = run(['distill', '--dataset', 'digits', '--method', 'mtt', '--ipc', '1', '--buffer', 'buf'], capsys)
    assert rc == 0, err
    j = json.loads((tmp_path / 'synset_digits_mtt_ipc1_s0' / 'synset.json').read_text())
    assert j['arch'] == 'ConvNet' and j['arch_options'] == dict(width=32) and j['buffer']['n_experts'] == 2
    assert (
        j['config']['max_start_epoch'] == 3 and 'note: max_start_epoch=3' in out
    )  # the preset's 4 does not fit 4 epochs
