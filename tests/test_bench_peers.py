"""tools/bench_peers.py and tools/peers_shim.py without the official code: the differencing and the interleaving
order, the report's ratios, the parser of the official defaults, the plain loop's network against ours, the MNIST
files written for the official scripts, the shim's replacements, and the errors on bad arguments."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from dataset_condensation.models import get_network

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
spec = importlib.util.spec_from_file_location('bench_peers', ROOT / 'tools' / 'bench_peers.py')
bp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bp)


def test_differencing_cancels_start_up():
    assert bp.per_unit(7.0 + 2 * 1.5, 7.0 + 6 * 1.5, 2, 6) == pytest.approx(1.5)
    with pytest.raises(ValueError, match='n2 must be larger than n1'):
        bp.per_unit(1.0, 2.0, 3, 3)
    assert bp.spread([3.0, 1.0, 2.0]) == (1.0, 2.0, 3.0)


def fake_specs():
    "Two sides whose runs take start-up + n x (2 s official, 1 s ours): official / ours must come out as 2."
    return {
        'dm': dict(
            unit='it',
            official=lambda n, w: ['official', n],
            ours=lambda n, w: ['ours', n],
            rows=[('--lr_img', 1.0, 1.0, 1.0), ('width', 128, 128, 64)],
            config='a fake configuration',
        )
    }


def test_measure_interleaves_and_differences(tmp_path):
    calls = []

    def run(argv, label, cwd=None, env=None):
        calls.append((argv[0], argv[1], (env or {}).get('DC_CPU_ALLOCATOR')))
        per = {'official': 2.0, 'ours': 1.0}[argv[0]] * (1.5 if env else 1.0)
        return 10.0 + per * argv[1]  # the start-up (10 s) cancels

    a = SimpleNamespace(counts={'dm': (2, 5)}, repeats=2, allocator_default=True, device='cpu')
    res = bp.measure(a, fake_specs(), run, tmp_path)
    assert res['dm']['official'] == pytest.approx([2.0, 2.0])
    assert res['dm']['ours'] == pytest.approx([1.0, 1.0])
    assert res['dm']['ours_default'] == pytest.approx([1.5, 1.5])
    one = [('official', 2, None), ('official', 5, None), ('ours', 2, None), ('ours', 5, None)]
    one += [('ours', 2, 'default'), ('ours', 5, 'default')]
    assert calls == one + one  # official N1, N2, ours N1, N2, ours (default allocator) N1, N2; then the next repeat

    a.threads, a.counts = 2, {'dm': (2, 5)}
    text = bp.report(a, res, fake_specs(), 'bash tools/bench_peers.sh --peers P', 1.0)
    row = next(line for line in text.splitlines() if line.startswith('| dm |'))
    assert '**2.00x**' in row and '**1.33x**' in row, row
    assert '| width | 128 | 128 | 64 **(differs)** |' in text and '| lr_img | 1.0 | 1.0 | 1.0 |' in text
    assert text.startswith('Seconds per it on the CPU, 2 interleaved repeat(s)'), text.splitlines()[0]
    assert 'DC_CPU_ALLOCATOR=default' in text and '`bash tools/bench_peers.sh --peers P`' in text


def test_official_defaults_read_from_source(tmp_path):
    f = tmp_path / 'script.py'
    f.write_text(
        "import argparse\np = argparse.ArgumentParser()\n"
        "p.add_argument('--ipc', type=int, default=50, help='x')\n"
        "p.add_argument('--dsa_strategy', type=str, default='color_crop', help='x')\n"
        "p.add_argument('--batch_syn', type=int, default=None)\n"
        "p.add_argument('--lr', type=float, default=1e-2 * 2)\n"
        "p.add_argument('--flag', action='store_true')\n"
        "def get_default_convnet_setting():\n"
        "    net_width, net_depth, net_norm = 128, 3, 'instancenorm'\n"
        "    return net_width, net_depth, net_norm\n"
    )
    d = bp.official_defaults(f)
    assert d == {
        'ipc': 50,
        'dsa_strategy': 'color_crop',
        'batch_syn': None,
        'lr': '0.01 * 2',
        'net_width': 128,
        'net_depth': 3,
        'net_norm': 'instancenorm',
    }


def test_plain_convnet_is_our_convnet():
    ours = get_network('ConvNet', 1, 10, (28, 28), seed=0, width=128)
    plain = bp.plain_convnet()
    assert [p.shape for p in ours.parameters()] == [p.shape for p in plain.parameters()]
    with torch.no_grad():
        for p, q in zip(plain.parameters(), ours.parameters()):
            p.copy_(q)
    x = torch.randn(4, 1, 28, 28)
    torch.testing.assert_close(plain(x), ours(x))


def test_mnist_files_hold_our_images(tmp_path):
    from torchvision import datasets

    from dataset_condensation.data import load_dataset

    bp.write_mnist_idx(tmp_path)
    ours = load_dataset('mnist5k')
    theirs = datasets.MNIST(tmp_path, train=True, download=False)
    assert len(theirs) == len(ours) and torch.equal(theirs.targets, ours.y.cpu())
    x = (theirs.data.float() / 255 - float(ours.mean[0])) / float(ours.std[0])
    assert (x - ours.x.cpu()[:, 0]).abs().max() <= 0.51 / 255 / float(ours.std[0]) + 1e-5  # one rounding to 8 bits
    assert len(datasets.MNIST(tmp_path, train=False, download=False)) == len(load_dataset('mnist5k', 'test'))


def test_shim_replaces_in_memory_only(tmp_path):
    (tmp_path / 'utils.py').write_text(
        "def get_loops(ipc):\n    return 10, 50\n"
        "def evaluate_synset(it, net, *a):\n    raise RuntimeError('not stubbed')\n"
        "def get_dataset(dataset, data_path, batch_size=1, subset='x', args=None):\n    return 'cifar'\n"
    )
    script = tmp_path / 'main.py'
    script.write_text(
        "import sys\nfrom utils import get_loops, evaluate_synset\n"
        "print(get_loops(10), evaluate_synset(0, 'net', 'x'), sys.argv[1:])\n"
    )
    shim = str(ROOT / 'tools' / 'peers_shim.py')
    run = lambda *a: subprocess.run([sys.executable, shim, *a], capture_output=True, text=True, env=ENV, cwd=tmp_path)
    p = run('--stub-eval', '--loops', '2', '7', str(script), '--ipc', '10')
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "(2, 7) ('net', 0.0, 0.0) ['--ipc', '10']"
    assert 'not stubbed' in run(str(script)).stderr  # without the flags the script's own functions run
    assert 'return 10, 50' in (tmp_path / 'utils.py').read_text()
    assert 'expected a script path' in run('--mnist', str(tmp_path / 'missing.py')).stderr


def bench(*args):
    cmd = [sys.executable, str(ROOT / 'tools' / 'bench_peers.py'), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=120)


def test_bad_arguments(tmp_path):
    assert 'the following arguments are required: --peers' in bench().stderr
    assert 'is not a folder' in bench('--peers', str(tmp_path / 'nope')).stderr
    p = bench('--peers', str(tmp_path), '--methods', 'dm', 'mtt')
    assert (
        p.returncode != 0 and 'DatasetCondensation/main_DM.py' in p.stderr and 'mtt-distillation/buffer.py' in p.stderr
    )
    (tmp_path / 'DatasetCondensation').mkdir()
    (tmp_path / 'DatasetCondensation' / 'main_DM.py').write_text('')
    p = bench('--peers', str(tmp_path), '--methods', 'dm', '--n1', 'dm=4', '--n2', 'dm=4')
    assert '--n2 dm=4 must be larger than --n1 dm=4' in p.stderr
    assert 'expected METHOD=N' in bench('--peers', str(tmp_path), '--methods', 'dm', '--n1', 'dm:2').stderr
    assert (
        '--repeats: expected an integer >= 1'
        in bench('--peers', str(tmp_path), '--methods', 'dm', '--repeats', '0').stderr
    )
    p = bench('--peers', str(tmp_path), '--methods', 'dm', '--dc-loops', '0', '5')
    assert '--dc-loops: expected two integers >= 1' in p.stderr


def test_device(tmp_path):
    "--device cpu hides the GPUs from both sides (the official scripts take CUDA when they see it); cuda needs one."
    assert bp.Runner(tmp_path, 1, 'cpu').env['CUDA_VISIBLE_DEVICES'] == ''
    assert 'CUDA_VISIBLE_DEVICES' not in bp.Runner(tmp_path, 1, 'cuda').env or os.environ.get('CUDA_VISIBLE_DEVICES')
    bp.DEVICE[0] = 'cpu'
    assert bp.ours_cli('eval', '--x')[-2:] == ['--device', 'cpu']
    (tmp_path / 'DatasetCondensation').mkdir()
    (tmp_path / 'DatasetCondensation' / 'main_DM.py').write_text('')
    if not torch.cuda.is_available():
        p = bench('--peers', str(tmp_path), '--methods', 'dm', '--device', 'cuda')
        assert p.returncode != 0 and '--device cuda' in p.stderr and 'sees no CUDA GPU' in p.stderr
