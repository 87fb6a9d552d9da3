"""What a fresh clone and a wheel need: the carried data file, found from anywhere, and a wheel that works outside the
clone."""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHA256 = 'd0bfa3330f26554c4117328b1117f52bfb3746404b0594c58f37a09b4314d396'  # data/README.md


def _env(**more) -> dict:
    "The environment without DC_DATA, with a home folder that holds nothing, single-threaded."
    env = {k: v for k, v in os.environ.items() if k != 'DC_DATA'}
    env.update(OMP_NUM_THREADS='1', MPLBACKEND='agg', **more)
    return env


def test_carried_file_is_the_documented_one():
    f = ROOT / 'data' / 'pneumoniamnist.npz'
    assert hashlib.sha256(f.read_bytes()).hexdigest() == SHA256
    assert SHA256 in (ROOT / 'data' / 'README.md').read_text()


def test_loader_finds_the_file_from_any_folder(tmp_path):
    code = (
        "from dataset_condensation.data import load_dataset; from dataset_condensation.datasets import default_root; "
        "d = load_dataset('pneumoniamnist'); print(len(d), default_root('pneumoniamnist.npz'))"
    )
    r = subprocess.run(
        [sys.executable, '-c', code],
        cwd=tmp_path,
        env=_env(HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    n, where = r.stdout.split()
    assert n == '4708' and Path(where) == ROOT / 'data'


@pytest.fixture(scope='module')
def wheel_env(tmp_path_factory):
    "A new virtual environment (seeing this one's packages for torch) with the wheel built from the clone."
    tmp = tmp_path_factory.mktemp('wheel')
    subprocess.run(
        [
            sys.executable,
            '-m',
            'pip',
            'wheel',
            '--no-deps',
            '--no-build-isolation',
            '-q',
            '-w',
            str(tmp / 'dist'),
            str(ROOT),
        ],
        check=True,
        timeout=300,
        cwd=tmp,
    )
    wheel = next((tmp / 'dist').glob('dataset_condensation-*.whl'))
    venv.create(tmp / 'venv', system_site_packages=True, with_pip=True)
    py = tmp / 'venv' / 'bin' / 'python'
    subprocess.run([str(py), '-m', 'pip', 'install', '-q', '--no-deps', str(wheel)], check=True, timeout=300, cwd=tmp)
    outside = tmp / 'elsewhere'
    outside.mkdir()
    return py, outside


def _run(py, cwd, *args):
    r = subprocess.run([str(py), *args], cwd=cwd, env=_env(HOME=str(cwd)), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_wheel_carries_the_data(wheel_env):
    py, outside = wheel_env
    out = _run(
        py,
        outside,
        '-c',
        "import dataset_condensation as d, dataset_condensation.datasets as dd; "
        "print(d.__file__); print(dd.default_root('pneumoniamnist.npz'))",
    )
    pkg, root = out.split()
    assert ROOT not in Path(pkg).parents, f'the wheel is not what runs: {pkg}'
    assert Path(root) == Path(pkg).parent / 'bundled_data'


def test_wheel_commands_outside_the_clone(wheel_env):
    py, outside = wheel_env
    dc = py.parent / 'dc'
    assert 'pneumoniamnist' in _run(dc, outside, 'datasets')
    _run(
        dc,
        outside,
        'demo',
        '--quick',
        '--out',
        'demo',
        '--n-models',
        '1',
        '--full-epochs',
        '1',
        '--subset-epochs',
        '5',
        '--no-progress',
    )
    assert sorted(p.name for p in (outside / 'demo').iterdir()) == ['accuracy.png', 'images.png', 'results.json']
    _run(
        dc,
        outside,
        'prune',
        '--dataset',
        'pneumoniamnist',
        '--method',
        'forgetting',
        '--keep',
        '0.3',
        '--set',
        'epochs=2',
        '--out',
        'fg',
        '--no-progress',
    )
    assert (outside / 'fg' / 'coreset.json').exists()
