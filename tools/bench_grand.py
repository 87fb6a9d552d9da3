#!/usr/bin/env python
"""GraNd: vectorised per-sample gradient norms (torch.func) against a per-sample autograd loop, on
1,000 mnist5k images with ConvNet-3 (widths 32 and 128), on the CPU or a CUDA device: the issue-3
figure of nbs/13_el2n.ipynb from one short script.

    python tools/bench_grand.py --device cuda      # or --device cpu
Prints the times, the speed-up and the floor (one batched forward + backward); --out FILE writes JSON."""

import argparse
import json
import sys
import time
import torch
import torch.nn.functional as F
from dataset_condensation.core import get_device, provenance
from dataset_condensation.data import load_dataset
from dataset_condensation.models import get_network
from dataset_condensation.pruning.el2n import per_sample_grad_norms


def sync(dev):
    if dev.type == 'cuda':
        torch.cuda.synchronize(dev)


def best(f, dev, k=2):
    ts = []
    for _ in range(k):
        sync(dev)
        t = time.perf_counter()
        f()
        sync(dev)
        ts.append(time.perf_counter() - t)
    return min(ts)


def loop(model, x, y):
    ps = list(model.parameters())
    return torch.stack(
        [
            torch.sqrt(
                sum(g.pow(2).sum() for g in torch.autograd.grad(F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]), ps))
            )
            for i in range(len(x))
        ]
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--device', default='auto')
    ap.add_argument('--n', type=int, default=1000)
    ap.add_argument('--out')
    a = ap.parse_args()
    dev = get_device(a.device)
    d = load_dataset('mnist5k', device=dev)
    x, y = d.x[: a.n], d.y[: a.n]
    res = dict(device=str(dev), n=a.n, threads=torch.get_num_threads(), rows={})
    for w in (32, 128):
        net = get_network('ConvNet', 1, 10, (28, 28), seed=0, width=w).to(dev).eval()
        per_sample_grad_norms(net, x[:64], y[:64])
        loop(net, x[:8], y[:8])  # warm-up
        err = float((per_sample_grad_norms(net, x[:100], y[:100]) / loop(net, x[:100], y[:100]) - 1).abs().max())

        def batched():
            net.zero_grad()
            F.cross_entropy(net(x), y).backward()

        tv, tl, tb = (
            best(lambda: per_sample_grad_norms(net, x, y), dev),
            best(lambda: loop(net, x, y), dev, 1),
            best(batched, dev),
        )
        res['rows'][w] = dict(vectorised=tv, loop=tl, batched=tb, speedup=tl / tv, max_rel_err=err)
        print(
            f"ConvNet-3 width {w:3d}, {a.n} samples on {dev}: vectorised {tv:.3f}s, loop {tl:.3f}s, "
            f"speed-up x{tl / tv:.1f} "
            f"(batched fwd+bwd floor {tb:.3f}s; max rel. difference {err:.1e})",
            flush=True,
        )
    if a.out:
        with open(a.out, 'w') as f:
            json.dump(provenance(**res), f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
