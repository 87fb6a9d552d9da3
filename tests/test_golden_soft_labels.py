"""Golden values of the soft-label presets (SRe2L, DWA, INFER), each against the official line it comes from.

Repositories (commits in nbs/90_references.ipynb): VILA-Lab/SRe2L 8d00cba (S), zeyuanyin/tiny-imagenet 275c667 (TI),
AngusDujw/Diversity-Driven-Synthesis c5b125f (D), zhangxin-xd/UFC 83d19f8 (U). A wrong value fails here, and a preset
field that nothing reads fails `test_every_field_is_read`.
"""

import dataclasses

import pytest
import torch

from dataset_condensation.distill.dwa import recover_augment
from dataset_condensation.distill.relabel import DWAConfig, SRe2LConfig, STUDENT_RECIPE_FIELDS, student_recipe
from dataset_condensation.distill.infer import INFERConfig

ADAMW = dict(optimizer='adamw', lr=1e-3, weight_decay=0.01, schedule='cosine')

# (config, dataset): {field: value}, each with its source line
GOLDEN = {
    (SRe2LConfig, 'cifar100'): dict(
        iterations=1000,  # S SRe2L/*small_dataset/recover_cifar.sh --iteration 1000
        lr=0.25,  # recover_cifar.sh --lr 0.25
        r_bn=0.01,  # recover_cifar.sh --r-bn 0.01
        batch=100,  # recover_cifar.sh --batch-size 100
        init='noise',  # recover_cifar.py:64 torch.randn
        first_bn_weight=10.0,  # recover_cifar.py:216
        jitter=4,  # recover_cifar.py:211
        jitter_range='positive',  # recover_cifar.py:79-80 random.randint(0, lim)
        flip=False,  # recover_cifar.py:78-81: roll only
        crop=False,  # recover_cifar.py: whole image (README_CIFAR.md: no multi-crop)
        label_mode='online',  # relabel_cifar.py:138 model_teacher(inputs) on the mixed batch
        temperature=30.0,  # relabel_cifar.py:107
        mixup=0.8,  # relabel_cifar.py:111 (alpha=0.8), 133
        cutmix=0.0,  # relabel_cifar.py: mixup only
        student_epochs=400,  # relabel_cifar.sh --epochs 400
        student_batch=128,  # relabel_cifar.sh --batch-size 128
        student_optimizer='adamw',  # relabel_cifar.py:104
        student_lr=1e-3,  # relabel_cifar.py:104
        student_weight_decay=0.01,  # relabel_cifar.py:104
        student_schedule='cosine',  # relabel_cifar.py:106
        student_augment='standard',  # relabel_cifar.py:51-52 RandomCrop(32, 4) + flip
    ),
    (SRe2LConfig, 'tinyimagenet'): dict(
        iterations=4000,  # S recover_tiny.sh --iteration 4000
        lr=0.1,  # recover_tiny.sh --lr 0.1
        r_bn=1.0,  # recover_tiny.sh --r-bn 1
        batch=100,  # recover_tiny.sh --batch-size 100
        jitter=4,  # recover_tiny.py:142
        jitter_range='symmetric',  # recover_tiny.py:56-57 random.randint(-jitter, jitter)
        crop=True,  # recover_tiny.py:50 RandomResizedCrop(64)
        flip=True,  # recover_tiny.py:51 RandomHorizontalFlip
        label_mode='online',  # TI classification/train_kd.py:33 teacher_model(image)
        temperature=20.0,  # TI script/train_kd.sh -T 20
        mixup=0.0,  # TI train_kd.py:417 default 0
        cutmix=0.0,  # TI train_kd.py:418 default 0
        student_epochs=100,  # TI train_kd.sh --epochs 100
        student_batch=256,  # TI train_kd.sh --batch-size 256
        student_optimizer='sgd',  # TI train_kd.sh --opt sgd
        student_lr=0.2,  # TI train_kd.sh --lr 0.2
        student_weight_decay=1e-4,  # TI train_kd.sh --weight-decay 1e-4
        student_schedule='cosine',  # TI train_kd.sh --lr-scheduler cosineannealinglr
        student_augment='resized_crop',  # TI train_kd.py:119-120
    ),
    (SRe2LConfig, 'imagenet'): dict(
        iterations=4000,  # S recover/recover.sh --iteration 4000
        lr=0.25,  # recover.sh --lr 0.25
        r_bn=0.01,  # recover.sh --r-bn 0.01
        batch=100,  # recover.sh --batch-size 100
        im_size=224,  # recover/data_synthesis.py:40 randn((B, 3, 224, 224)), :56 RandomResizedCrop(224)
        teacher_arch='torchvision:resnet18',  # recover.sh --arch-name resnet18; data_synthesis.py:206 (pretrained)
        first_bn_weight=10.0,  # data_synthesis.py:180 --first-bn-multiplier 10
        jitter=32,  # recover/data_synthesis.py:177
        jitter_range='positive',  # data_synthesis.py:62-63 random.randint(0, lim)
        crop=True,  # data_synthesis.py:56
        flip=True,  # data_synthesis.py:57
        label_mode='per_crop',  # relabel/relabel.sh generate_soft_label.py --mode fkd_save
        temperature=20.0,  # validate/train_FKD.sh -T 20
        mixup=0.0,  # relabel.sh --mix-type cutmix
        cutmix=1.0,  # relabel.sh --mix-type cutmix; cutmix alpha 1 (D validation/utils_fkd.py:205 Beta(cutmix))
        student_epochs=300,  # relabel.sh --epochs 300
        student_batch=1024,  # train_FKD.sh --batch-size 1024
        student_optimizer='adamw',  # train_FKD.py:157
        student_lr=1e-3,  # train_FKD.py:58-59
        student_weight_decay=0.01,  # train_FKD.py:60-61
        student_schedule='cosine',  # train_FKD.sh --cos
    ),
    (DWAConfig, 'cifar10'): dict(
        iterations=1000,  # D scripts/run_cifar.sh --iteration 1000
        lr=0.25,  # run_cifar.sh --lr 0.25
        r_bn=0.01,  # run_cifar.sh --r-bn 0.01
        batch=100,  # run_cifar.sh --batch-size 100
        K=12,  # run_cifar.sh --steps 12
        rho=15e-3,  # run_cifar.sh --rho 15e-3
        r_var=11.0,  # run_cifar.sh --r-var 11
        init='real',  # distillation/distillation_cifar.py:36 init tensor
        jitter=4,  # distillation_cifar.py:168
        jitter_range='positive',  # distillation_cifar.py:55-56 random.randint(0, lim)
        flip=False,  # distillation_cifar.py:54-57: roll only
        crop=False,
        label_mode='online',  # validation/validation_cifar.py:206
        temperature=30.0,  # validation_cifar.py:173
        mixup=0.8,  # validation_cifar.py:177, 199
        cutmix=0.0,
        student_epochs=400,  # run_cifar.sh --epochs 400
        student_batch=128,  # run_cifar.sh --batch-size 128
        student_optimizer='adamw',  # validation_cifar.py:170
        student_lr=1e-3,  # validation_cifar.py:170
        student_weight_decay=0.01,  # validation_cifar.py:170
        student_schedule='cosine',  # validation_cifar.py:172
        student_augment='standard',  # validation_cifar.py:72-73
    ),
    (DWAConfig, 'tinyimagenet'): dict(
        iterations=2000,  # D scripts/run_tiny.sh --iteration 2000
        lr=0.1,  # run_tiny.sh --lr 0.1
        r_bn=0.01,  # run_tiny.sh --r-bn 0.01
        batch=200,  # run_tiny.sh --batch-size 200
        K=12,  # run_tiny.sh --steps 12
        rho=15e-3,  # run_tiny.sh --rho 15e-3
        r_var=11.0,  # run_tiny.sh --r-var 11
        jitter=4,  # distillation_tiny.py:188
        jitter_range='positive',  # distillation_tiny.py:88-89
        crop=True,  # distillation_tiny.py:82
        flip=True,  # distillation_tiny.py:83
        label_mode='online',  # validation/validation_tiny.py:33
        temperature=20.0,  # validation_tiny.py:444 (loss x T^2 at :37, as ours)
        mixup=0.0,  # validation_tiny.py:405
        cutmix=1.0,  # validation_tiny.py:406, 191-192
        student_epochs=200,  # run_tiny.sh --epochs 200
        student_batch=64,  # run_tiny.sh --batch-size 64
        student_optimizer='sgd',  # validation_tiny.py:397 default sgd
        student_lr=0.2,  # run_tiny.sh --lr 0.2
        student_weight_decay=1e-4,  # run_tiny.sh --weight-decay 1e-4
        student_schedule='cosine',  # run_tiny.sh --lr-scheduler cosineannealinglr
        student_augment='resized_crop',  # validation_tiny.py:133-134
    ),
    (DWAConfig, 'imagenet'): dict(
        iterations=2000,  # D scripts/run_imgnet.sh --iteration 2000
        lr=0.25,  # run_imgnet.sh --lr 0.25
        r_bn=0.01,  # run_imgnet.sh --r-bn 0.01
        batch=100,  # run_imgnet.sh --batch-size 100
        K=15,  # run_imgnet.sh --steps 15
        rho=15e-3,  # run_imgnet.sh --rho 15e-3
        r_var=2.0,  # run_imgnet.sh --r-var 2
        im_size=224,  # distillation/distillation_imgnet.py:69 Resize((224, 224)), :124 RandomResizedCrop(224)
        teacher_arch='torchvision:resnet18',  # run_imgnet.sh --arch-name resnet18; distillation_imgnet.py:212-214
        first_bn_weight=10.0,  # distillation_imgnet.py:38 --first-bn-multiplier 10
        jitter=32,  # distillation_imgnet.py:36
        jitter_range='positive',  # distillation_imgnet.py:130-131
        crop=True,  # distillation_imgnet.py:124
        flip=True,  # distillation_imgnet.py:125
        label_mode='online',  # validation/validation_imgnet.py:215
        temperature=20.0,  # run_imgnet.sh -T 20
        mixup=0.0,  # run_imgnet.sh --mix-type cutmix
        cutmix=1.0,  # validation_imgnet.py:57
        student_epochs=300,  # run_imgnet.sh --epochs 300
        student_batch=128,  # run_imgnet.sh --batch-size 128
        student_optimizer='adamw',  # validation_imgnet.py:147
        student_lr=1e-3,  # validation_imgnet.py:44
        student_weight_decay=0.01,  # validation_imgnet.py:45
        student_schedule='cosine',  # run_imgnet.sh --cos
        student_augment='resized_crop',  # validation_imgnet.py:82-83
    ),
    (INFERConfig, 'cifar100'): dict(
        iterations=1000,  # U sh/ufc_cifar.sh --iteration 1000
        r_bn=1.0,  # ufc_cifar.sh --r-bn 1
        batch=100,  # ufc_cifar.sh --batch-size 100
        lr=0.25,  # ufc_cifar.sh --lr 0.25
        first_bn_weight=10.0,  # ufc_generation/ufc_cifar.py:222
        jitter=4,  # ufc_cifar.py:218
        jitter_range='positive',  # ufc_cifar.py:64
        flip=False,  # ufc_cifar.py:62-65: roll only
        crop=False,
        label_mode='static',  # ufc_validation/val_static.py:200-217
        temperature=30.0,  # val_static.py:30
        mixup=0.8,  # val_static.py:239, 265
        cutmix=0.0,
        student_epochs=400,  # ufc_cifar.sh val_static.py --epochs 400
        student_batch=64,  # ufc_cifar.sh --batch-size 64
        student_optimizer='adamw',  # val_static.py:234
        student_lr=1e-3,  # val_static.py:234
        student_weight_decay=0.01,  # val_static.py:234
        student_schedule='cosine',  # val_static.py:235
        student_augment='standard',  # val_static.py:70-71
    ),
    (INFERConfig, 'imagenet'): dict(
        iterations=2000,  # U README.md:53 (the ImageNet-1K command) --iteration 2000
        r_bn=0.01,  # README.md:53 --r-bn 0.01
        batch=1000,  # README.md:53 --batch-size 1000
        lr=0.25,  # README.md:54 --lr 0.25
        first_bn_weight=10.0,  # ufc_generation/ufc_imgnet.py:260
        im_size=224,  # ufc_imgnet.py:34 Resize((224, 224)), :74 zeros((1, 3, 224, 224)) compensator
        teacher_arch=('torchvision:resnet18', 'torchvision:mobilenet_v2', 'torchvision:efficientnet_b0'),  # :208-212
        init='real',  # ufc_imgnet.py:63-70 real images of the init folder
        jitter=32,  # ufc_generation/ufc_imgnet.py:256
        jitter_range='positive',  # ufc_imgnet.py:100-101
        crop=True,  # ufc_imgnet.py:93
        flip=True,  # ufc_imgnet.py:94
    ),
}


@pytest.mark.parametrize('key', list(GOLDEN), ids=lambda k: f'{k[0].__name__}-{k[1]}')
def test_golden_preset(key):
    cls, dataset = key
    p = cls.preset(dataset, 10, 'paper').check()
    got = {k: getattr(p, k) for k in GOLDEN[key]}
    assert got == GOLDEN[key]
    assert p.source.startswith('official')
    if dataset == 'imagenet':  # an ImageFolder tree (how ImageNet-1K is stored) takes the ImageNet column
        assert cls.preset('imagefolder', 10, 'paper') == p


def test_imagenet_normalisation_and_relabel_crops():
    "ImageNet's mean/std of the recoveries' clipping, and FKD's crop scale (0.08, 1) of the per-crop labels."
    import inspect

    from dataset_condensation.datasets import IMAGENET_MEAN_STD
    from dataset_condensation.soft_labels import soft_labels_per_crop

    # S recover/utils.py:65-66 (clip); D distillation/distillation_imgnet.py:66-67; U ufc_generation/ufc_imgnet.py:31-32
    assert IMAGENET_MEAN_STD == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    # S relabel/relabel.sh --min-scale-crops 0.08 --max-scale-crops 1 (--input-size 224: the images' own size here)
    assert inspect.signature(soft_labels_per_crop).parameters['scale'].default == (0.08, 1.0)


def test_student_recipe_of_presets():
    "The student fields of a preset become the set's `meta['student_recipe']` (what `evaluate_soft` applies)."
    assert student_recipe(SRe2LConfig.preset('cifar100', 10, 'paper')) == dict(
        ADAMW, batch_size=128, augment='standard'
    )
    assert student_recipe(INFERConfig.preset('cifar10', 10, 'paper')) == dict(ADAMW, batch_size=64, augment='standard')
    assert student_recipe(DWAConfig.preset('mnist5k', 10, 'cpu')) == {}


def test_every_field_is_read():
    "Every preset field is read by the code: recovery, relabelling or the student (a field read by nothing fails)."
    import inspect

    from dataset_condensation.distill import core, dwa, infer, relabel

    code = inspect.getsource(dwa._recover) + inspect.getsource(dwa._check_recover) + inspect.getsource(infer)
    code += inspect.getsource(relabel.student_recipe) + inspect.getsource(dwa.get_teacher)
    code += inspect.getsource(relabel.check_image_size)
    shared = {f.name for f in dataclasses.fields(core.DistillConfig)}  # notebook 20's fields
    for cls in (SRe2LConfig, DWAConfig, INFERConfig):
        for f in dataclasses.fields(cls):
            if f.name in STUDENT_RECIPE_FIELDS or f.name in shared:
                continue  # read through `student_recipe` (tested above) / records
            assert f'cfg.{f.name}' in code or f'self.{f.name}' in code, f"{cls.__name__}.{f.name} is read by nothing"


def test_jitter_as_official():
    "The official jitter draws 0..j pixels (never negative); SRe2L's Tiny-ImageNet recovery draws -j..j."
    dot = torch.zeros(1, 1, 10, 10)
    dot[0, 0, 4, 4] = 1

    def seen(rng):
        g = torch.Generator().manual_seed(1)
        out = set()
        for _ in range(800):
            r, c = divmod(int(recover_augment(dot, g, 3, jitter_range=rng).argmax()), 10)
            out.add((r - 4, c - 4))
        return out

    assert seen('positive') == {(a, b) for a in range(4) for b in range(4)}
    assert seen('symmetric') == {(a, b) for a in range(-3, 4) for b in range(-3, 4)}


def test_flip_only_where_official():
    "No flip unless asked (CIFAR recoveries); with flip=True both orientations occur."
    x = torch.arange(16.0).view(1, 1, 4, 4)
    g = torch.Generator().manual_seed(0)
    assert all(torch.equal(recover_augment(x, g, 0), x) for _ in range(20))
    outs = {bool(torch.equal(recover_augment(x, g, 0, flip=True), x.flip(3))) for _ in range(40)}
    assert outs == {True, False}


def test_student_fields_change_training():
    "A preset's student fields (optimiser, mixup vs cutmix) really change the student: ignoring them would not."
    from dataset_condensation.data import load_dataset
    from dataset_condensation.distill.synset import SyntheticSet
    from dataset_condensation.soft_labels import evaluate_soft

    dg = load_dataset('digits')
    idx = torch.arange(0, len(dg), len(dg) // 60)[:60]
    x, y = dg.x[idx], dg.y[idx]
    soft = torch.nn.functional.one_hot(y, 10).float() * 4
    meta = dict(n_classes=10, arch='ConvNet', arch_options=dict(width=8), recipe='dsa', temperature=4.0)
    meta.update(label_mode='static', mixup=0.0, mean=dg.mean, std=dg.std)
    te = dg
    base = evaluate_soft(SyntheticSet(x, y, soft, meta=meta), te, n_models=1, epochs=5)
    meta_a = dict(meta, student_recipe=dict(ADAMW, batch_size=16))
    adamw = evaluate_soft(SyntheticSet(x, y, soft, meta=meta_a), te, n_models=1, epochs=5)
    cut = evaluate_soft(SyntheticSet(x, y, soft, meta=dict(meta_a, cutmix=1.0)), te, n_models=1, epochs=5)
    assert adamw.recipe['optimizer'] == 'adamw' and adamw.recipe['batch_size'] == 16
    assert adamw.accs != base.accs
    assert cut.recipe['cutmix'] == 1.0 and cut.accs != adamw.accs
