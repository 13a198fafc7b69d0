"E0 end to end: papermill with parameters, and `rlpaper reproduce` into figures/ with the claims table."
import json, subprocess

import pandas as pd

from conftest import BIN, ROOT

E0 = ROOT / 'nbs' / 'experiments' / 'e0_random_labels.ipynb'
TINY = ['n_train=200', 'n_test=200', 'seeds=[0, 1]', 'corrupt_probs=[0.0, 1.0]', "model_kwargs={'hidden': [256]}"]


def test_env_prints_versions(env):
    out = subprocess.run([BIN / 'rlpaper', 'env'], env=env, capture_output=True, text=True, check=True).stdout
    for name in ('python', 'torch', 'torchvision', 'av', 'accelerate', 'papermill', 'device'):
        assert name in out, out


def test_papermill_runs_e0_with_parameters(env, tmp_path):
    out = tmp_path / 'e0'
    subprocess.run([BIN / 'papermill', E0, tmp_path / 'executed.ipynb', '-p', 'n_train', '150', '-p', 'n_test', '100',
                    '-y', 'seeds: [3]\ncorrupt_probs: [0.5]', '-p', 'out_dir', str(out), '--cwd', str(tmp_path)],
                   env=env, check=True, capture_output=True, timeout=600)
    params = json.loads((out / 'params.json').read_text())
    assert (params['n_train'], params['seeds'], params['corrupt_probs']) == (150, [3], [0.5])
    hist = pd.read_csv(out / 'history.csv')
    assert list(hist.columns[:5]) == ['step', 'epoch', 'split', 'metric', 'value']
    assert set(hist.split) == {'batch', 'train', 'test'} and set(hist.seed) == {3}
    summary = pd.read_csv(out / 'summary.csv')
    assert len(summary) == 1 and 0.3 < summary.changed_fraction[0] < 0.6   # p (1 - 1/K) = 0.45 expected
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['runs'] == 1 and 0 <= metrics['min_train_acc'] <= 1
    assert (out / 'accuracy.png').read_bytes()[:4] == b'\x89PNG'


def test_reproduce_writes_figures_and_claims(env, tmp_path):
    figures = tmp_path / 'figures'
    cmd = [BIN / 'rlpaper', 'reproduce', '--only', 'e0', '--figures', str(figures)]
    for s in TINY: cmd += ['--set', s]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {'e0_accuracy.png', 'e0_steps.png', 'claims.md'} <= {p.name for p in figures.iterdir()}
    rows = [l for l in (figures / 'claims.md').read_text().splitlines() if l.startswith('| E0 |')]
    assert len(rows) == 3, rows
    for row in rows:
        cells = [c.strip() for c in row.strip('|').split(' | ')]
        assert cells[-1] in ('reproduced', 'not reproduced', 'inconclusive') and any(ch.isdigit() for ch in cells[3])
    run = tmp_path / 'runs' / 'reproduce' / 'e0'
    assert json.loads((run / 'status.json').read_text())['status'] == 'done'
    assert (run / 'e0_random_labels.ipynb').exists() and (run / 'metrics.json').exists()


def test_reproduce_rejects_unknown_parameter(env, tmp_path):
    r = subprocess.run([BIN / 'rlpaper', 'reproduce', '--set', 'n_trian=5', '--figures', str(tmp_path)],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "n_trian" in r.stderr, r.stderr


def test_reproduce_reports_a_failing_notebook(env, tmp_path):
    r = subprocess.run([BIN / 'rlpaper', 'reproduce', '--only', 'e0', '--set', 'dataset=cifar10',
                        '--figures', str(tmp_path / 'f')], env=dict(env, RLPAPER_DATA=str(tmp_path / 'nodata')),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stdout + r.stderr
    status = json.loads((tmp_path / 'runs' / 'reproduce' / 'e0' / 'status.json').read_text())
    assert status['status'] == 'failed' and 'DatasetNotFoundError' in status['error'], status
    assert not (tmp_path / 'f').exists(), 'a failed reproduce must leave figures/ untouched'
