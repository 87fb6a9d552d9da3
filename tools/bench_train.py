#!/usr/bin/env python
"""Training throughput of ConvNet-3 (widths 32/64/128) and the many-model speed-up (K=5 models on
100 images), on the CPU or a CUDA device: the figures of nbs/04_train.ipynb, from one short script.

    python tools/bench_train.py --device cuda      # or --device cpu
Prints a table and, with --out FILE, writes the figures as JSON."""

import argparse
import json
import platform
import sys
import torch
from dataset_condensation.train import benchmark_fit, benchmark_many
from dataset_condensation.core import get_device, provenance


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--device', default='auto')
    ap.add_argument('--out')
    ap.add_argument(
        '--n', type=int, default=None, help='training images for the throughput runs (default 1024 CPU, 8192 CUDA)'
    )
    a = ap.parse_args()
    dev = get_device(a.device)
    if dev.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    n = a.n or (8192 if dev.type == 'cuda' else 1024)
    name = torch.cuda.get_device_name(dev) if dev.type == 'cuda' else platform.processor() or 'cpu'
    res = dict(device=str(dev), device_name=name, threads=torch.get_num_threads(), throughput={}, many={})
    for w in (32, 64, 128):
        res['throughput'][w] = {
            'contiguous': benchmark_fit(w, n=n, device=str(dev)),
            'channels_last': benchmark_fit(w, n=n, channels_last=True, device=str(dev)),
        }
        print(
            f"ConvNet-3 width {w:3d}: {res['throughput'][w]['contiguous']:8.0f} img/s contiguous, "
            f"{res['throughput'][w]['channels_last']:8.0f} img/s channels-last  ({name})",
            flush=True,
        )
    m = benchmark_many(device=str(dev))
    res['many'] = m
    print(
        f"K=5 ConvNet-3 (width 64) on 100 images, 20 epochs: loop {m['loop']:.2f}s, channels-last loop "
        f"{m['loop_channels_last']:.2f}s, vmap {m['vmap']:.2f}s -> vmap speed-up x{m['loop'] / m['vmap']:.2f}"
    )
    if a.out:
        with open(a.out, 'w') as f:
            json.dump(provenance(**res), f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
