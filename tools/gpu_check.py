#!/usr/bin/env python
"""GPU check: the distillation methods, the training engine and MTT's two backward modes, timed on one device.

Every registered distillation method at its fast (CPU-profile) preset, the training engine in fp32 and under bf16
autocast, contiguous and channels-last, and MTT's plain against its constant-memory backward at three unroll lengths:
seconds per iteration, images per second and peak memory, printed as one markdown table under a header line (device,
torch version, the checkout's git revision).

Install from a clean clone (the commands of `.ci/run` and the README; the Linux torch wheel on PyPI is a CUDA build):

    git clone https://github.com/dataset-condensation/dataset_condensation && cd dataset_condensation
    pip install torch==2.14.1 torchvision==0.29.1
    pip install --no-deps animal-mnist==0.4
    pip install -e .

How to run it on a GPU machine (a few minutes on one GPU; prints the table, writes the rows as JSON):

    python tools/gpu_check.py --out gpu_check.json

CPU dry run (smallest sizes, well under a minute; `tests/test_gpu_check.py` runs it):

    OMP_NUM_THREADS=1 python tools/gpu_check.py --device cpu --tiny

What each part measures (the same definitions are printed under the table):

- distill: `distill(train, method, ipc=10, profile='cpu', iterations=--iterations)` on `mnist5k` (`--tiny`: `digits`,
  with the `TINY_OVERRIDES` below: one expert of 3 epochs, teachers of one epoch, DC/DSA 2 matches per network), the
  expert buffer (MTT, FTD, SeqMatch) or the teachers (SRe2L, DWA, INFER) the preset describes trained before and not
  timed. s/it: seconds per iteration of the method's loop (`distill_loop`'s own clock, one host sync per iteration;
  SRe2L/DWA/INFER iterate per batch, so their preset's `iterations` are steps per batch); img/s: finished synthetic
  images per second of the preset's whole run, IPC x classes / (s/it x the preset's loop iterations).
- engine: `train.fit` of ConvNet-3 (width 128; `--tiny`: 32) on the real training set, batch 256, 10 epochs
  (`--tiny`: 1) after one warm-up epoch (`--tiny`: one batch); fp32 or under `torch.autocast(device, torch.bfloat16)`
  (`fit` has no precision option, so the check wraps it as a user would; CPU autocast to bf16 works and is measured
  too), `channels_last=False/True`. s/it: seconds per SGD step; img/s: training images per second.
- mtt memory: one MTT iteration (`match_trajectory`: the unroll with DSA and its backward into the images and the step
  size) with the fast preset's student (ConvNet-3 width 32, all 100 images in every step), `memory='plain'` against
  `memory='recompute'` at syn_steps 20/40/80 (`--tiny`: 5/10/20), after one warm-up iteration, 3 iterations timed
  (`--tiny`: no warm-up, 1). img/s: student images per second (syn_steps x images per step).

peak +MiB: the most memory the call added above what was allocated when it began: on CUDA
`torch.cuda.max_memory_allocated()` after `torch.cuda.reset_peak_memory_stats()`, less `memory_allocated()` then; on a
CPU (Linux) the peak resident size `VmHWM` after resetting it through `/proc/self/clear_refs` (freed heap returned with
`malloc_trim` first), less `VmRSS` then; '-' where neither can be read.

cuDNN autotuning (`torch.backends.cudnn.benchmark`) is left at torch's default, off, as the library runs.

Exit status: 0 when every row ran; 1 when some row failed (the table shows its error); 2 on bad arguments or when the
device asked for is not available."""

from __future__ import annotations
import argparse
import contextlib
import ctypes
import json
import math
import platform
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from pathlib import Path

import torch

from dataset_condensation.core import get_device, library_version, provenance
from dataset_condensation.data import load_dataset
from dataset_condensation.distill.core import distill, load_distillation_methods, method_config
from dataset_condensation.distill.bench import provide_buffer, provide_teachers
from dataset_condensation.distill.synset import init_synthetic
from dataset_condensation.distill.trajectory import flat_params, match_trajectory, param_layout, student_chunks
from dataset_condensation.augment import dsa_strategy_for
from dataset_condensation.models import get_network
from dataset_condensation.train import fit

ROOT = Path(__file__).resolve().parents[1]
IPC = 10  # images per class of every distillation run (the benchmark's IPC)
# --tiny: every setting that makes a run (not one iteration) long, cut to its smallest valid value; fields a method's
# config does not have are skipped
TINY_OVERRIDES = dict(
    n_experts=1,  # expert buffer: one expert of 3 epochs; starts 0, targets 2 epochs on
    expert_train_epochs=3,
    max_start_epoch=1,
    expert_epochs=2,
    intervals=[[0, 3], [0, 3]],  # SeqMatch: both stages inside 3-epoch buffers
    stage_n_experts=1,
    stage_expert_epochs=3,
    prepare_epochs=2,
    teacher_epochs=1,  # SRe2L, DWA, INFER
    outer_loop=2,  # DC, DSA: 2 matches per network (an iteration), 2 epochs on the set between them
    inner_loop=2,
)
TINY_PER_ITERATION = ('outer_loop', 'inner_loop')  # the overrides above that change one iteration's work
ENGINE_VARIANTS = (('fp32', False), ('fp32', True), ('bf16', False), ('bf16', True))  # (precision, channels-last)


def git_revision() -> str:
    "The checkout's commit (short), with '+dirty' when it has uncommitted changes; 'unknown' outside a git checkout."
    try:
        rev = subprocess.run(
            ['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ['git', 'status', '--porcelain', '--untracked-files=no'], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return rev + ('+dirty' if dirty else '')
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def device_name(dev: torch.device) -> str:
    if dev.type == 'cuda':
        return f"{torch.cuda.get_device_name(dev)} (CUDA {torch.version.cuda})"
    try:
        with open('/proc/cpuinfo') as f:
            return next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine() or 'cpu'


class PeakMemory:
    "Peak memory added by a block, in MiB: CUDA allocator statistics, or the process's peak resident size on Linux."

    def __init__(self, dev: torch.device):
        self.dev = dev
        self.mib = None
        self._trim = None
        if dev.type == 'cpu':
            try:
                self._trim = ctypes.CDLL('libc.so.6').malloc_trim
            except OSError:
                self._trim = None

    @staticmethod
    def _status(key: str) -> float:
        with open('/proc/self/status') as f:
            return int(next(line for line in f if line.startswith(key)).split()[1]) / 1024

    def __enter__(self):
        self.mib, self._base = None, None
        if self.dev.type == 'cuda':
            torch.cuda.synchronize(self.dev)
            torch.cuda.reset_peak_memory_stats(self.dev)
            self._base = torch.cuda.memory_allocated(self.dev)
            return self
        try:
            if self._trim is not None:
                self._trim(0)  # give freed heap back, so that the resident size is what is alive
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')  # VmHWM := VmRSS
            self._base = self._status('VmRSS')
        except OSError:
            self._base = None
        return self

    def __exit__(self, exc_type, *exc):
        if self._base is None or exc_type is not None:
            return False
        if self.dev.type == 'cuda':
            torch.cuda.synchronize(self.dev)
            self.mib = (torch.cuda.max_memory_allocated(self.dev) - self._base) / 2**20
        else:
            self.mib = self._status('VmHWM') - self._base
        return False


def sync(dev: torch.device):
    if dev.type == 'cuda':
        torch.cuda.synchronize(dev)


def _loop_time(syn, iterations: int) -> tuple[float, int]:
    """(seconds, iterations) of a set's distillation loop(s) from its metadata: its history, or its stages' (SeqMatch);
    a history without `seconds_per_iteration` ran `iterations` steps."""
    hists = [syn.meta.get('history')] + [s.get('history') for s in syn.meta.get('stages') or []]
    hists = [h for h in hists if isinstance(h, dict) and 'seconds' in h]
    if not hists:
        raise ValueError(f"the set of {syn.meta.get('method')} records no loop time in its metadata")
    secs = sum(float(h['seconds']) for h in hists)
    steps = sum(
        round(h['seconds'] / h['seconds_per_iteration']) if h.get('seconds_per_iteration') else iterations
        for h in hists
    )
    return secs, steps


def distill_row(method: str, train, test, dev, iterations: int, tiny: bool, work: Path) -> dict:
    "One method's row: its preset at IPC 10 for `iterations` iterations (0: the preset's own), timed."
    preset = method_config(method, train.name, IPC, 'cpu')
    fields = preset.as_dict()
    ov = {k: v for k, v in TINY_OVERRIDES.items() if tiny and k in fields}
    if iterations:
        ov['iterations'] = iterations
    cfg = method_config(method, train.name, IPC, 'cpu', **ov)
    t0 = time.perf_counter()
    ov = provide_teachers(cfg, provide_buffer(cfg, ov, train, work / 'experts', log=_log), train, test, work, log=_log)
    setup = time.perf_counter() - t0
    with PeakMemory(dev) as mem:
        t0 = time.perf_counter()
        syn = distill(train, method, IPC, profile='cpu', progress=False, **ov)
        sync(dev)
        wall = time.perf_counter() - t0
    secs, steps = _loop_time(syn, cfg.iterations)
    s_it = secs / steps
    full_steps = steps * preset.iterations / cfg.iterations  # loop length is proportional to `iterations`
    cut = {k: ov[k] for k in TINY_PER_ITERATION if k in ov}
    notes = f"{steps} its timed; the preset's loop: {round(full_steps)} its ≈ {s_it * full_steps:.0f} s"
    if cut:
        notes += f" (tiny iterations: {', '.join(f'{k}={v}' for k, v in cut.items())})"
    return dict(
        part='distill',
        name=method,
        overrides={k: v for k, v in ov.items() if k not in ('buffer', 'teacher')},
        s_per_it=s_it,
        img_per_s=IPC * train.n_classes / (s_it * full_steps),
        peak_mib=mem.mib,
        iterations_timed=steps,
        preset_loop_iterations=round(full_steps),
        preset_seconds=s_it * full_steps,
        setup_seconds=setup,
        wall_seconds=wall,
        notes=notes,
    )


def engine_row(precision: str, channels_last: bool, train, dev, width: int, epochs: int, tiny: bool) -> dict:
    "The training engine (`fit`) on the real training set: one warm-up epoch (`tiny`: one batch), then `epochs` timed."
    net = get_network('ConvNet', train.channels, train.n_classes, train.im_size, seed=0, width=width).to(dev)
    amp = (
        torch.autocast(dev.type, dtype=torch.bfloat16) if precision == 'bf16' else contextlib.nullcontext()
    )  # fit has no precision option: the check wraps it, as a user would
    warm = slice(0, 256 if tiny else None)
    with amp:
        fit(net, train.x[warm], train.y[warm], epochs=1, channels_last=channels_last)
    with PeakMemory(dev) as mem, amp:
        sync(dev)
        t0 = time.perf_counter()
        hist = fit(net, train.x, train.y, epochs=epochs, channels_last=channels_last)
        sync(dev)
        secs = time.perf_counter() - t0
    steps = epochs * -(-len(train) // 256)
    return dict(
        part='engine',
        name=f"{precision} {'channels-last' if channels_last else 'contiguous'}",
        precision=precision,
        channels_last=channels_last,
        final_loss=hist['loss'][-1],
        s_per_it=secs / steps,
        img_per_s=epochs * len(train) / secs,
        peak_mib=mem.mib,
        notes=f"ConvNet-3 w{width}, {len(train)} imgs x {epochs} ep, final loss {hist['loss'][-1]:.3f}",
    )


def mtt_rows(train, dev, width: int, batch_syn: int | None, steps: tuple, reps: int, warm_up: bool) -> list[dict]:
    """MTT iterations at each `syn_steps` in both memory modes (after one untimed iteration when `warm_up`): seconds,
    student images per second, peak memory."""
    images, labels = init_synthetic(train, IPC, 'real', 0)
    net = get_network('ConvNet', train.channels, train.n_classes, train.im_size, seed=0, width=width).to(dev)
    layout, start = param_layout(net), flat_params(net).detach()
    target = start + 0.01 * torch.randn(start.shape, generator=torch.Generator().manual_seed(0)).to(dev)
    strategy, b = dsa_strategy_for(train.name), batch_syn or len(images)
    rows = []
    for N in steps:
        for mode in ('plain', 'recompute'):

            def once(it):
                im = images.detach().clone().requires_grad_(True)
                lr = torch.tensor(0.01, device=dev, requires_grad=True)
                ch = student_chunks(len(im), N, batch_syn, torch.Generator(dev).manual_seed(it))
                aug = [1000 * it + n for n in range(N)]
                loss = match_trajectory(net, layout, start, target, im, labels, lr, ch, aug, strategy, mode)
                loss.backward()
                return loss.detach().item()

            row = dict(part='mtt memory', name=f"{mode} N={N}", syn_steps=N, memory=mode)
            try:
                if warm_up:
                    once(0)  # CUDA context, kernels
                with PeakMemory(dev) as mem:
                    sync(dev)
                    t0 = time.perf_counter()
                    for it in range(1, reps + 1):
                        once(it)
                    sync(dev)
                    secs = (time.perf_counter() - t0) / reps
                row.update(s_per_it=secs, img_per_s=N * b / secs, peak_mib=mem.mib)
                row['notes'] = f"ConvNet-3 w{width}, {len(images)} images, {b} per step, DSA; {reps} its"
            except torch.cuda.OutOfMemoryError as e:
                row.update(s_per_it=None, img_per_s=None, peak_mib=None, error=f"out of memory: {str(e)[:80]}")
                torch.cuda.empty_cache()
            rows.append(row)
    return rows


def _log(*a):
    print(*a, file=sys.stderr, flush=True)


def _fmt(v, digits=3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return '-'
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def markdown_table(rows: list[dict]) -> str:
    out = ['| part | run | s/it | img/s | peak +MiB | notes |', '|---|---|---:|---:|---:|---|']
    for r in rows:
        note = f"FAILED: {r['error']}" if r.get('error') else r.get('notes', '')
        out.append(
            f"| {r['part']} | {r['name']} | {_fmt(r.get('s_per_it'))} | {_fmt(r.get('img_per_s'))} | "
            f"{_fmt(r.get('peak_mib'))} | {note} |"
        )
    return '\n'.join(out)


LEGEND = """s/it: seconds per iteration (distill: one step of the method's loop; engine: one SGD step of 256 images; mtt
memory: one unroll + backward). img/s: distill: finished synthetic images per second of the preset's whole run
(IPC x classes / (s/it x the preset's loop iterations)); engine: training images per second; mtt memory: student
images per second (syn_steps x batch). peak +MiB: {peak}."""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--device', default='cuda', help="'cuda' (default), 'cuda:N' or 'cpu'")
    ap.add_argument('--tiny', action='store_true', help='smallest sizes: the CPU dry run (digits, a few iterations)')
    ap.add_argument('--methods', default=None, help='comma-separated distillation methods (default: all registered)')
    ap.add_argument(
        '--iterations',
        type=int,
        default=None,
        help="loop iterations timed per method (default 20, --tiny 2); 0 runs each preset's whole fast budget",
    )
    ap.add_argument('--out', default=None, help='write the rows and the header as JSON to this file')
    a = ap.parse_args(argv)
    if not re.fullmatch(r'cpu|cuda(:\d+)?', a.device):
        print(f"gpu_check: --device {a.device!r}: expected 'cuda' (the default), 'cuda:N' or 'cpu'", file=sys.stderr)
        return 2
    if a.device.startswith('cuda') and not torch.cuda.is_available():
        print(
            f"gpu_check: --device {a.device}: CUDA is not available on this machine (torch {torch.__version__}); run "
            "it on a GPU machine, or pass --device cpu --tiny for the CPU dry run",
            file=sys.stderr,
        )
        return 2
    try:
        dev = get_device(a.device)
    except ValueError as e:  # cuda:N beyond the machine's devices
        print(f"gpu_check: --device {a.device}: {e}", file=sys.stderr)
        return 2
    names = load_distillation_methods()
    methods = names if a.methods is None else [m.strip() for m in a.methods.split(',') if m.strip()]
    bad = [m for m in methods if m not in names]
    if bad or not methods:
        print(f"gpu_check: --methods {a.methods!r}: unknown {bad}; expected some of {names}", file=sys.stderr)
        return 2
    iterations = (2 if a.tiny else 20) if a.iterations is None else a.iterations
    if iterations < 0:
        print(f"gpu_check: --iterations {iterations} must be >= 0 (0: the presets' whole budget)", file=sys.stderr)
        return 2
    dataset = 'digits' if a.tiny else 'mnist5k'
    head = dict(
        device=str(dev),
        device_name=device_name(dev),
        torch_version=torch.__version__,
        git_revision=git_revision(),
        dataset=dataset,
        tiny=a.tiny,
        iterations=iterations,
        ipc=IPC,
    )
    header = (
        f"GPU check on {head['device_name']} ({dev}), torch {torch.__version__}, dataset_condensation "
        f"{library_version()} at git {head['git_revision']}; {dataset}, IPC {IPC}{', tiny' if a.tiny else ''}"
    )
    print(header, flush=True)
    train, test = load_dataset(dataset, device=dev), load_dataset(dataset, 'test', device=dev)
    rows = []

    def attempt(part, name, fn):
        _log(f"[{time.strftime('%H:%M:%S')}] {part}: {name}")
        try:
            got = fn()
        except Exception as e:  # a failing row is a finding: record it and go on
            traceback.print_exc(file=sys.stderr)
            got = dict(part=part, name=name, error=f"{type(e).__name__}: {str(e).splitlines()[0][:100]}")
            if dev.type == 'cuda':
                torch.cuda.empty_cache()
        rows.extend(got if isinstance(got, list) else [got])

    width = 32 if a.tiny else 128
    for prec, cl in ENGINE_VARIANTS:
        name = f"{prec} {'channels-last' if cl else 'contiguous'}"
        attempt('engine', name, lambda: engine_row(prec, cl, train, dev, width, 1 if a.tiny else 10, a.tiny))
    with tempfile.TemporaryDirectory() as work:
        for m in methods:
            attempt('distill', m, lambda: distill_row(m, train, test, dev, iterations, a.tiny, Path(work)))
    mtt = method_config('mtt', dataset, IPC, 'cpu')  # the student of the distill row, at longer unrolls
    attempt(
        'mtt memory',
        'plain/recompute',
        lambda: mtt_rows(
            train,
            dev,
            mtt.width,
            mtt.batch_syn,
            (5, 10, 20) if a.tiny else (20, 40, 80),
            1 if a.tiny else 3,
            not a.tiny,
        ),
    )
    peak = (
        'torch.cuda.max_memory_allocated() after reset_peak_memory_stats(), less the memory allocated when the call '
        'began'
        if dev.type == 'cuda'
        else "the process's peak resident size (VmHWM, reset through /proc/self/clear_refs), less VmRSS when the call "
        "began ('-': not readable here)"
    )
    print()
    print(markdown_table(rows))
    print()
    print(textwrap.fill(LEGEND.format(peak=peak), 120))
    failed = [f"{r['part']} {r['name']}" for r in rows if r.get('error')]
    if a.out:
        res = provenance(**head, header=header, peak_measure=peak, rows=rows, failed=failed)
        Path(a.out).write_text(json.dumps(res, indent=1))
    if failed:
        print(f"gpu_check: {len(failed)} run(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
