"""Streamed image folders under torchrun: two processes (gloo, CPU) read shares of a real ImageFolder tree, and the
whole-set passes (evaluation, prediction, the evaluation protocol) equal the single-process results.

The tree is written by the test: 3 classes of real mnist5k digits as PNG files (100 training, 30 validation images
per class). The single-process side of each comparison is computed in this pytest process."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from dataset_condensation.data import load_dataset
from dataset_condensation.evaluate import evaluate_tensors
from dataset_condensation.models import get_network
from dataset_condensation.stream import ImageFolderStream, predict, save_image_folder
from dataset_condensation.train import evaluate

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    from pathlib import Path
    import torch
    import torch.distributed as dist
    from dataset_condensation.data import load_dataset
    from dataset_condensation.evaluate import evaluate_tensors
    from dataset_condensation.models import get_network
    from dataset_condensation.stream import ImageFolderStream, loader, predict
    from dataset_condensation.train import evaluate

    torch.set_num_threads(1)
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    dist.init_process_group('gloo')
    rank, size = dist.get_rank(), dist.get_world_size()
    val = ImageFolderStream(root, 'val', workers=0)
    net = get_network('ConvNet', 3, 3, (28, 28), seed=0, width=8)
    res = dict(rank=rank, size=size)
    seen = []
    hook = net.register_forward_hook(lambda m, inp, o: seen.append(len(inp[0])))
    res['eval_auto'] = evaluate(net, val, batch_size=16)  # the same model on both ranks: split, counts summed
    res['seen_auto'] = sum(seen)
    hook.remove()
    res['eval_whole'] = evaluate(net, val, batch_size=16, shard=False)
    res['predict'] = predict(net, val, 16).tolist()  # split, gathered
    own = get_network('ConvNet', 3, 3, (28, 28), seed=10 + rank, width=8)  # a different model per rank
    res['own_auto'] = evaluate(own, val)  # not split: each rank reads the whole set
    res['own_whole'] = evaluate(own, val, shard=False)
    try:
        evaluate(own, val, shard=True)
        res['shard_true_error'] = None
    except ValueError as e:
        res['shard_true_error'] = str(e)
    ld = loader(val, 8, shuffle=True, seed=5)
    ld.set_epoch(2)
    res['sampler'] = type(ld.sampler).__name__
    res['share'] = torch.cat([i for _, _, i in ld]).tolist()
    mem = load_dataset('imagefolder', root=root)
    res['protocol'] = evaluate_tensors(mem.x[::10], mem.y[::10], val, n_models=2, epochs=2, width=8).accs
    every = [None] * size
    dist.all_gather_object(every, res)
    if rank == 0:
        out.write_text(json.dumps(every))
    dist.destroy_process_group()
    """
)


@pytest.fixture(scope='module')
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp('tree')
    save_image_folder(load_dataset('mnist5k', normalize=False), root, 'train', per_class=100, classes=[0, 1, 2])
    save_image_folder(load_dataset('mnist5k', 'test', normalize=False), root, 'val', per_class=30, classes=[0, 1, 2])
    return root


@pytest.fixture(scope='module')
def ranks(tree, tmp_path_factory):
    "The two ranks' results of SCRIPT under torchrun --nproc-per-node 2."
    d = tmp_path_factory.mktemp('run')
    (d / 'script.py').write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        env.pop(k, None)
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', '2']
    p = subprocess.run(
        cmd + [str(d / 'script.py'), str(tree), str(d / 'out.json')],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return json.loads((d / 'out.json').read_text())


def test_split_evaluation_equals_one_process(tree, ranks):
    val = ImageFolderStream(tree, 'val', workers=0)
    net = get_network('ConvNet', 3, 3, (28, 28), seed=0, width=8)
    one = evaluate(net, val, batch_size=16)
    for r in ranks:
        assert r['size'] == 2
        assert r['seen_auto'] == 45  # each rank read its half
        assert r['eval_auto']['acc'] == one['acc']  # correct counts summed over the two halves: exact
        assert r['eval_auto']['loss'] == pytest.approx(one['loss'], rel=1e-5)  # float32 sums in another order
        assert r['eval_whole']['acc'] == one['acc']


def test_split_predict_gathers_dataset_order(tree, ranks):
    val = ImageFolderStream(tree, 'val', workers=0)
    net = get_network('ConvNet', 3, 3, (28, 28), seed=0, width=8)
    one = predict(net, val, 16)
    for r in ranks:
        got = torch.tensor(r['predict'])
        assert got.shape == (90, 3)
        torch.testing.assert_close(got, one, rtol=1e-5, atol=1e-5)


def test_different_models_are_not_split(ranks):
    for r in ranks:
        assert r['own_auto'] == r['own_whole']  # each rank read the whole set for its own model
        assert 'the ranks hold different models' in r['shard_true_error']
    assert ranks[0]['own_whole'] != ranks[1]['own_whole']  # the two ranks' models did differ


def test_distributed_sampler_shares(ranks):
    perm = torch.randperm(90, generator=torch.Generator().manual_seed(5 + 2)).tolist()  # seed + epoch
    assert [r['sampler'] for r in ranks] == ['DistributedSampler'] * 2
    assert ranks[0]['share'] == perm[0::2] and ranks[1]['share'] == perm[1::2]
    assert sorted(ranks[0]['share'] + ranks[1]['share']) == list(range(90))


def test_protocol_on_a_split_test_set(tree, ranks):
    mem = load_dataset('imagefolder', root=tree)
    val = ImageFolderStream(tree, 'val', workers=0)
    one = evaluate_tensors(mem.x[::10], mem.y[::10], val, n_models=2, epochs=2, width=8).accs
    for r in ranks:
        assert r['protocol'] == one


def test_dc_eval_streams_the_test_split(tmp_path):
    "`dc eval --stream` on an ImageFolder tree gives the accuracies of the in-memory evaluation (same seeds)."
    root = tmp_path / 'tree'
    save_image_folder(load_dataset('mnist5k', normalize=False), root, 'train', per_class=40, classes=[0, 1, 2])
    save_image_folder(load_dataset('mnist5k', 'test', normalize=False), root, 'test', per_class=20, classes=[0, 1, 2])
    env = dict(os.environ, OMP_NUM_THREADS='1', DC_PROGRESS='0')
    dc = [sys.executable, '-m', 'dataset_condensation.cli']
    common = ['--dataset', 'imagefolder', '--root', str(root)]
    run = lambda a: subprocess.run(dc + a, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    p = run(['prune', *common, '--method', 'random', '--keep', '0.5', '--out', 'c'])
    assert p.returncode == 0, p.stderr
    accs = {}
    for flag in ('--stream', '--no-stream'):
        out = f'm{flag}'
        p = run(['eval', *common, '--coreset', 'c', '--n-models', '2', '--epochs', '3', flag, '--out', out])
        assert p.returncode == 0, p.stderr
        accs[flag] = json.loads((tmp_path / out / 'metrics.json').read_text())['accs']
    assert accs['--stream'] == accs['--no-stream'] and len(accs['--stream']) == 2
