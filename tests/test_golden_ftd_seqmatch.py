"""Golden preset tests of FTD and SeqMatch: every published row, field by field, against the official value.

FTD: paper Table 7 (Du et al., CVPR 2023, "used for the main result table"; 90_references.ipynb#ftd) and the
official code AngusDujw/FTD-distillation at 711532a (`buffer/run_buffer.sh`, `buffer/buffer_FTD.py`,
`distill/distill_FTD.py`, `distill/run_distill.sh`). SeqMatch: the only published SeqMatch-MTT setting,
shqii1j/seqmatch at 9d7efad `seqmatch-mtt/run.sh` (CIFAR-10 IPC 50), with the argparse defaults of
`seqmatch-mtt/buffer.py` and `seqmatch-mtt/distill_eval_new.py` (90_references.ipynb#seqmatch). A preset that drifts
from its source fails here, and so does a preset row whose field nothing in the package reads.
"""

import dataclasses

import pytest
from golden import check_fields, names_read

from dataset_condensation.evaluate import get_recipe
from dataset_condensation.distill.ftd import FTD_FIELDS, FTD_PRESETS, FTDConfig
from dataset_condensation.distill.seqmatch_config import SEQMATCH_PRESETS, SeqMatchConfig, stage_plan


# ---------------------------------------------------------------------------------------------------------------
# FTD
# ---------------------------------------------------------------------------------------------------------------

# Table 7 (one column per setting): N, M, max start epoch, batch_syn ('-': all images), lr_img, lr_lr, lr_teacher (the
# learned step size's start), GSAM alpha, EMA decay. ZCA: paper §4.1 (CIFAR whitened, Tiny-ImageNet not).
FTD_TABLE7 = {
    ('cifar10', 1): (50, 2, 2, None, 100, 1e-7, 0.01, 0.3, 0.9999, True),
    ('cifar10', 10): (30, 2, 20, None, 100, 1e-5, 0.001, 0.3, 0.9995, True),  # = run_distill.sh line 4
    ('cifar10', 50): (30, 2, 40, None, 1000, 1e-5, 0.01, 1.0, 0.999, True),
    ('cifar100', 1): (40, 3, 20, None, 1000, 1e-5, 0.01, 1.0, 0.9995, True),
    ('cifar100', 10): (20, 2, 40, None, 1000, 1e-5, 0.01, 1.0, 0.9995, True),  # = run_distill.sh line 7
    ('cifar100', 50): (80, 2, 40, 1000, 1000, 1e-5, 0.01, 1.0, 0.999, True),
    ('tinyimagenet', 1): (30, 2, 10, None, 10000, 1e-4, 0.01, 1.0, 0.999, False),
    ('tinyimagenet', 10): (20, 2, 40, 500, 10000, 1e-4, 0.01, 1.0, 0.999, False),
}
FTD_TABLE7_FIELDS = (
    'syn_steps',
    'expert_epochs',
    'max_start_epoch',
    'batch_syn',
    'lr_img',
    'lr_lr',
    'lr_teacher',
    'alpha',
    'ema_decay',
    'zca',
)
# The same in every setting:
FTD_COMMON = dict(
    rho=0.01,  # paper §4.1 "rho = 0.01"; buffer/run_buffer.sh line 4 --rho_max=0.01 --rho_min=0.01
    n_experts=100,  # buffer/run_buffer.sh line 2 --num_experts=100
    expert_train_epochs=50,  # buffer/run_buffer.sh line 2 --train_epochs=50
    expert_lr=0.01,  # buffer/buffer_FTD.py line 133 --lr_teacher default 0.01 (run_buffer.sh does not set it)
    expert_batch=256,  # buffer/buffer_FTD.py line 134 --batch_train default 256
    iterations=5000,  # distill/distill_FTD.py line 569 --Iteration default; run_distill.sh lines 4, 7
    momentum=0.5,  # distill/distill_FTD.py line 146: optimizer_img = SGD(..., momentum=0.5)
    eval_models=5,  # distill/distill_FTD.py line 564 --num_eval default 5
    eval_recipe='dsa',  # distill/distill_FTD.py line 584 --dsa default 'True'
    arch='ConvNet',  # distill/distill_FTD.py line 557 --model default 'ConvNet'
    width=128,  # networks.py ConvNet net_width 128 (utils get_network)
    dsa=True,
)


@pytest.mark.parametrize('key', sorted(FTD_TABLE7))
def test_ftd_paper_rows(key):
    dataset, ipc = key
    cfg = FTDConfig.preset(dataset, ipc, 'paper')
    check_fields(cfg, dict(zip(FTD_TABLE7_FIELDS, FTD_TABLE7[key]), **FTD_COMMON))
    assert cfg.depth == (4 if dataset == 'tinyimagenet' else None)  # paper §4.2: ConvNetD4 for 64 px
    assert get_recipe(cfg.eval_recipe).epochs == 1000  # distill_FTD.py line 568 --epoch_eval_train default 1000
    assert cfg.eval_epochs is None  # the recipe's 1000 epochs
    assert cfg.notes == ''  # a published row, no nearest-row substitute


def test_ftd_table_covers_every_row_and_field():
    "Every row of FTD_PRESETS is checked above and every field of a row is one the table checks."
    assert set(FTD_PRESETS) == set(FTD_TABLE7)
    assert tuple(FTD_FIELDS) == FTD_TABLE7_FIELDS


def test_ftd_cpu_profile_keeps_the_paper_rows_untouched():
    "The CPU profile's own EMA decay does not leak into the paper preset (the same row, other run length)."
    for dataset, ipc in FTD_TABLE7:
        assert FTDConfig.preset(dataset, ipc, 'paper').ema_decay == FTD_TABLE7[dataset, ipc][8]


# ---------------------------------------------------------------------------------------------------------------
# SeqMatch
# ---------------------------------------------------------------------------------------------------------------

SEQMATCH_RUN_SH = {
    ('cifar10', 50): dict(
        n_stages=3,  # run.sh lines 3-8: three subsets
        ipcs=(17, 17, 16),  # run.sh lines 6-8 IPC1, IPC2, IPC3
        intervals=((0, 20), (0, 20), (0, 10)),  # run.sh lines 3-5 INTERVAL1..3
        syn_steps=30,  # run.sh lines 15, 26, 37 --syn_steps=30
        expert_epochs=2,  # run.sh lines 15, 26, 37 --expert_epochs=2
        max_start_epoch=18,  # stage 1's interval end 20 minus M = 2 (distill_eval_new.py line 365)
        lr_img=100,  # run.sh lines 17, 28, 39 --lr_img=100
        lr_lr=1e-5,  # run.sh lines 17, 28, 39 --lr_lr=1e-05
        syn_lr_init=(0.001, 0.01, 0.01),  # run.sh lines 17, 28, 39: distill_eval_new.py's --lr_teacher per stage
        lr_teacher=0.001,  # stage 1's (run.sh line 17), MTTConfig's meaning: the learned step size's start
        expert_lr=0.01,  # buffer.py line 152 --lr_teacher default 0.01; run.sh line 11 does not set it
        stage_expert_lr=0.01,  # the same default; run.sh lines 21, 32 do not set it
        n_experts=100,  # run.sh line 11 --num_experts=100
        expert_train_epochs=50,  # run.sh line 11 --train_epochs=50
        stage_n_experts=100,  # run.sh lines 21, 32 --num_experts=100
        stage_expert_epochs=20,  # run.sh lines 21, 32 --train_epochs=20
        expert_batch=256,  # buffer.py line 153 --batch_train default 256
        zca=True,  # run.sh lines 11, 15, 21, 26, 32, 37 --zca
        batch_syn=None,  # distill_eval_new.py line 470 --batch_syn default None
        iterations=5000,  # distill_eval_new.py line 462 --Iteration default 5000 (per stage)
        momentum=0.5,  # distill_eval_new.py line 198: optimizer_img = SGD(..., momentum=0.5)
        eval_models=5,  # distill_eval_new.py line 458 --num_eval default 5
        eval_recipe='dsa',
        arch='ConvNet',
        width=128,
        cumulative=True,  # evaluation.py / buffer.py --pre_names: phase j trains on S_1..S_j
    ),
}


@pytest.mark.parametrize('key', sorted(SEQMATCH_RUN_SH))
def test_seqmatch_paper_rows(key):
    cfg = SeqMatchConfig.preset(*key, 'paper')
    check_fields(cfg, SEQMATCH_RUN_SH[key])
    assert get_recipe(cfg.eval_recipe).epochs == 1000  # distill_eval_new.py line 461 --epoch_eval_train 1000
    plan = stage_plan(cfg, 10, cfg.expert_train_epochs)
    assert [p['start_range'] for p in plan] == [[0, 18], [0, 18], [0, 8]]  # np.random.randint(a, b - M), line 365
    assert [p['syn_lr_init'] for p in plan] == [0.001, 0.01, 0.01]
    assert [p['expert_lr'] for p in plan] == [0.01, 0.01, 0.01]  # buffer.py's lr for every stage buffer
    assert [p['batch_syn'] for p in plan] == [170, 170, 160]  # batch_syn None: C * ipc_k images


def test_seqmatch_table_covers_every_row_and_field():
    assert set(SEQMATCH_PRESETS) == set(SEQMATCH_RUN_SH)
    for key, row in SEQMATCH_PRESETS.items():
        assert set(row) <= set(SEQMATCH_RUN_SH[key]), sorted(set(row) - set(SEQMATCH_RUN_SH[key]))


def test_seqmatch_mtt_fallback_keeps_mtt_meaning_of_lr_teacher():
    "Rows without a published setting: MTT's lr_teacher is the learned step size's start of stage 1, as in MTTConfig."
    cfg = SeqMatchConfig.preset('cifar100', 10, 'paper')
    assert cfg.syn_lr_init[0] == cfg.lr_teacher
    assert stage_plan(cfg, 100, 50)[0]['expert_lr'] == cfg.expert_lr == 0.01


# ---------------------------------------------------------------------------------------------------------------
# The comparison and the "read by something" check themselves
# ---------------------------------------------------------------------------------------------------------------


def test_every_preset_field_is_read():
    "Each field a published row sets is a configuration field that some code reads."
    read = names_read()
    for cls, fields in (
        (FTDConfig, set(FTD_FIELDS) | set(FTD_COMMON)),
        (SeqMatchConfig, set(SEQMATCH_RUN_SH[('cifar10', 50)])),
    ):
        names = {f.name for f in dataclasses.fields(cls)}
        assert fields <= names, sorted(fields - names)
        assert fields <= read, f"{cls.__name__}: preset fields read by nothing: {sorted(fields - read)}"


def test_check_fields_catches_a_wrong_value():
    cfg = FTDConfig.preset('cifar10', 1, 'paper')
    with pytest.raises(AssertionError, match='ema_decay'):
        check_fields(cfg, dict(ema_decay=0.999))
    with pytest.raises(AssertionError, match='intervals'):
        check_fields(SeqMatchConfig.preset('cifar10', 50, 'paper'), dict(intervals=((0, 20), (0, 10), (0, 20))))
