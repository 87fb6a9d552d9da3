#!/usr/bin/env python
"""The training paths of two versions side by side: the same seeds must give bitwise-equal results.

Usage: python tools/compare_versions.py REF   (e.g. 39aa0ac, the commit before the one-loop refactor)

REF is checked out into a temporary git worktree; this checkout's package and REF's are imported in turn and run on
`digits` (seconds): the evaluation protocol (final and best), a recorded scoring run, forgetting (with the paper's
Nesterov and milestones), offline EL2N, GraNd, TDDS, an SGD and a GSAM expert, and a few DC and DSA iterations."""

import importlib
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

torch.set_num_threads(1)


def load(root):
    for k in [k for k in sys.modules if k.startswith('dataset_condensation')]:
        del sys.modules[k]
    sys.path.insert(0, root)
    mods = {
        m: importlib.import_module(f'dataset_condensation.{m}')
        for m in [
            'data',
            'train',
            'evaluate',
            'pruning.core',
            'pruning.forgetting',
            'pruning.el2n',
            'pruning.tdds',
            'pruning.eva',
            'distill.core',
            'distill.trajectory',
            'distill.gradient',
            'distill.distribution',
            'distill.ftd',
        ]
    }
    sys.path.pop(0)
    return mods


def run(M):
    out = {}
    dg = M['data'].load_dataset('digits')
    te = M['data'].load_dataset('digits', 'test')
    sub = dg.subset(torch.arange(0, len(dg), 3))
    r = M['evaluate'].evaluate_subset(
        dg, torch.arange(0, len(dg), 5), te, recipe='dsa', epochs=3, n_models=2, arch='ConvNet', width=8
    )
    out['evaluate_subset_dsa'] = torch.tensor(r.accs)
    r = M['evaluate'].evaluate_subset(
        dg,
        torch.arange(0, len(dg), 5),
        te,
        epochs=4,
        batch_size=32,
        schedule='cosine',
        n_models=2,
        arch='ConvNet',
        width=8,
        report='best',
    )
    out['evaluate_best'] = torch.tensor(r.accs)
    td = M['pruning.core'].record_dynamics(sub, epochs=3, width=8, seed=3)
    out['dyn_logp'] = td.logp.float()
    out['dyn_model'] = torch.cat([p.detach().flatten() for p in td.model.parameters()])
    out['forgetting'] = M['pruning.forgetting'].forgetting(
        sub, seed=1, runs=2, epochs=3, width=8, nesterov=True, schedule='multistep', milestones=(1, 2), gamma=0.2
    )
    out['el2n_offline'] = M['pruning.el2n'].el2n(sub, seed=5, runs=2, epoch=1, epochs=3, width=8)
    out['grand'] = M['pruning.el2n'].grand(sub, seed=5, runs=1, epoch=1, epochs=2, width=8)
    out['tdds'] = M['pruning.tdds'].tdds(sub, seed=0, T=4, window=3, epochs=4, width=8)
    T = M['distill.trajectory']
    spec = T.buffer_spec(sub, epochs=2, arch_options=dict(width=8))
    out['expert_sgd'] = T.train_expert(sub, spec, 1)[0]
    spec = T.buffer_spec(sub, epochs=2, arch_options=dict(width=8), step='gsam', step_options=dict(rho=0.05, alpha=0.3))
    out['expert_gsam'] = T.train_expert(sub, spec, 0)[0]
    D = M['distill.core']
    syn = D.distill(sub, 'dsa', 2, profile='cpu', iterations=3, width=8, seed=0, eval_epochs=3)
    out['dsa_images'] = syn.images
    syn = D.distill(sub, 'dc', 1, profile='cpu', iterations=2, width=8, seed=1, eval_epochs=3)
    out['dc_images'] = syn.images
    return out


def main(ref: str) -> int:
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        wt = Path(tmp) / 'ref'
        subprocess.run(['git', '-C', str(repo), 'worktree', 'add', '-q', '--detach', str(wt), ref], check=True)
        try:
            new = run(load(str(repo)))
            old = run(load(str(wt)))
        finally:
            subprocess.run(['git', '-C', str(repo), 'worktree', 'remove', '--force', str(wt)], check=False)
    bad = 0
    for k in new:
        eq = torch.equal(new[k], old[k])
        bad += not eq
        diff = (new[k].float() - old[k].float()).abs().max().item()
        print(f"{k:22s} {'bitwise equal' if eq else f'DIFFERENT (max abs diff {diff:.3g})'}")
    return int(bad > 0)


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
