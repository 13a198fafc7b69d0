"E0 end to end: papermill with parameters, and `rlpaper reproduce` into figures/ with the claims table."
import json, subprocess

import pandas as pd
import pytest
import yaml

from conftest import BIN, ROOT
from rlpaper.data import INPUT_CORRUPTIONS as INPUTS

E0 = ROOT / 'nbs' / 'experiments' / 'e0_random_labels.ipynb'


def tiny_sweep(folder, **params):
    "A small E0 sweep file: 3 corruption levels and the 3 input corruptions, 2 seeds, 200 images, a one-layer MLP."
    base = {'n_train': 200, 'n_test': 200, 'model_kwargs': {'hidden': [256]}, **params}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'e0.yaml').write_text(yaml.safe_dump({'notebook': str(E0), 'params': base, 'seeds': [0, 1],
                                                    'grid': {'corrupt_prob': [0.0, 0.5, 1.0]},
                                                    'points': [{'corrupt_prob': 0.0, 'input_corruption': k} for k in INPUTS]}))
    return folder


def test_env_prints_versions(env):
    out = subprocess.run([BIN / 'rlpaper', 'env'], env=env, capture_output=True, text=True, check=True).stdout
    for name in ('python', 'torch', 'torchvision', 'av', 'accelerate', 'papermill', 'device'):
        assert name in out, out


def test_papermill_runs_one_e0_point(env, tmp_path):
    out = tmp_path / 'e0'
    subprocess.run([BIN / 'papermill', E0, tmp_path / 'executed.ipynb', '-p', 'n_train', '150', '-p', 'n_test', '100',
                    '-p', 'corrupt_prob', '0.5', '-p', 'seed', '3', '-p', 'out_dir', str(out), '--cwd', str(tmp_path)],
                   env=env, check=True, capture_output=True, timeout=600)
    params = json.loads((out / 'params.json').read_text())
    assert (params['n_train'], params['seed'], params['corrupt_prob']) == (150, 3, 0.5)
    hist = pd.read_csv(out / 'history.csv')
    assert list(hist.columns[:5]) == ['step', 'epoch', 'split', 'metric', 'value']
    assert set(hist.split) == {'batch', 'train', 'test'}
    metrics = json.loads((out / 'metrics.json').read_text())
    assert 0.3 < metrics['changed_fraction'] < 0.6   # p (1 - 1/K) = 0.45 expected
    assert 0 <= metrics['train_acc'] <= 1 and metrics['chance'] == 0.1
    assert (out / 'accuracy.png').read_bytes()[:4] == b'\x89PNG' and (out / 'accuracy.pdf').read_bytes()[:4] == b'%PDF'
    claims = json.loads((out / 'claims.json').read_text())
    assert len(claims) == 9 and {c['verdict'] for c in claims} == {'untestable'}, claims   # one run, one seed
    assert all(c['n'] <= 1 and c['seeds'] in ([3], []) for c in claims) and claims[0]['seeds'] == [3], claims   # p = 1 claims: no run


@pytest.mark.parametrize('param, value, message', [
    ('input_corruption', 'pixels', "input_corruption='pixels' is not an input corruption; choose 'none' or one of "
                                   "('shuffled_pixels', 'random_pixels', 'gaussian')"),
    ('corrupt_prob', '1.5', 'corrupt_prob=1.5 is not a probability; choose a value in [0, 1]')])
def test_a_bad_e0_value_fails_before_any_data_is_read(env, tmp_path, param, value, message):
    r = subprocess.run([BIN / 'papermill', E0, tmp_path / 'executed.ipynb', '-p', param, value, '-p', 'out_dir',
                        str(tmp_path / 'e0'), '--cwd', str(tmp_path)], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode != 0 and message in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / 'e0' / 'history.csv').exists()


def test_reproduce_runs_the_e0_sweep_into_figures(env, tmp_path):
    sweeps, figures = tiny_sweep(tmp_path / 'sweeps' / 'smoke'), tmp_path / 'figures'
    r = subprocess.run([BIN / 'rlpaper', 'reproduce', '--only', 'E0', '--sweeps', sweeps, '--figures', figures,
                        '--workers', '2'], env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {'e0_accuracy.png', 'e0_accuracy.pdf', 'e0_steps.png', 'e0_loss.png', 'e0_inputs.png',
            'claims.md'} <= {p.name for p in figures.iterdir()}
    rows = [l for l in (figures / 'claims.md').read_text().splitlines() if l.startswith('| E0 |')]
    assert len(rows) == 9, rows
    for row in rows:   # experiment | claim | quantity | test | mean [95% CI] | n | verdict | reason | figure
        cells = [c.strip() for c in row.strip('|').split(' | ')]
        assert cells[5] == '2' and cells[6] in ('reproduced', 'not reproduced', 'inconclusive'), cells   # seeds, verdict
        assert cells[4].count('[') == 1 and cells[8].startswith('[e0_'), cells   # mean [low, high], the figure
    results = pd.read_csv(tmp_path / 'runs' / 'e0-smoke' / 'results.csv')
    assert len(results) == 12 and set(results.status) == {'done'} and results.train_acc.notna().all()
    assert sorted(results.corrupt_prob.unique()) == [0.0, 0.5, 1.0] and sorted(results.seed.unique()) == [0, 1]
    assert sorted(results.input_corruption.dropna().unique()) == sorted(INPUTS)
    report = tmp_path / 'runs' / 'e0-smoke' / 'report'
    assert (report / 'e0_random_labels.ipynb').exists() and json.loads((report / 'status.json').read_text())['status'] == 'done'
    # provenance: every run (and the report) names the commit of this checkout, and results.csv carries it
    head = subprocess.run(['git', '-C', ROOT, 'rev-parse', 'HEAD'], capture_output=True, text=True).stdout.strip()
    folders = [*(tmp_path / 'runs' / 'e0-smoke').glob('*=*'), report]
    provenance = [json.loads((f / 'provenance.json').read_text()) for f in folders]
    assert len(provenance) == 13 and {p['commit'] for p in provenance} == {head} == set(results.commit)
    assert all(p['command'].endswith(f'--workers 2') and 'reproduce' in p['command'] and p['ended'] for p in provenance)


def test_a_failing_e0_run_is_reported_and_figures_kept(env, tmp_path):
    sweeps = tiny_sweep(tmp_path / 'sweeps' / 'smoke', dataset='cifar10')
    r = subprocess.run([BIN / 'rlpaper', 'reproduce', '--sweeps', sweeps, '--figures', tmp_path / 'f', '--workers', '2'],
                       env=dict(env, RLPAPER_DATA=str(tmp_path / 'nodata')), capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stdout + r.stderr
    status = json.loads(next((tmp_path / 'runs' / 'e0-smoke').glob('*/status.json')).read_text())
    assert status['status'] == 'failed' and 'DatasetNotFoundError' in status['error'], status
    assert not (tmp_path / 'f').exists(), 'a failed reproduce must leave figures/ untouched'


def test_paper_scale_lists_what_e0_needs(env, tmp_path):
    r = subprocess.run([BIN / 'rlpaper', 'reproduce', '--scale', 'paper', '--only', 'e0', '--figures', tmp_path / 'f'],
                       env=dict(env, RLPAPER_DATA=str(tmp_path / 'nodata')), capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "e0: data ['cifar10']; 1 GPU(s) per run; 27 runs" in r.stdout and 'missing  e0: dataset cifar10' in r.stdout, r.stdout
