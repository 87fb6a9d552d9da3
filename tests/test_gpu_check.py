"""tools/gpu_check.py, the GPU check, in its CPU dry run (`--device cpu --tiny`): every registered distillation method,
the four engine variants and MTT's two backward modes are measured, and the table is printed."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import torch

from dataset_condensation.distill.core import load_distillation_methods

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / 'tools' / 'gpu_check.py'
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))


def run(*args, timeout=300):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=timeout
    )


def test_cpu_dry_run(tmp_path):
    out = tmp_path / 'gpu_check.json'
    p = run('--device', 'cpu', '--tiny', '--out', str(out))
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(out.read_text())
    rows = res['rows']
    assert res['failed'] == [] and not any(r.get('error') for r in rows)
    assert res['device'] == 'cpu' and res['tiny'] and res['dataset'] == 'digits'
    assert res['git_revision'] and res['torch_version'] == torch.__version__
    # the header line and one markdown table, a row per measurement
    head = p.stdout.splitlines()[0]
    assert head.startswith('GPU check on') and f'torch {torch.__version__}' in head and 'at git ' in head, head
    table = [line for line in p.stdout.splitlines() if line.startswith('|')]
    assert table[0] == '| part | run | s/it | img/s | peak +MiB | notes |'
    assert len(table) == 2 + len(rows)
    ok = lambda v: isinstance(v, float) and math.isfinite(v) and v > 0
    # every registered distillation method, timed
    dist = {r['name']: r for r in rows if r['part'] == 'distill'}
    assert sorted(dist) == sorted(load_distillation_methods())
    for m, r in dist.items():
        assert ok(r['s_per_it']) and ok(r['img_per_s']), (m, r)
        assert r['iterations_timed'] >= 2 and r['preset_loop_iterations'] >= r['iterations_timed'], (m, r)
        assert math.isclose(r['preset_seconds'], r['s_per_it'] * r['preset_loop_iterations'], rel_tol=1e-6)
        assert f"| distill | {m} |" in p.stdout
    # the engine: fp32 and bf16 autocast (measured on the CPU too), contiguous and channels-last
    eng = {(r['precision'], r['channels_last']): r for r in rows if r['part'] == 'engine'}
    assert sorted(eng) == sorted((p_, c) for p_ in ('fp32', 'bf16') for c in (False, True))
    for r in eng.values():
        assert ok(r['s_per_it']) and ok(r['img_per_s']) and math.isfinite(r['final_loss']), r
    # MTT: both memory modes at three unroll lengths; where the peak is measured (Linux: the resident size), the
    # constant-memory backward's is not above the plain one's, and the plain one's grows with the unroll
    mtt = {(r['memory'], r['syn_steps']): r for r in rows if r['part'] == 'mtt memory'}
    Ns = sorted({n for _, n in mtt})
    assert Ns == [5, 10, 20] and sorted(mtt) == sorted((m, n) for m in ('plain', 'recompute') for n in Ns)
    for r in mtt.values():
        assert ok(r['s_per_it']), r
    if sys.platform == 'linux':
        assert all(r['peak_mib'] is not None for r in rows), [r['name'] for r in rows if r['peak_mib'] is None]
    for n in Ns:
        plain, rec = mtt['plain', n]['peak_mib'], mtt['recompute', n]['peak_mib']
        if plain is not None and rec is not None:
            assert rec <= plain, (n, rec, plain)
    if mtt['plain', 5]['peak_mib'] is not None:
        assert mtt['plain', 20]['peak_mib'] > 1.5 * mtt['plain', 5]['peak_mib'], mtt


def _script():
    "tools/gpu_check.py as a module (tools/ is not a package)."
    spec = importlib.util.spec_from_file_location('gpu_check', SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bad_arguments(capsys):
    main = _script().main
    if not torch.cuda.is_available():  # the default device is CUDA: a one-line refusal, not a traceback
        assert main([]) == 2
        err = capsys.readouterr().err
        assert err.strip().count('\n') == 0, err
        assert 'CUDA is not available' in err and '--device cpu --tiny' in err, err
    assert main(['--device', 'cpu', '--methods', 'dm,bogus']) == 2
    err = capsys.readouterr().err
    assert "unknown ['bogus']" in err and '--methods' in err, err
    assert main(['--device', 'tpu']) == 2
    assert "--device 'tpu'" in capsys.readouterr().err
    assert main(['--device', 'cpu', '--iterations', '-1']) == 2
    assert '--iterations -1 must be >= 0' in capsys.readouterr().err
