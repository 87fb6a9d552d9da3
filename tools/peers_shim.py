#!/usr/bin/env python
"""Run one of the authors' scripts unchanged, with the few adjustments a CPU-only timing run needs.

    python tools/peers_shim.py [--stub-eval] [--loops OUTER INNER] [--mnist] [--cpu-cuda] [--cpu-copies] SCRIPT ARGS

`tools/bench_peers.py` starts the official scripts through this file. Their files are not edited: their `utils`
module is imported first (from SCRIPT's folder), a few of its functions are replaced in memory, and SCRIPT then runs
as `__main__` in the current folder, where it writes what it writes (MTT: `logged_files/`). The replacements, each
asked for by a flag:
- `--stub-eval`: `utils.evaluate_synset` returns at once (accuracy 0). DC/DSA's `main.py` trains 1,000-epoch
  evaluation models at iteration 0 and at the last iteration whatever `--epoch_eval_train` says; both runs of a
  timing pair do it, so it cancels in the differencing, but it costs minutes. The iterations themselves are not
  touched.
- `--loops OUTER INNER`: `utils.get_loops` returns (OUTER, INNER) instead of the per-IPC table (IPC 10: 10 and 50),
  so a DC/DSA iteration fits a short benchmark; `dc distill` is run with the same counts.
- `--mnist`: MTT's `utils.get_dataset` gains the MNIST branch of the DC repository (torchvision's MNIST files,
  normalised with mean 0.1307 and std 0.3081, identity class maps); MTT itself has CIFAR, Tiny and ImageNet only.
- `--cpu-cuda`: without CUDA, `Tensor.cuda()` returns the tensor itself (MTT's `distill.py` calls it when it saves
  the images at iteration 0, which fails on a CPU-only machine).
- `--cpu-copies`: without CUDA, `Tensor.cpu()` returns a copy, as it does from a GPU. MTT's `buffer.py` stores each
  snapshot as `p.detach().cpu()`; on a CPU-only machine that is the live parameter itself, so every snapshot of a
  trajectory would equal the last one (the matching loss is then 0/0 = inf)."""

import os
import runpy
import sys


def _mnist(get_dataset):
    "MTT's `get_dataset` with an MNIST branch (the DC repository's: same transform, classes 0-9)."

    def wrapped(dataset, data_path, batch_size=1, subset='imagenette', args=None):
        if dataset != 'MNIST':
            return get_dataset(dataset, data_path, batch_size, subset, args=args)
        import torch
        from torchvision import datasets, transforms

        mean, std = [0.1307], [0.3081]
        tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean=mean, std=std)])
        train = datasets.MNIST(data_path, train=True, download=True, transform=tf)
        test = datasets.MNIST(data_path, train=False, download=True, transform=tf)
        loader = torch.utils.data.DataLoader(test, batch_size=128, shuffle=False, num_workers=2)
        identity = {c: c for c in range(10)}
        return 1, (28, 28), 10, [str(c) for c in range(10)], mean, std, train, test, loader, None, identity, identity

    return wrapped


def main(argv: list[str]) -> None:
    flags = {'--stub-eval': 0, '--loops': 2, '--mnist': 0, '--cpu-cuda': 0, '--cpu-copies': 0}
    got = {}
    while argv and argv[0] in flags:
        name, n = argv[0], flags[argv[0]]
        got[name], argv = argv[1 : 1 + n], argv[1 + n :]
    if not argv or not os.path.isfile(argv[0]):
        raise SystemExit(f"peers_shim: expected a script path after the flags; got {argv[:1]}")
    script = os.path.abspath(argv[0])
    here = os.path.dirname(script)
    sys.argv = [script] + argv[1:]
    sys.path.insert(0, here)
    import utils  # the official `utils.py` beside the script

    if '--stub-eval' in got:
        utils.evaluate_synset = lambda it_eval, net, *a, **k: (net, 0.0, 0.0)
    if '--loops' in got:
        outer, inner = map(int, got['--loops'])
        utils.get_loops = lambda ipc: (outer, inner)
    if '--mnist' in got:
        utils.get_dataset = _mnist(utils.get_dataset)
    if '--cpu-cuda' in got:
        import torch

        if not torch.cuda.is_available():
            torch.Tensor.cuda = lambda self, *a, **k: self
    if '--cpu-copies' in got:
        import torch

        if not torch.cuda.is_available():
            to_cpu = torch.Tensor.cpu
            torch.Tensor.cpu = lambda self, *a, **k: to_cpu(self, *a, **k).clone()
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    main(sys.argv[1:])
