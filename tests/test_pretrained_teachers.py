"""Pretrained torchvision teachers for SRe2L, DWA and INFER (issue 20): `'torchvision:<arch>=<weights file>'`.

The teachers are torchvision networks with RANDOM weights whose BatchNorm running statistics are set to the data's own
(one pass in train mode with a cumulative average), saved as state dicts with `torch.save`; the data is a tiny
ImageFolder tree written from real digits (3 classes x 8 images, upsampled to 32 px, RGB PNG; 2 test images per
class), loaded in ImageNet's normalisation. Nothing is downloaded. Each run takes seconds on one core.
"""

import json

import pytest
import torch
from PIL import Image

from dataset_condensation.cli import main
from dataset_condensation.data import load_dataset
from dataset_condensation.datasets import IMAGENET_MEAN_STD
from dataset_condensation.distill.core import distill
from dataset_condensation.distill.dwa import BNStatsRecorder, _valid_range
from dataset_condensation.distill.synset import SyntheticSet, init_synthetic
from dataset_condensation.models import bn_layers
from dataset_condensation.soft_labels import student_tensors
from dataset_condensation.teachers import file_sha256, load_teacher, online_teachers, torchvision_network

# the recovery of these tests: the ImageNet presets with their 224 px and crop/flip/jitter-32 replaced by the tiny
# images' own size and a 2 px jitter, so that 30-40 iterations show the losses falling
TAME = dict(profile='paper', im_size=None, crop=False, flip=False, jitter=2, progress=False)


def _write_folder(root, split, per_class, offset):
    raw = load_dataset('digits', normalize=False)
    for c in range(3):
        (root / split / f'digit{c}').mkdir(parents=True)
        for k, j in enumerate(torch.nonzero(raw.y == c)[offset : offset + per_class, 0].tolist()):
            a = (raw.x[j, 0].clamp(0, 1) * 255).round().byte().numpy()
            im = Image.fromarray(a).resize((32, 32), Image.Resampling.BILINEAR).convert('RGB')
            im.save(root / split / f'digit{c}' / f'{k}.png')


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('pretrained')
    root = tmp / 'folder'
    _write_folder(root, 'train', 8, 0)
    _write_folder(root, 'test', 2, 8)
    data = load_dataset('imagefolder', root=root, mean_std='imagenet')
    specs, nets = {}, {}
    for arch in ('resnet18', 'mobilenet_v2', 'efficientnet_b0'):
        net = torchvision_network(arch, 3, seed=0).requires_grad_(False)
        for m in bn_layers(net):
            m.momentum = None  # a cumulative average: one pass sets the running statistics to the data's
        net.train()(data.x)
        torch.save(net.eval().state_dict(), tmp / f'{arch}.pth')
        specs[arch], nets[arch] = f"torchvision:{arch}={tmp / f'{arch}.pth'}", net
    return dict(tmp=tmp, root=root, data=data, specs=specs, nets=nets)


def _bn_loss(teacher, x):
    with BNStatsRecorder(teacher) as rec, torch.no_grad():
        teacher(x)
        return float(rec.loss(10.0, 1.0))


def _in_valid_range(x, data):
    lo, hi = _valid_range(data)
    return bool(torch.isfinite(x).all()) and bool((x >= lo - 1e-5).all()) and bool((x <= hi + 1e-5).all())


def test_loaded_teacher_is_the_saved_one(env):
    data, spec = env['data'], env['specs']['resnet18']
    t = load_teacher(spec, data)
    assert torch.equal(t(data.x), env['nets']['resnet18'](data.x))
    assert not t.training and not any(p.requires_grad for p in t.parameters())
    assert t.teacher_meta['sha256'] == file_sha256(env['tmp'] / 'resnet18.pth')
    assert (data.mean, data.std, data.meta['mean_std']) == (*IMAGENET_MEAN_STD, 'imagenet')
    lo, hi = _valid_range(data)  # the valid pixels of ImageNet's normalisation: (0 - m) / s .. (1 - m) / s
    assert torch.allclose(lo.flatten(), torch.tensor([-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225]))
    assert torch.allclose(hi.flatten(), torch.tensor([0.515 / 0.229, 0.544 / 0.224, 0.594 / 0.225]))


def test_sre2l_recovers_against_a_torchvision_teacher(env, tmp_path):
    data, spec = env['data'], env['specs']['resnet18']
    t = load_teacher(spec, data)
    syn = distill(data, 'sre2l', 1, teacher=spec, iterations=40, r_bn=1.0, lr=0.1, student_epochs=2, **TAME)
    assert syn.images.shape == (3, 3, 32, 32) and _in_valid_range(syn.images, data)
    noise = init_synthetic(data, 1, 'noise', 0)[0]  # where the recovery started
    assert _bn_loss(t, syn.images) < 0.6 * _bn_loss(t, noise)
    h = syn.meta['history']
    assert h['batch_loss_end'][0] < 0.7 * h['batch_loss_start'][0]
    tm = syn.meta['teacher']
    assert (tm['arch'], tm['path'], tm['sha256']) == ('torchvision:resnet18', spec, file_sha256(tm['weights']))
    assert [syn.meta['mean'], syn.meta['std']] == list(map(list, IMAGENET_MEAN_STD))
    assert syn.meta['label_mode'] == 'per_crop'  # the ImageNet preset's FKD labels, by the same teacher
    assert torch.equal(syn.extra['crop_logits'][:, 0].float(), t(_crops(syn, 0)).half().float())
    syn.save(tmp_path / 's')
    assert SyntheticSet.load(tmp_path / 's').meta['teacher']['sha256'] == tm['sha256']


def _crops(syn, epoch):
    from dataset_condensation.soft_labels import apply_boxes

    return apply_boxes(syn.images, syn.extra['crop_boxes'][:, epoch])


def test_sre2l_at_the_imagenet_settings(env):
    "The ImageNet preset itself (RandomResizedCrop, flip, jitter 32, r_bn 0.01), at the tiny images' size."
    data, spec = env['data'], env['specs']['resnet18']
    syn = distill(data, 'sre2l', 2, profile='paper', teacher=spec, iterations=6, im_size=None, student_epochs=2)
    assert (syn.meta['config']['jitter'], syn.meta['config']['crop'], syn.meta['config']['r_bn']) == (32, True, 0.01)
    assert syn.images.shape == (6, 3, 32, 32) and _in_valid_range(syn.images, data)


def test_dwa_recovers_against_a_torchvision_teacher(env):
    data, spec = env['data'], env['specs']['resnet18']
    syn = distill(data, 'dwa', 1, teacher=spec, iterations=40, r_bn=1.0, lr=0.05, **TAME)
    assert syn.images.shape == (3, 3, 32, 32) and _in_valid_range(syn.images, data)
    h = syn.meta['history']
    assert h['batch_loss_end'][0] < 0.95 * h['batch_loss_start'][0]
    assert syn.meta['teacher']['sha256'] == file_sha256(env['tmp'] / 'resnet18.pth')
    assert syn.meta['online_teachers'] == [dict(arch='torchvision:resnet18', arch_options={})]  # the preset's labels
    assert torch.equal(online_teachers(syn)[0](data.x), env['nets']['resnet18'](data.x))  # stored with the set


def test_infer_compensates_against_torchvision_teachers(env):
    data, sp = env['data'], env['specs']
    teachers = (sp['resnet18'], sp['mobilenet_v2'])
    syn = distill(data, 'infer', 2, teacher=teachers, iterations=30, batch=3, r_bn=0.01, lr=0.01, **TAME)
    h = syn.meta['history']
    assert all(e < s for s, e in zip(h['ufc_loss_start'], h['ufc_loss_end'])), h
    x, y, _ = student_tensors(syn)  # natural images + each compensator on each class's image, clipped
    assert x.shape == ((2 + 1) * 3, 3, 32, 32) and _in_valid_range(x, data)
    assert [t['sha256'] for t in syn.meta['teacher']] == [file_sha256(t.split('=', 1)[1]) for t in teachers]
    assert [t['arch'] for t in syn.meta['teacher']] == ['torchvision:resnet18', 'torchvision:mobilenet_v2']


def test_infer_with_the_imagenet_ensemble(env):
    "INFER's ImageNet-1K teachers (ResNet-18, MobileNetV2, EfficientNet-B0) at the preset's settings, a few steps."
    data, sp = env['data'], env['specs']
    ens = tuple(sp[a] for a in ('resnet18', 'mobilenet_v2', 'efficientnet_b0'))
    syn = distill(data, 'infer', 2, profile='paper', teacher=ens, iterations=3, im_size=None, batch=3)
    x, _, soft = student_tensors(syn)
    assert x.shape == (4 * 3, 3, 32, 32) and _in_valid_range(x, data) and bool(torch.isfinite(soft).all())
    assert syn.meta['n_teachers'] == 3


def test_cli_distill_sre2l_with_a_torchvision_teacher(env, tmp_path):
    spec, root, out = env['specs']['resnet18'], env['root'], tmp_path / 'set'
    argv = ['distill', '--dataset', 'imagefolder', '--root', str(root), '--method', 'sre2l', '--ipc', '1']
    argv += ['--teacher', spec, '--iterations', '4', '--out', str(out), '--device', 'cpu', '--no-progress']
    assert main(argv) == 0
    syn = SyntheticSet.load(out)
    assert syn.meta['teacher']['sha256'] == file_sha256(env['tmp'] / 'resnet18.pth')
    assert syn.meta['config']['teacher'] == spec and syn.meta['config']['teacher_arch'] == 'torchvision:resnet18'
    assert [syn.meta['mean'], syn.meta['std']] == list(map(list, IMAGENET_MEAN_STD))  # loaded in ImageNet's
    assert syn.images.shape == (3, 3, 32, 32) and _in_valid_range(syn.images, env['data'])
    ev = ['eval', '--dataset', 'imagefolder', '--root', str(root), '--synset', str(out), '--epochs', '1']
    assert main([*ev, '--n-models', '1', '--device', 'cpu']) == 0  # the test split in the set's normalisation
    m = json.loads((out / 'metrics.json').read_text())
    assert len(m['accs']) == 1 and 0 <= m['accs'][0] <= 1


def test_cli_loads_an_imagefolder_at_the_preset_size(env, tmp_path):
    "The paper preset's im_size is the size an ImageFolder is read at (224 for ImageNet; 24 here, to stay small)."
    argv = ['distill', '--dataset', 'imagefolder', '--root', str(env['root']), '--method', 'sre2l', '--ipc', '1']
    argv += ['--teacher', env['specs']['resnet18'], '--iterations', '2', '--profile', 'paper', '--set', 'im_size=24']
    argv += ['--set', 'student_epochs=2', '--out', str(tmp_path / 's'), '--device', 'cpu', '--no-progress']
    assert main(argv) == 0
    assert SyntheticSet.load(tmp_path / 's').images.shape == (3, 3, 24, 24)


@pytest.mark.parametrize(
    'case, expect',
    [
        ('no-weights', "names no weights file; expected 'torchvision:resnet18=PATH'"),
        ('unknown-arch', "has no classification model 'resnet19' (did you mean 'resnet18'"),
        ('missing-file', "missing.pth' does not exist"),
        ('grey-data', "mean_std='imagenet' gives 3 mean(s) and 3 std(s) but 'digits' has 1 channel(s)"),
        ('other-arch', "do not fit torchvision's resnet18 with 3 classes: "),
    ],
)
def test_cli_bad_teachers(env, tmp_path, capsys, case, expect):
    spec = env['specs']['resnet18']
    teacher, dataset = spec, 'imagefolder'
    if case == 'no-weights':
        teacher = 'torchvision:resnet18'
    elif case == 'unknown-arch':
        teacher = spec.replace('resnet18=', 'resnet19=')
    elif case == 'missing-file':
        teacher = f"torchvision:resnet18={tmp_path / 'missing.pth'}"
    elif case == 'grey-data':
        dataset = 'digits'
    elif case == 'other-arch':
        teacher = spec.replace('resnet18.pth', 'mobilenet_v2.pth')
    argv = ['distill', '--dataset', dataset, '--root', str(env['root']), '--method', 'sre2l', '--ipc', '1']
    argv += ['--teacher', teacher, '--iterations', '2', '--out', str(tmp_path / 'o'), '--device', 'cpu']
    assert main(argv) == 2
    assert expect in capsys.readouterr().err


def test_library_bad_teachers(env, tmp_path):
    data, spec = env['data'], env['specs']['resnet18']
    torch.save(torchvision_network('resnet18', 7).state_dict(), tmp_path / 'r18_7.pth')
    with pytest.raises(ValueError, match="classifies 7 classes but 'imagefolder' has 3"):
        load_teacher(f"torchvision:resnet18={tmp_path / 'r18_7.pth'}", data)
    own = load_dataset('imagefolder', root=env['root'])  # the folder's own statistics, not ImageNet's
    with pytest.raises(ValueError, match="takes RGB images normalised with ImageNet's mean"):
        distill(own, 'sre2l', 1, teacher=spec, iterations=2, **TAME)
    with pytest.raises(ValueError, match='im_size=224: the preset recovers 224x224 images'):
        distill(data, 'infer', 2, profile='paper', teacher=(spec,), iterations=2)
    with pytest.raises(ValueError, match='a pretrained weights file goes in teacher'):
        distill(data, 'infer', 2, teacher_arch=(spec,), iterations=2, **TAME)
