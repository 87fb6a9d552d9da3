"""`torchrun` shares the independent work of a command over processes (gloo on CPU), outputs equal to one process.

Every comparison runs the plain command (one process) and `torchrun --nproc-per-node 2` with the same seed on `digits`
and asserts equal tensors. Both run with one OpenMP thread (torchrun's default per worker), so the float reductions
are the same. Also: a killed rank fails the job and leaves only whole files, `--resume` completes from the finished
items, and no `dc` option collides with torchrun's own options (argparse abbreviations)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

ENV = dict(os.environ, OMP_NUM_THREADS='1', DC_PROGRESS='0', PYTHONWARNINGS='ignore')


def dc(args: list, cwd: Path, n: int | None = None, check: bool = True) -> subprocess.CompletedProcess:
    "Run a `dc` command in one process (n None) or under torchrun with n processes."
    head = [sys.executable, '-m', 'dataset_condensation.cli']
    if n is not None:
        head = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc-per-node={n}', '-m',
                'dataset_condensation.cli']  # fmt: skip
    r = subprocess.run(head + args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def shards(folder: Path) -> dict:
    return {p.name: load_file(p)['trajectory'] for p in sorted(folder.glob('expert_*.safetensors'))}


def test_experts_same_for_one_and_two_processes(tmp_path):
    a = ['experts', '--dataset', 'digits', '--n-experts', '4', '--epochs', '2']
    dc(a + ['--out', 'one'], tmp_path)
    dc(a + ['--out', 'two'], tmp_path, n=2)
    one, two = shards(tmp_path / 'one'), shards(tmp_path / 'two')
    assert len(one) == 4 and one.keys() == two.keys()
    assert all(torch.equal(one[k], two[k]) for k in one)
    meta = json.loads((tmp_path / 'two' / 'buffer.json').read_text())
    assert meta['world_size'] == 2 and sorted(meta['experts']) == ['0', '1', '2', '3']


def test_prune_and_eval_same_for_one_and_two_processes(tmp_path):
    a = ['prune', '--dataset', 'digits', '--method', 'el2n', '--keep', '0.5', '--set', 'runs=3', '--set', 'epoch=1']
    dc(a + ['--out', 'p1'], tmp_path)
    dc(a + ['--out', 'p2'], tmp_path, n=2)
    assert np.array_equal(np.load(tmp_path / 'p1' / 'scores.npy'), np.load(tmp_path / 'p2' / 'scores.npy'))
    c1, c2 = (json.loads((tmp_path / p / 'coreset.json').read_text()) for p in ('p1', 'p2'))
    assert c1['indices'] == c2['indices'] and (c1['world_size'], c2['world_size']) == (1, 2)
    assert not (tmp_path / 'p2' / '.items').exists()  # the finished-run cache is removed on success
    e = ['eval', '--dataset', 'digits', '--coreset', 'p1', '--n-models', '3', '--epochs', '4']
    dc(e + ['--out', 'm1'], tmp_path)
    dc(e + ['--out', 'm2'], tmp_path, n=2)
    m1, m2 = (json.loads((tmp_path / m / 'metrics.json').read_text()) for m in ('m1', 'm2'))
    assert len(m1['accs']) == 3 and m1['accs'] == m2['accs'] and len(set(m1['accs'])) > 1


@pytest.mark.parametrize('method', ['dwa', 'infer'])
def test_recovery_same_for_one_and_two_processes(tmp_path, method):
    a = ['distill', '--dataset', 'digits', '--method', method, '--ipc', '3', '--iterations', '4', '--train-teacher']
    a += ['--set', 'teacher_epochs=2'] if method == 'dwa' else ['--set', 'teacher_epochs=1']
    dc(a + ['--out', 's1'], tmp_path)
    dc(a + ['--out', 's2'], tmp_path, n=2)
    s1, s2 = load_file(tmp_path / 's1' / 'synset.safetensors'), load_file(tmp_path / 's2' / 'synset.safetensors')
    assert s1.keys() == s2.keys()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    meta = json.loads((tmp_path / 's2' / 'synset.json').read_text())
    assert meta['world_size'] == 2  # the provenance records the number of processes


def test_distill_refuses_a_method_that_does_not_share(tmp_path):
    r = dc(['distill', '--dataset', 'digits', '--method', 'dm', '--ipc', '1', '--out', 's'], tmp_path, n=2, check=False)
    assert r.returncode != 0
    assert 'does not share its work over processes' in r.stderr
    assert not (tmp_path / 's' / 'synset.json').exists()


def _rank_pid(parent: int, rank: int) -> int | None:
    "The pid of the worker with RANK=rank among the descendants of `parent` (Linux /proc)."
    for p in Path('/proc').iterdir():
        if not p.name.isdigit():
            continue
        try:
            env = (p / 'environ').read_bytes().split(b'\0')
            stat = (p / 'stat').read_text().split()
        except OSError:
            continue
        if f'RANK={rank}'.encode() in env and b'TORCHELASTIC_RUN_ID' in b'\0'.join(env) and int(stat[3]) != 1:
            if str(parent).encode() in b'\0'.join(env) or int(stat[3]) == parent:
                return int(p.name)
    return None


def test_killed_rank_fails_the_job_and_resume_completes_it(tmp_path):
    a = ['experts', '--dataset', 'digits', '--n-experts', '8', '--epochs', '6']
    head = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node=2', '-m']
    job = subprocess.Popen(head + ['dataset_condensation.cli'] + a + ['--out', 'k'], cwd=tmp_path, env=ENV,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    out = tmp_path / 'k'
    t0 = time.time()
    while not (out / 'expert_0001.safetensors').exists():  # the first round is written
        assert job.poll() is None and time.time() - t0 < 120, 'the job ended before its first round'
        time.sleep(0.2)
    pid = _rank_pid(job.pid, 1)
    assert pid is not None, 'rank 1 not found'
    os.kill(pid, signal.SIGKILL)
    log = job.communicate(timeout=120)[0]
    assert job.returncode != 0
    assert 'rank' in log and ('SIGKILL' in log or 'Signal 9' in log or 'exitcode' in log), log[-2000:]
    assert not list(out.glob('.*.tmp')), 'a half-written file was left'
    done = shards(out)
    meta = json.loads((out / 'buffer.json').read_text())
    assert 2 <= len(done) < 8 and sorted(meta['experts']) == sorted(str(int(k[7:11])) for k in done)
    dc(a + ['--out', 'k', '--resume'], tmp_path, n=2)
    dc(a + ['--out', 'ref'], tmp_path)
    full, ref = shards(out), shards(tmp_path / 'ref')
    assert len(full) == 8 and all(torch.equal(full[k], ref[k]) for k in ref)


def test_no_dc_option_collides_with_torchruns():
    "torchrun's parser accepts abbreviations: an option of ours that abbreviates one of torchrun's breaks the command."
    from torch.distributed.run import get_args_parser
    from dataset_condensation.cli import build_parser

    tr = get_args_parser()
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == '_SubParsersAction')
    bad = []
    for cmd, p in sub.choices.items():
        for act in p._actions:
            for opt in act.option_strings:
                argv = ['--nproc-per-node=2', '-m', 'dataset_condensation.cli', cmd, opt, 'x']
                try:
                    got = tr.parse_args(argv)
                except SystemExit:
                    got = None
                if got is None or got.training_script_args != [cmd, opt, 'x']:
                    bad.append(f'dc {cmd} {opt}')
    assert bad == ['dc experts --n'], bad  # --n stays for plain dc; --n-experts is the torchrun spelling


def test_interrupted_eval_resumes_from_its_finished_models(tmp_path):
    "Ctrl-C during `dc eval` keeps the finished models in <out>/.items; --resume trains only the rest."
    dc(['prune', '--dataset', 'digits', '--method', 'random', '--keep', '0.3', '--out', 'c'], tmp_path)
    e = ['eval', '--dataset', 'digits', '--coreset', 'c', '--n-models', '3', '--epochs', '40']
    job = subprocess.Popen([sys.executable, '-m', 'dataset_condensation.cli'] + e + ['--out', 'm'], cwd=tmp_path,
                           env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    items = tmp_path / 'm' / '.items'
    t0 = time.time()
    while not list(items.glob('eval-final-*-00000.pt')):
        assert job.poll() is None and time.time() - t0 < 120, 'the evaluation ended before its first model'
        time.sleep(0.1)
    job.send_signal(signal.SIGINT)
    err = job.communicate(timeout=60)[1]
    assert job.returncode == 130 and '--resume' in err, err
    assert not (tmp_path / 'm' / 'metrics.json').exists()
    kept = sorted(p.name for p in items.glob('eval-final-*.pt'))
    assert 1 <= len(kept) < 3
    r = dc(e + ['--out', 'm', '--resume'], tmp_path)
    assert not items.exists()
    dc(e + ['--out', 'ref'], tmp_path)
    got, ref = (json.loads((tmp_path / f / 'metrics.json').read_text())['accs'] for f in ('m', 'ref'))
    assert got == ref, r.stdout
