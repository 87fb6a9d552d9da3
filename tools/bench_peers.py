#!/usr/bin/env python
"""Seconds per iteration of the authors' code and of ours, side by side on this machine.

    bash tools/bench_peers.sh --peers PEERS [--methods dm dc dsa mtt eval] [--repeats 3] [--threads T]
                              [--device cpu|cuda] [--python-peers PY] [--allocator-default]
                              [--n1 dm=2 ...] [--n2 dm=6 ...]

PEERS is a folder with the official code, unchanged: `DatasetCondensation/` (VICO-UoE: `main.py` for DC and DSA,
`main_DM.py` for DM) and `mtt-distillation/` (GeorgeCazenavette: `buffer.py`, `distill.py`). MTT's scripts import
`kornia` and `wandb`: give `--python-peers` the python of an environment that has them (e.g. a venv made with
`--system-site-packages` and `pip install kornia wandb`); `wandb` runs with `WANDB_MODE=disabled`.

Both sides run on the same data (mnist5k, written as torchvision's MNIST files for the official scripts), the same
configuration (printed, field by field, with the official default beside the value run), the same number of
threads (`OMP_NUM_THREADS`), and the same device: `--device cpu` (the default) hides the GPUs from both sides
(`CUDA_VISIBLE_DEVICES=`), `--device cuda` runs both on the first GPU (the official scripts pick CUDA by
themselves when they see one; ours gets `--device cuda`, the plain loop moves its models and data there). On a
GPU machine, `bash tools/bench_peers.sh --peers PEERS --device cuda` is the whole comparison.

Every run is a fresh process timed from outside; the time of one
iteration is (time of N2 iterations - time of N1 iterations) / (N2 - N1), so start-up, data loading, the official
scripts' evaluation at iteration 0 and the final saving cancel. The runs are interleaved (official N1, official N2,
ours N1, ours N2, then the next repeat) so that a change of the machine's load hits both sides; the table gives the
min / median / max over the repeats and the ratio official / ours of each repeat (> 1: ours is faster).

- dm: `main_DM.py` against `dc distill --method dm --profile paper`.
- dc, dsa: `main.py --method DC|DSA` against `dc distill --method dc|dsa --profile paper`, with `--dc-loops OUTER
  INNER` outer/inner loops per iteration on both sides (default 2 and 50: 2 matching blocks of 10 classes and one
  inner loop of 50 epochs between them; the paper's IPC 10 schedule, 10 and 50, has 10 blocks and 9 inner loops
  per iteration, and `--dc-loops 10 50` times it as it is). The official script's evaluation (1,000 epochs at
  iteration 0 and at the end, whatever its flags say) is replaced by a stub: it is not part of an iteration and
  would cancel anyway.
- mtt: `buffer.py` and `dc experts` each make a small buffer first (untimed), then `distill.py` against `dc distill
  --method mtt --profile paper --no-zca` (the CIFAR-10 IPC 10 row of the author's commands, with `--mtt-syn-steps`).
- eval: `dc eval` against a plain PyTorch loop written here (`for epoch: for batch: augment, forward, backward,
  step`, the same ConvNet-3 as torch layers, the same recipe and the library's own DSA function), on a random
  class-balanced IPC 10 coreset; time per epoch of all the models.

`tools/peers_shim.py` starts the official scripts: it replaces a few of their functions in memory (the DC
evaluation stub, the loop counts, MNIST for MTT, and two fixes for CPU-only machines) and leaves their files
unchanged. Ours runs with the library's tuned CPU allocator (`core.tune_cpu_allocator`, on in every `dc`
command); `--allocator-default` adds a run of ours with `DC_CPU_ALLOCATOR=default` (glibc's defaults, as the
official scripts have) to every repeat."""

import argparse
import ast
import inspect
import json
import os
import platform
import shlex
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's package, installed or not
SHIM = ROOT / 'tools' / 'peers_shim.py'
METHODS = ('dm', 'dc', 'dsa', 'mtt', 'eval')
DEFAULT_N = {'dm': (1, 4), 'dc': (1, 2), 'dsa': (1, 2), 'mtt': (1, 3), 'eval': (10, 60)}  # iterations (eval: epochs)
OFFICIAL = {
    'dm': 'DatasetCondensation/main_DM.py',
    'dc': 'DatasetCondensation/main.py',
    'dsa': 'DatasetCondensation/main.py',
    'mtt': 'mtt-distillation/distill.py',
}
DATASET, IPC = 'mnist5k', 10
NEVER = 10**9  # an evaluation interval no run reaches


# ----------------------------------------------------------------------------------------------------- plumbing
def write_mnist_idx(root: Path) -> Path:
    "Write our mnist5k split as torchvision's MNIST raw files under root/MNIST/raw (pixels as the loader read them)."
    import numpy as np
    from dataset_condensation.data import load_dataset

    raw = root / 'MNIST' / 'raw'
    raw.mkdir(parents=True, exist_ok=True)
    train = load_dataset(DATASET)
    mean, std = float(train.mean[0]), float(train.std[0])
    for split, d in (('train', train), ('t10k', load_dataset(DATASET, 'test'))):
        pixels = np.rint((d.x.cpu().numpy()[:, 0] * std + mean) * 255)
        x = np.clip(pixels, 0, 255).astype(np.uint8)
        y = d.y.cpu().numpy().astype(np.uint8)
        header = struct.pack('>IIII', 2051, len(x), 28, 28)
        (raw / f'{split}-images-idx3-ubyte').write_bytes(header + x.tobytes())
        (raw / f'{split}-labels-idx1-ubyte').write_bytes(struct.pack('>II', 2049, len(y)) + y.tobytes())
    return root


def official_defaults(script: Path) -> dict:
    "The `--name` defaults of a script's argparse calls and the tuple of `get_default_convnet_setting` (read, not run)."
    out = {}
    for node in ast.walk(ast.parse(Path(script).read_text(encoding='utf-8'))):
        if isinstance(node, ast.Call) and getattr(node.func, 'attr', None) == 'add_argument' and node.args:
            name = node.args[0]
            if isinstance(name, ast.Constant) and isinstance(name.value, str) and name.value.startswith('--'):
                for kw in node.keywords:
                    if kw.arg == 'default':
                        try:
                            out[name.value[2:]] = ast.literal_eval(kw.value)
                        except ValueError:
                            out[name.value[2:]] = ast.unparse(kw.value)
        if isinstance(node, ast.FunctionDef) and node.name == 'get_default_convnet_setting':
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Tuple):
                    names = [t.id for t in stmt.targets[0].elts]
                    out.update(zip(names, ast.literal_eval(stmt.value)))
    return out


def per_unit(t1: float, t2: float, n1: int, n2: int) -> float:
    "Seconds per iteration from the wall times of n1 and n2 iterations."
    if n2 <= n1:
        raise ValueError(f"n2 must be larger than n1; got n1={n1}, n2={n2}")
    return (t2 - t1) / (n2 - n1)


def spread(values: list) -> tuple:
    "(min, median, max) of a list of numbers."
    if not values:
        raise ValueError("spread() needs at least one value")
    return min(values), statistics.median(values), max(values)


def fmt_spread(values: list, digits: int = 3) -> str:
    lo, mid, hi = spread(values)
    return f"{mid:.{digits}f} ({lo:.{digits}f} / {hi:.{digits}f})"


def fmt_ratio(values: list) -> str:
    lo, mid, hi = spread(values)
    return f"**{mid:.2f}x** ({lo:.2f} / {hi:.2f})"


def machine(threads: int, device: str = 'cpu') -> str:
    "One line: CPU model (and GPU), cores, threads used, torch version, git revision of this repository."
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    git = lambda *a: subprocess.run(['git', *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    rev = git('rev-parse', '--short', 'HEAD') or 'unknown'
    dirty = ' (uncommitted changes)' if git('status', '--porcelain', '--untracked-files=no') else ''
    if device == 'cuda':
        cpu = f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda}) with {cpu}"
    return (
        f"{cpu}, {os.cpu_count()} cores, {threads} thread(s) per process, torch {torch.__version__}, "
        f"python {platform.python_version()}, git {rev}{dirty}"
    )


class Runner:
    "Runs commands in fresh processes, times them from outside and keeps their logs."

    def __init__(self, work: Path, threads: int, device: str = 'cpu', verbose: bool = True):
        self.work, self.threads, self.verbose, self.count = work, threads, verbose, 0
        t = str(threads)
        self.env = dict(os.environ, OMP_NUM_THREADS=t, MKL_NUM_THREADS=t, WANDB_MODE='disabled', DC_PROGRESS='0')
        self.env['PYTHONWARNINGS'] = 'ignore'
        if device == 'cpu':  # the official scripts take CUDA whenever they see it
            self.env['CUDA_VISIBLE_DEVICES'] = ''
        self.env['PYTHONPATH'] = os.pathsep.join(p for p in (str(ROOT), os.environ.get('PYTHONPATH', '')) if p)

    def __call__(self, argv: list, label: str, cwd: Path | None = None, env: dict | None = None) -> float:
        self.count += 1
        log = self.work / 'logs' / f"{self.count:03d}_{label.replace(' ', '_')}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        with open(log, 'w') as f:
            f.write(shlex.join(map(str, argv)) + '\n\n')
            f.flush()
            r = subprocess.run(list(map(str, argv)), cwd=cwd or self.work, env=dict(self.env, **(env or {})),
                               stdout=f, stderr=subprocess.STDOUT)  # fmt: skip
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            tail = ''.join(log.read_text(errors='replace').splitlines(True)[-25:])
            raise SystemExit(f"{label} failed (exit {r.returncode}); its log is {log}:\n{tail}")
        if self.verbose:
            print(f"  {label:<40} {dt:8.1f} s", file=sys.stderr, flush=True)
        return dt


# ------------------------------------------------------------------------------------------------ the methods
RUN = ('--no-progress', '--force')  # every `dc` run of ours (and `--device`, see `ours_cli`)
DEVICE = ['cpu']  # the device of this benchmark (set by main from --device)


def ours_cli(*args) -> list:
    "A `dc` command of this repository's package (the `dc` entry point, run as a module)."
    return [sys.executable, '-m', 'dataset_condensation.cli', *args, '--device', DEVICE[0]]


def ours_distill(method: str, n: int, out: Path, over: dict, *more) -> list:
    "`dc distill` of `method` at the paper preset for n iterations, `over` as --set options."
    sets = [a for k, v in over.items() for a in ('--set', f'{k}={v}')]
    head = ['distill', '--dataset', DATASET, '--method', method, '--ipc', IPC, '--profile', 'paper']
    return ours_cli(*head, '--iterations', n, *RUN, '--out', out, *more, *sets)


def _model_rows(off: dict, cfg) -> list:
    "Rows comparing the official ConvNet setting (`get_default_convnet_setting`) with ours."
    from dataset_condensation.models import ConvNet, default_convnet_depth

    p = inspect.signature(ConvNet).parameters
    return [
        ('model', 'ConvNet', 'ConvNet', cfg.arch),
        ('width', off.get('net_width'), off.get('net_width'), cfg.width),
        ('depth', off.get('net_depth'), off.get('net_depth'), cfg.depth or default_convnet_depth(28)),
        ('norm', off.get('net_norm'), off.get('net_norm'), p['norm'].default),
        ('activation', off.get('net_act'), off.get('net_act'), p['act'].default),
        ('pooling', off.get('net_pooling'), off.get('net_pooling'), p['pooling'].default),
    ]


def _flags(off: dict, cfg, *names: str, **renamed: str) -> list:
    """The rows of official flags `--name` run with our config's value on both sides: `names` read the field of the
    same name, `renamed` (flag=field) another one; in that order."""
    pairs = [(n, n) for n in names] + list(renamed.items())
    return [(f'--{n}', off[n], getattr(cfg, f), getattr(cfg, f)) for n, f in pairs]


def _official_args(rows: list, skip=()) -> list:
    "`--name value` for every compared field the official script takes as a flag (rows named `--name`)."
    return [x for name, _, run, _ in rows if name.startswith('--') and name not in skip for x in (name, run)]


def _defaults(a, method: str, utils: str) -> dict:
    "The official script's argparse defaults and ConvNet setting."
    return official_defaults(a.peers / OFFICIAL[method]) | official_defaults(a.peers / utils)


def spec_dm(a, data: Path) -> dict:
    from dataset_condensation.augment import dsa_strategy_for
    from dataset_condensation.distill.core import method_config

    over = {'eval_every': 0}
    cfg = method_config('dm', DATASET, IPC, 'paper', **over)
    off = _defaults(a, 'dm', 'DatasetCondensation/utils.py')
    strategy = (cfg.dsa_strategy or dsa_strategy_for(DATASET)) if cfg.dsa else 'none'
    rows = [
        ('--ipc', off['ipc'], IPC, cfg.ipc),
        *_flags(off, cfg, 'init', 'lr_img', 'batch_real'),
        ('--dsa_strategy', off['dsa_strategy'], strategy, strategy),
        ('image momentum', 0.5, 0.5, cfg.momentum_img),
    ] + _model_rows(off, cfg)
    fixed = ['--dataset', 'MNIST', '--num_exp', 1, '--num_eval', 1, '--epoch_eval_train', 1, '--data_path', data]

    def official(n, w):
        return [sys.executable, SHIM, a.peers / OFFICIAL['dm'], *fixed, *_official_args(rows), '--Iteration', n - 1,
                '--save_path', w]  # fmt: skip

    return dict(
        rows=rows,
        unit='it',
        official=official,
        ours=lambda n, w: ours_distill('dm', n, w, over),
        config=(
            f"DM, mnist5k (4,000 images as MNIST files), IPC 10, {cfg.batch_real} real images per class, DSA "
            f"`{strategy}`, ConvNet-3 width {cfg.width} instance norm, lr_img {cfg.lr_img}; official `--Iteration "
            "N-1` (it runs iterations 0..N-1) with a 1-epoch evaluation of 1 model at the first and the last; ours "
            "`--set eval_every=0`"
        ),
    )


def spec_gm(a, data: Path, method: str) -> dict:
    from dataset_condensation.augment import dsa_strategy_for
    from dataset_condensation.distill.core import method_config

    outer, inner = a.dc_loops
    over = {'outer_loop': outer, 'inner_loop': inner}
    cfg = method_config(method, DATASET, IPC, 'paper', **over)
    paper = method_config(method, DATASET, IPC, 'paper')
    off = _defaults(a, method, 'DatasetCondensation/utils.py')
    loops = f'{paper.outer_loop} / {paper.inner_loop}'
    rows = [
        ('--method', off['method'], method.upper(), method.upper()),
        ('--ipc', off['ipc'], IPC, cfg.ipc),
        ('outer / inner loops', f'{loops} (get_loops, IPC 10)', f'{outer} / {inner}', f'{outer} / {inner}'),
        *_flags(off, cfg, 'init', 'lr_img', 'lr_net', 'batch_real', 'batch_train', 'dis_metric'),
        ('image momentum', 0.5, 0.5, cfg.momentum_img),
    ]
    strategy = cfg.dsa_strategy or dsa_strategy_for(DATASET)
    if cfg.dsa:
        rows.append(('--dsa_strategy', off['dsa_strategy'], strategy, strategy))
    rows += _model_rows(off, cfg)
    fixed = ['--dataset', 'MNIST', '--num_exp', 1, '--num_eval', 1, '--data_path', data]

    def official(n, w):
        return [sys.executable, SHIM, '--stub-eval', '--loops', outer, inner, a.peers / OFFICIAL[method], *fixed,
                *_official_args(rows), '--Iteration', n - 1, '--save_path', w]  # fmt: skip

    aug = f"DSA `{strategy}`" if cfg.dsa else 'no augmentation'
    return dict(
        rows=rows,
        unit='it',
        official=official,
        ours=lambda n, w: ours_distill(method, n, w, over),
        config=(
            f"{method.upper()}, mnist5k, IPC 10, per iteration {outer} outer loops (10 classes of "
            f"{cfg.batch_real} real images each) with {inner} inner epochs on the set between them (the paper's "
            f"IPC 10 schedule, {loops}, has {paper.outer_loop} blocks and {paper.outer_loop - 1} inner loops), "
            f"init {cfg.init}, {aug}, ConvNet-3 width {cfg.width}; official `--Iteration N-1` (iterations 0..N-1), "
            "its evaluation stubbed (tools/peers_shim.py)"
        ),
    )


def spec_mtt(a, data: Path) -> dict:
    from dataset_condensation.augment import dsa_strategy_for
    from dataset_condensation.distill.core import method_config

    n_experts, epochs = 1, 2  # the smallest buffer with a start epoch and its target 2 epochs later
    over = {'syn_steps': a.mtt_syn_steps, 'expert_epochs': 2, 'max_start_epoch': epochs - 2 + 1}
    cfg = method_config('mtt', DATASET, IPC, 'paper', zca=False, **over)
    off = _defaults(a, 'mtt', 'mtt-distillation/utils.py')
    strategy = cfg.dsa_strategy or dsa_strategy_for(DATASET)
    rows = [
        ('--ipc', off['ipc'], IPC, cfg.ipc),
        *_flags(
            off,
            cfg,
            'syn_steps',
            'expert_epochs',
            'max_start_epoch',
            'lr_img',
            'lr_lr',
            'lr_teacher',
            'batch_syn',
            pix_init='init',
        ),
        ('--dsa_strategy', off['dsa_strategy'], strategy, strategy),
        ('ZCA', False, False, cfg.zca),
        ('image / lr momentum', 0.5, 0.5, cfg.momentum),
        ('experts', '100 x 50 epochs', f'{n_experts} x {epochs} epochs', f'{n_experts} x {epochs} epochs'),
    ] + _model_rows(off, cfg)
    buffers = a.work / 'buffers'
    skip = ('--batch_syn',) if cfg.batch_syn is None else ()  # None: all images in one batch, the official default

    def prepare(run: Runner):
        print(f"  mtt: making the expert buffers ({n_experts} expert x {epochs} epochs, untimed)", file=sys.stderr)
        run([a.python_peers, SHIM, '--mnist', '--cpu-copies', a.peers / 'mtt-distillation/buffer.py',
             '--dataset', 'MNIST', '--model', 'ConvNet', '--num_experts', n_experts, '--train_epochs', epochs,
             '--lr_teacher', cfg.expert_lr, '--batch_train', cfg.expert_batch, '--dsa', 'True', '--dsa_strategy',
             strategy, '--save_interval', n_experts, '--data_path', data, '--buffer_path', buffers / 'official'],
            'mtt buffer official')  # fmt: skip
        run(ours_cli('experts', '--dataset', DATASET, '--profile', 'paper', '--n-experts', n_experts, '--epochs',
                     epochs, '--lr', cfg.expert_lr, *RUN, '--out', buffers / 'ours'), 'mtt buffer ours')  # fmt: skip

    def official(n, w):
        return [a.python_peers, SHIM, '--mnist', '--cpu-cuda', a.peers / OFFICIAL['mtt'], '--dataset', 'MNIST',
                '--model', 'ConvNet', '--dsa', 'True', '--eval_it', NEVER, '--num_eval', 1, '--epoch_eval_train', 1,
                '--max_files', 1, '--data_path', data, '--buffer_path', buffers / 'official',
                *_official_args(rows, skip), '--Iteration', n - 1]  # fmt: skip

    return dict(
        rows=rows,
        unit='it',
        prepare=prepare,
        official=official,
        ours=lambda n, w: ours_distill('mtt', n, w, over, '--buffer', buffers / 'ours', '--no-zca'),
        config=(
            f"MTT, mnist5k, IPC 10, the author's CIFAR-10 IPC 10 row (lr_img {cfg.lr_img}, lr_lr {cfg.lr_lr}, "
            f"lr_teacher {cfg.lr_teacher}, expert_epochs {cfg.expert_epochs}) with syn_steps {cfg.syn_steps} "
            f"(the row has 30), max_start_epoch {cfg.max_start_epoch} ({n_experts} expert x {epochs} epochs), "
            f"all {IPC * 10} images per step, DSA `{strategy}`, no ZCA, ConvNet-3 width {cfg.width}; official "
            "`--Iteration N-1` (iterations 0..N-1), its evaluation at iteration 0 only (1 model, 1 epoch), wandb "
            "disabled"
        ),
    )


def spec_eval(a, data: Path) -> dict:
    from dataset_condensation.evaluate import RECIPES

    rec = RECIPES['dsa']
    coreset = a.work / 'coreset'
    k = a.eval_models
    opt = f'SGD {rec.lr} / {rec.momentum} / {rec.weight_decay}'
    sched = f'{rec.schedule} (lr x0.1 from epoch E // 2)'
    net = 'ConvNet-3 width 128'
    rows = [
        ('models', k, k, k),
        ('training images', f'{IPC * 10} (IPC {IPC})', f'{IPC * 10} (IPC {IPC})', f'{IPC * 10} (IPC {IPC})'),
        ('epochs E', rec.epochs, 'N1 and N2', 'N1 and N2'),
        ('optimizer: lr / momentum / weight decay', opt, opt, opt),
        ('batch size', rec.batch_size, rec.batch_size, rec.batch_size),
        ('lr schedule', sched, sched, sched),
        ('augmentation (make_augment)', rec.augment, rec.augment, rec.augment),
        ('model', net, net, net),
    ]

    def prepare(run: Runner):
        run(ours_cli('prune', '--dataset', DATASET, '--method', 'random', '--keep', IPC * 10, '--rule',
                     'class_balanced', *RUN, '--out', coreset), 'eval coreset')  # fmt: skip

    def ours(n, w):
        return ours_cli('eval', '--dataset', DATASET, '--coreset', coreset, '--recipe', 'dsa', '--epochs', n,
                        '--n-models', k, '--width', 128, *RUN, '--out', w)  # fmt: skip

    return dict(
        rows=rows,
        unit='epoch',
        prepare=prepare,
        official=lambda n, w: [sys.executable, Path(__file__).resolve(), '_plain_eval', coreset, n, k, DEVICE[0]],
        ours=ours,
        config=(
            f"evaluation: {k} ConvNet-3 (width 128) trained from scratch on a random class-balanced IPC 10 "
            f"coreset of mnist5k with the DSA recipe (SGD lr {rec.lr}, momentum {rec.momentum}, weight decay "
            f"{rec.weight_decay}, batch {rec.batch_size}, lr x0.1 at half the epochs, non-Siamese DSA per batch), "
            "then tested on the 1,000 test images; seconds per epoch of all the models together; the reference "
            "('official' column) is the plain PyTorch loop `plain_eval` of this script"
        ),
    )


# --------------------------------------------------------------------------------------- the plain PyTorch loop
def plain_convnet(channel: int = 1, n_classes: int = 10, width: int = 128, im: int = 28):
    "DC's ConvNet-3 as plain torch layers: conv3x3 (padding 3 for 1-channel input) → instance norm → ReLU → avg pool."
    from torch import nn

    layers, c, h = [], channel, im
    for d in range(3):
        pad = 3 if channel == 1 and d == 0 else 1
        layers += [nn.Conv2d(c, width, 3, padding=pad), nn.GroupNorm(width, width), nn.ReLU(), nn.AvgPool2d(2)]
        c, h = width, (h + 2 * pad - 2) // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(width * h * h, n_classes))


def plain_eval(coreset: Path, epochs: int, n_models: int, device: str = 'cpu') -> list:
    "Train `n_models` ConvNet-3 on the coreset with the DSA recipe in a plain loop on `device`; their test accuracies."
    import torch
    import torch.nn.functional as F
    from dataset_condensation.augment import make_augment
    from dataset_condensation.data import load_dataset
    from dataset_condensation.evaluate import RECIPES

    rec = RECIPES['dsa']
    if rec.schedule != 'step' or rec.optimizer != 'sgd':
        raise SystemExit(f"plain_eval writes SGD with a step schedule; the dsa recipe is now {rec}: update it")
    train, test = load_dataset(DATASET, device=device), load_dataset(DATASET, 'test', device=device)
    idx = torch.tensor(json.loads((Path(coreset) / 'coreset.json').read_text())['indices'], device=device)
    x, y = train.x[idx], train.y[idx]
    aug = make_augment(rec.augment, DATASET)
    accs = []
    for k in range(n_models):
        torch.manual_seed(k)
        g = torch.Generator(device).manual_seed(k)
        model = plain_convnet().to(device)
        opt = torch.optim.SGD(model.parameters(), lr=rec.lr, momentum=rec.momentum, weight_decay=rec.weight_decay)
        model.train()
        for epoch in range(epochs):
            for group in opt.param_groups:
                group['lr'] = rec.lr * (0.1 if epoch >= epochs // 2 else 1.0)
            for b in torch.randperm(len(x), device=device).split(rec.batch_size):
                xb = aug(x[b], g) if aug is not None else x[b]
                loss = F.cross_entropy(model(xb), y[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            hits = sum(int((model(xb).argmax(1) == yb).sum()) for xb, yb in zip(test.x.split(500), test.y.split(500)))
        accs.append(hits / len(test.y))
    return accs


# ------------------------------------------------------------------------------------------------------- main
def parse_counts(items: list, option: str) -> dict:
    "{'dm': 2, ...} from ['dm=2', ...]; a clear error names the option."
    out = {}
    for s in items or []:
        m, _, n = s.partition('=')
        if m not in METHODS or not n.isdigit() or int(n) < 1:
            raise SystemExit(f"{option}: expected METHOD=N with METHOD in {', '.join(METHODS)} and N >= 1; got {s!r}")
        out[m] = int(n)
    return out


def build_parser() -> argparse.ArgumentParser:
    P = argparse.ArgumentParser(
        prog='bench_peers', description=__doc__.split('\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    P.add_argument('--peers', type=Path, required=True, help='folder with DatasetCondensation/ and mtt-distillation/')
    P.add_argument('--methods', nargs='+', default=list(METHODS), choices=METHODS, help='what to time (default: all)')
    P.add_argument('--repeats', type=int, default=3, help='interleaved repeats (default 3)')
    P.add_argument('--n1', nargs='*', default=[], metavar='METHOD=N', help='shorter run per method, e.g. dm=2')
    P.add_argument('--n2', nargs='*', default=[], metavar='METHOD=N', help='longer run per method, e.g. dm=6')
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    P.add_argument('--threads', type=int, default=cores, help=f'threads per process, both sides (default {cores})')
    P.add_argument('--device', choices=('cpu', 'cuda'), default='cpu', help='where both sides run (default cpu)')
    P.add_argument('--python-peers', type=Path, default=Path(sys.executable), help='python with kornia and wandb (MTT)')
    P.add_argument('--allocator-default', action='store_true', help='also run ours with DC_CPU_ALLOCATOR=default')
    P.add_argument('--dc-loops', type=int, nargs=2, default=(2, 50), metavar=('OUTER', 'INNER'),
                   help='DC/DSA outer and inner loops per iteration (default 2 50; paper IPC 10: 10 50)')  # fmt: skip
    P.add_argument('--mtt-syn-steps', type=int, default=10, help='MTT student steps per iteration (default 10)')
    P.add_argument('--eval-models', type=int, default=3, help='models per evaluation (default 3)')
    P.add_argument(
        '--work', type=Path, default=None, help='folder for data, buffers and logs (default: a temporary one)'
    )
    P.add_argument('--out', type=Path, default=None, help='also write the markdown report to this file')
    return P


def check_args(a) -> None:
    "Refuse bad input with a message naming the argument."
    if not a.peers.is_dir():
        raise SystemExit(f"--peers: {a.peers} is not a folder")
    need = {OFFICIAL[m] for m in a.methods if m in OFFICIAL} | (
        {'mtt-distillation/buffer.py'} if 'mtt' in a.methods else set()
    )
    missing = sorted(p for p in need if not (a.peers / p).is_file())
    if missing:
        raise SystemExit(f"--peers: {a.peers} lacks {', '.join(missing)} (the official code of the methods asked)")
    for name in ('repeats', 'threads', 'mtt_syn_steps', 'eval_models'):
        if getattr(a, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')}: expected an integer >= 1; got {getattr(a, name)}")
    if min(a.dc_loops) < 1:
        raise SystemExit(f"--dc-loops: expected two integers >= 1 (outer, inner); got {list(a.dc_loops)}")
    if a.device == 'cuda':
        r = subprocess.run([str(a.python_peers), '-c', 'import torch; assert torch.cuda.is_available()'])
        if r.returncode != 0:
            raise SystemExit(f"--device cuda: {a.python_peers} sees no CUDA GPU (torch.cuda.is_available() is False)")
    if 'mtt' in a.methods:
        r = subprocess.run([str(a.python_peers), '-c', 'import kornia, wandb'], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(
                f"--python-peers: {a.python_peers} cannot import kornia and wandb (MTT's scripts need them); make a "
                "side environment (python -m venv --system-site-packages ENV && ENV/bin/pip install kornia wandb) "
                "and pass ENV/bin/python"
            )
    n1, n2 = parse_counts(a.n1, '--n1'), parse_counts(a.n2, '--n2')
    a.counts = {m: (n1.get(m, DEFAULT_N[m][0]), n2.get(m, DEFAULT_N[m][1])) for m in METHODS}
    for m in a.methods:
        if a.counts[m][1] <= a.counts[m][0]:
            raise SystemExit(f"--n2 {m}={a.counts[m][1]} must be larger than --n1 {m}={a.counts[m][0]}")


def variants_of(a) -> list:
    "The sides timed in every repeat: the official code, ours, and ours with glibc's default allocator if asked."
    return ['official', 'ours'] + (['ours_default'] if a.allocator_default else [])


def measure(a, specs: dict, run, work: Path) -> dict:
    """{method: {side: [seconds per unit, one per repeat]}}: per repeat and side, N1 then N2 units, sides in turn
    (official N1, official N2, ours N1, ours N2, ...). `run(argv, label, cwd=, env=)` returns a wall time."""
    results = {}
    for m, s in specs.items():
        n1, n2 = a.counts[m]
        print(f"{m}: {n1} and {n2} {s['unit']}(s), {a.repeats} repeat(s)", file=sys.stderr)
        if 'prepare' in s:
            s['prepare'](run)
        per = {v: [] for v in variants_of(a)}
        for r in range(a.repeats):
            for v in per:
                t = []
                for n in (n1, n2):
                    w = work / 'runs' / f'{m}_{v}_{n}'
                    w.mkdir(parents=True, exist_ok=True)
                    label = f'{m} {v} n={n} rep {r + 1}'
                    if v == 'official':  # run in its own folder: MTT writes logged_files/ where it runs
                        t.append(run(s['official'](n, w), label, cwd=w))
                    else:
                        env = {'DC_CPU_ALLOCATOR': 'default'} if v == 'ours_default' else None
                        t.append(run(s['ours'](n, w), label, env=env))
                per[v].append(per_unit(t[0], t[1], n1, n2))
            done = ', '.join(f"{v} {per[v][-1]:.3f} s/{s['unit']}" for v in per)
            print(f"  {m} repeat {r + 1}: {done}", file=sys.stderr)
        results[m] = per
    return results


def report(a, results: dict, specs: dict, command: str, minutes: float) -> str:
    "The markdown report: the table of seconds per unit and ratios, the machine, the command, each configuration."
    variants = variants_of(a)
    head = '| method | unit | official s/unit: median (min / max) | ours s/unit | official / ours |'
    sep = '|---|---|---:|---:|---:|'
    if a.allocator_default:
        head += ' ours, DC_CPU_ALLOCATOR=default | official / ours (default allocator) |'
        sep += '---:|---:|'
    lines = [head, sep]
    for m, per in results.items():
        name = f"{m} (reference: plain PyTorch loop)" if m == 'eval' else m
        cells = [name, specs[m]['unit'], fmt_spread(per['official'])]
        for v in variants[1:]:
            ratios = [o / u for o, u in zip(per['official'], per[v])]
            cells += [fmt_spread(per[v]), fmt_ratio(ratios)]
        lines.append('| ' + ' | '.join(cells) + ' |')
    out = [
        f"Seconds per {'/'.join(sorted({specs[m]['unit'] for m in results}))} on the {a.device.upper()}, "
        f"{a.repeats} interleaved repeat(s), (N2 - N1) differencing; ratio > 1: ours is faster.",
        '',
        *lines,
        '',
        f"- machine: {machine(a.threads, a.device)}",
        f"- command: `{command}`",
        "- runs: N1 / N2 = " + ', '.join(f"{m} {a.counts[m][0]} / {a.counts[m][1]}" for m in results),
        f"- wall time of the benchmark: {minutes:.1f} min",
        "- ours runs with the library's tuned CPU allocator (`core.tune_cpu_allocator`, glibc mallopt: large "
        "tensors reuse their pages); `DC_CPU_ALLOCATOR=default` turns it off"
        + (" (the extra columns)" if a.allocator_default else " (`--allocator-default` adds those runs)")
        + "; the official scripts run with glibc's defaults.",
    ]
    for m in results:
        out += ['', f"**{m}**: {specs[m]['config']}.", '', '| setting | official default | official, as run | ours |',
                '|---|---|---|---|']  # fmt: skip
        for name, default, run, ours in specs[m]['rows']:
            flag = '' if str(run) == str(ours) else ' **(differs)**'
            out.append(f"| {name.lstrip('-')} | {default} | {run} | {ours}{flag} |")
    return '\n'.join(out)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['_plain_eval']:  # the reference loop, run as its own process by the eval benchmark
        accs = plain_eval(Path(argv[1]), int(argv[2]), int(argv[3]), *argv[4:5])
        print('test accuracies', accs)
        return 0
    a = build_parser().parse_args(argv)
    a.peers = a.peers.resolve()
    check_args(a)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix='bench_peers_') as tmp:
        a.work = (a.work or Path(tmp)).resolve()
        a.work.mkdir(parents=True, exist_ok=True)
        DEVICE[0] = a.device
        run = Runner(a.work, a.threads, a.device)
        print(f"bench_peers: work folder {a.work}; {machine(a.threads, a.device)}", file=sys.stderr)
        data = write_mnist_idx(a.work / 'data')
        makers = {'dm': spec_dm, 'dc': spec_gm, 'dsa': spec_gm, 'mtt': spec_mtt, 'eval': spec_eval}
        specs = {m: makers[m](a, data, m) if makers[m] is spec_gm else makers[m](a, data) for m in a.methods}
        results = measure(a, specs, run, a.work)
        (a.work / 'results.json').write_text(json.dumps(results, indent=1))
        minutes = (time.time() - started) / 60
        text = report(a, results, specs, 'bash tools/bench_peers.sh ' + shlex.join(argv), minutes)
    print(text)
    if a.out:
        a.out.write_text(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
