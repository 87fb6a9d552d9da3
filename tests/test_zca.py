"""ZCA whitening end to end for the methods that reuse trajectory matching's code (FTD, SeqMatch): their buffers and
sets carry the data's whitening record, and every mismatch (configuration, buffer, test data) is refused.

MTT's round trip and refusals are in `nbs/24_trajectory_matching.ipynb`, the data side in `nbs/01_data.ipynb`; these
tests show that FTD and SeqMatch get the same checks through the shared code, without code of their own.
"""

from __future__ import annotations
import math
import pytest
from dataset_condensation.data import load_dataset
from dataset_condensation.distill.core import distill, evaluate_synthetic
from dataset_condensation.distill.trajectory import train_experts

EXPERTS = dict(epochs=3, lr=0.01, arch_options=dict(width=8), batch_size=128)
SMALL = dict(
    profile='cpu', width=8, syn_steps=3, expert_epochs=1, max_start_epoch=2, lr_img=10.0, lr_lr=1e-6, progress=False
)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('zca')
    plain, white = load_dataset('digits'), load_dataset('digits', zca=True)
    test_white = load_dataset('digits', 'test', zca=True)
    train_experts(plain, tmp / 'plain', n_experts=1, **EXPERTS)
    train_experts(white, tmp / 'white', n_experts=1, **EXPERTS)
    train_experts(
        white, tmp / 'white_gsam', n_experts=1, step='gsam', step_options=dict(rho=0.01, alpha=1.0), **EXPERTS
    )
    return tmp, plain, white, test_white


def test_ftd_round_trip(setup):
    tmp, _, white, test_white = setup
    syn = distill(
        white, 'ftd', 2, iterations=4, buffer=str(tmp / 'white_gsam'), zca=True, alpha=1.0, ema_decay=0.5, **SMALL
    )
    assert syn.meta['zca'] == white.meta['zca'] and syn.meta['method'] == 'ftd'
    r = evaluate_synthetic(syn, test_white, n_models=1)  # its recipe: DSA, 300 epochs, learned lr
    assert math.isfinite(r.acc_mean) and r.acc_mean > 0.3, r  # 48% measured; chance is 10%
    assert r.extra['zca'] == test_white.meta['zca']
    with pytest.raises(ValueError, match=r"load it with load_dataset\('digits', 'test', zca=True\)"):
        evaluate_synthetic(syn, load_dataset('digits', 'test'), n_models=1)


@pytest.mark.parametrize('method', ['ftd', 'seqmatch'])
def test_refusals(setup, method):
    tmp, plain, white, _ = setup
    kw = dict(SMALL, allow_sgd_buffer=True) if method == 'ftd' else dict(SMALL, stage_n_experts=1)
    ipc = 2
    with pytest.raises(ValueError, match=r"load_dataset\('digits', zca=True\) \(`dc distill --zca`\)"):
        distill(plain, method, ipc, iterations=2, buffer=str(tmp / 'plain'), zca=True, **kw)  # preset for whitened
    with pytest.raises(ValueError, match="zca=False but the 'digits' data is ZCA-whitened"):
        distill(white, method, ipc, iterations=2, buffer=str(tmp / 'white'), zca=False, **kw)
    with pytest.raises(ValueError, match='buffer was trained on data not whitened but the data is ZCA-whitened'):
        distill(white, method, ipc, iterations=2, buffer=str(tmp / 'plain'), zca=True, **kw)
    with pytest.raises(ValueError, match=r'buffer was trained on data ZCA-whitened \(eps 0.1'):
        distill(plain, method, ipc, iterations=2, buffer=str(tmp / 'white'), zca=False, **kw)
