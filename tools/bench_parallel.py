#!/usr/bin/env python
"""Wall-clock time of the commands torchrun shares, with 1 and with 2 processes, on this machine.

    OMP_NUM_THREADS=1 python tools/bench_parallel.py [--dataset mnist5k] [--repeats 1]

Each command runs as plain `dc` (one process) and as `torchrun --standalone --nproc-per-node 2 -m
dataset_condensation.cli` (two processes, gloo on CPU; one OpenMP thread per process in both cases), in a fresh
temporary folder, interleaved when repeated; the table gives the median seconds and the speed-up. The outputs of the
two runs are compared (equal tensors), so a speed-up never comes from doing something else."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file


def run(args: list, cwd: Path, n: int) -> float:
    head = [sys.executable, '-m', 'dataset_condensation.cli']
    if n > 1:
        head = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc-per-node={n}', '-m',
                'dataset_condensation.cli']  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS='1', DC_PROGRESS='0', PYTHONWARNINGS='ignore')
    t0 = time.perf_counter()
    r = subprocess.run(head + args, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed with {n} process(es):\n{r.stderr[-2000:]}")
    return time.perf_counter() - t0


def same(kind: str, a: Path, b: Path) -> bool:
    if kind == 'experts':
        return all(
            torch.equal(load_file(p)['trajectory'], load_file(b / p.name)['trajectory'])
            for p in a.glob('expert_*.safetensors')
        )
    if kind == 'prune':
        return np.array_equal(np.load(a / 'scores.npy'), np.load(b / 'scores.npy'))
    if kind == 'eval':
        return (
            json.loads((a / 'metrics.json').read_text())['accs'] == json.loads((b / 'metrics.json').read_text())['accs']
        )
    x, y = load_file(a / 'synset.safetensors'), load_file(b / 'synset.safetensors')
    return all(torch.equal(x[k], y[k]) for k in x)


def main():
    P = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    P.add_argument('--dataset', default='mnist5k')
    P.add_argument('--repeats', type=int, default=1)
    P.add_argument('--commands', nargs='+', default=['experts', 'prune', 'eval', 'distill'], help='which rows to time')
    a = P.parse_args()
    d = a.dataset
    jobs = [
        ('experts', 'dc experts: 4 experts x 5 epochs',
         ['experts', '--dataset', d, '--n-experts', '4', '--epochs', '5']),
        ('prune', 'dc prune forgetting: 4 runs x 10 epochs',
         ['prune', '--dataset', d, '--method', 'forgetting', '--keep', '0.5', '--set', 'runs=4', '--set', 'epochs=10']),
        ('eval', 'dc eval: 4 models x 50 epochs (a 10% coreset)',
         ['eval', '--dataset', d, '--coreset', '{coreset}', '--n-models', '4', '--epochs', '50']),
        ('distill', 'dc distill sre2l: IPC 10, the CPU preset',
         ['distill', '--dataset', d, '--method', 'sre2l', '--ipc', '10', '--teacher', '{teacher}']),
    ]  # fmt: skip
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {d}; median of {a.repeats} run(s), seconds")
    print('\n| command | 1 process | 2 processes | speed-up | same output |\n|---|---:|---:|---:|---|')
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run(['prune', '--dataset', d, '--method', 'random', '--keep', '0.1', '--out', 'coreset'], tmp, 1)
        t = ['distill', '--dataset', d, '--method', 'sre2l', '--ipc', '1', '--iterations', '1', '--train-teacher']
        run(t + ['--out', 'teacher'], tmp, 1)
        teacher = next((tmp / 'teacher' / 'teachers').glob('*.safetensors'))
        for kind, label, args in [j for j in jobs if j[0] in a.commands]:
            args = [s.format(coreset=tmp / 'coreset', teacher=teacher) for s in args]
            secs = {1: [], 2: []}
            for r in range(a.repeats):
                for n in (1, 2):
                    secs[n].append(run(args + ['--out', f'{kind}{n}_{r}'], tmp, n))
            m1, m2 = statistics.median(secs[1]), statistics.median(secs[2])
            ok = same(kind, tmp / f'{kind}1_0', tmp / f'{kind}2_0')
            print(f"| {label} | {m1:.1f} | {m2:.1f} | {m1 / m2:.2f}x | {'yes' if ok else 'NO'} |", flush=True)


if __name__ == '__main__':
    main()
