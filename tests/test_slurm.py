"""The Slurm executor against a live single-node Slurm (tools/slurm_cluster.sh, the `slurm_cluster` fixture):
a smoke sweep end to end, job limits read back from Slurm, --workers as the array's throttle, a cancelled job,
refused submissions, and a run that outlives its time limit and resumes from its checkpoints."""
import json, os, re, subprocess, sys, threading, time
from pathlib import Path

import nbformat
import pytest
import yaml

from conftest import BIN, ROOT

# A run that logs each execution, then sleeps: a second execution of the same run (after a cancel) is quick
PARAMS = 'seed = 0\nsleep = 0.0\nout_dir = None'
BODY = '''
import pathlib, time
from rlpaper.core import write_json
out = pathlib.Path(out_dir)
log = out / 'executions.txt'
with open(log, 'a') as f: f.write(f'{time.time()}\\n')
if len(log.read_text().split()) == 1: time.sleep(sleep)
write_json(out / 'metrics.json', {'seed': seed})
'''


def notebook(path, body=BODY, params=PARAMS):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(params, metadata={'tags': ['parameters']}),
                                         nbformat.v4.new_code_cell(body)])
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'python3', 'language': 'python'}
    nbformat.write(nb, path)
    return path


def sweep_at(tmp_path, name='e5', body=BODY, declared=PARAMS, **spec):
    "A sweep file of a small notebook under tmp_path, loaded with its runs under tmp_path/runs."
    from rlpaper.sweep import Sweep
    nb = notebook(tmp_path / f'{name}_slurm.ipynb', body, declared)
    path = tmp_path / 'sweeps' / f'{name}.yaml'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({'notebook': str(nb), 'seeds': [0], **spec}))
    return Sweep.load(path, tmp_path / 'runs')


def job_fields(job_id):
    "The fields of `scontrol show job` for one job (array tasks as 12_3)."
    out = subprocess.run(['scontrol', 'show', 'job', '-o', job_id], capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r'(\w+)=(\S*)', out.splitlines()[0]))


def job_of(run):
    return json.loads((run.folder / 'slurm.json').read_text())['job_id']


def test_slurm_executor_is_refused_without_sbatch(tmp_path, monkeypatch):
    from rlpaper.sweep import run_sweeps
    s = sweep_at(tmp_path)
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    with pytest.raises(ValueError, match=r"needs Slurm's `sbatch`.*--executor local"):
        run_sweeps([s], executor='slurm', progress=False)
    assert not (tmp_path / 'runs').exists(), 'nothing is written before the refusal'


def test_smoke_sweep_end_to_end_on_slurm(slurm_cluster, env, tmp_path):
    figures = tmp_path / 'figures'
    cmd = [BIN / 'rlpaper', 'reproduce', '--scale', 'smoke', '--only', 'E1', '--executor', 'slurm', '--figures', figures]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    root = tmp_path / 'runs' / 'e1-smoke'
    claims = json.loads((figures / 'claims.json').read_text())
    published = json.loads((ROOT / 'figures' / 'smoke' / 'claims.json').read_text())
    names = lambda cs: sorted(c['name'] for c in cs if c['experiment'] == 'E1')
    assert names(claims) == names(published), 'the same claims as the local executor publishes'
    assert {'e1_rounds.png', 'claims.md'} <= {p.name for p in figures.iterdir()}
    head = subprocess.run(['git', '-C', ROOT, 'rev-parse', 'HEAD'], capture_output=True, text=True).stdout.strip()
    for run in root.glob('seed=*'):
        job = json.loads((run / 'slurm.json').read_text())
        assert job['cluster'] == 'slurm' and re.fullmatch(r'\d+_\d', job['job_id']), job
        assert json.loads((run / 'provenance.json').read_text())['commit'] == head
    status = subprocess.run([BIN / 'rlpaper', 'sweep', 'status', ROOT / 'nbs/experiments/sweeps/smoke/e1.yaml'],
                            env=env, capture_output=True, text=True).stdout
    assert re.search(r'done .* \d+_0 +COMPLETED', status) and re.search(r'done .* \d+_1 +COMPLETED', status), status


def test_job_limits_read_back_from_slurm(slurm_cluster, tmp_path):
    from rlpaper.sweep import run_sweeps, sweep_status
    # every value differs from what Slurm or submitit would give without it: 5 min, 1 CPU, 1 GB per CPU, 'debug'
    s = sweep_at(tmp_path, resources={'time_min': 7, 'cpus': 2, 'mem_gb': 1.5, 'slurm': {'partition': 'long'}})
    run_sweeps([s], executor='slurm', progress=False)
    run, = s.runs()
    assert sweep_status(s).status.tolist() == ['done']
    f = job_fields(job_of(run))
    assert (f['TimeLimit'], f['NumCPUs'], f['MinMemoryNode'], f['Partition']) == ('00:07:00', '2', '1.50G', 'long'), f


def test_workers_throttle_the_job_array(slurm_cluster, tmp_path):
    from rlpaper.sweep import run_sweeps, sweep_status
    s = sweep_at(tmp_path, seeds=[0, 1, 2], params={'sleep': 2.0})
    run_sweeps([s], workers=1, executor='slurm', progress=False)
    assert sweep_status(s).status.tolist() == ['done'] * 3
    runs = s.runs()
    assert job_fields(job_of(runs[0]))['ArrayTaskThrottle'] == '1'
    spans = sorted((st['started'], st['started'] + st['seconds'])
                   for st in (json.loads((r.folder / 'status.json').read_text()) for r in runs))
    assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:])), f'two runs overlapped: {spans}'


def test_a_cancelled_job_is_interrupted_and_runs_again_once(slurm_cluster, env, tmp_path):
    s = sweep_at(tmp_path, params={'sleep': 120.0})
    run, = s.runs()
    cmd = [BIN / 'rlpaper', 'sweep', 'run', s.path, '--executor', 'slurm', '--runs', tmp_path / 'runs']
    sweep = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not (run.folder / 'executions.txt').exists():   # the notebook is running
        assert time.time() < deadline and sweep.poll() is None, 'the job did not start'
        time.sleep(0.5)
    subprocess.run(['scancel', job_of(run)], check=True)
    out, _ = sweep.communicate(timeout=120)
    assert sweep.returncode == 1, out
    status = subprocess.run([BIN / 'rlpaper', 'sweep', 'status', s.path, '--runs', tmp_path / 'runs'],
                            env=env, capture_output=True, text=True).stdout
    assert re.search(r'interrupted .*CANCELLED', status), status
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and '1 to start' in again.stdout, again.stdout + again.stderr
    assert len((run.folder / 'executions.txt').read_text().split()) == 2, 'cancelled once, then run exactly once more'
    assert json.loads((run.folder / 'status.json').read_text())['status'] == 'done'


@pytest.mark.parametrize('resources, reason', [
    ({'cpus': 64}, 'More processors requested than permitted'),
    ({'slurm': {'partition': 'nope'}}, 'Invalid partition name'),
])
def test_a_submission_slurm_refuses_names_its_reason_and_leaves_nothing(slurm_cluster, tmp_path, resources, reason):
    from rlpaper.sweep import run_sweeps
    s = sweep_at(tmp_path, seeds=[0, 1], resources=resources)
    with pytest.raises(ValueError, match=f'(?s)Slurm refused the job array of 2 run.*{reason}'):
        run_sweeps([s], executor='slurm', progress=False)
    assert not any(r.folder.exists() for r in s.runs()), 'no run folder is written'
    assert not [p for p in (s.root / 'submitit').rglob('*') if p.is_file()], 'no submission files are left'


# A run of about 100 s of training on one thread (0.7 s an epoch), checkpointed every epoch
TRAIN = '''
import pathlib, torch
from rlpaper.datasets import gaussian
from rlpaper.models import get_model
from rlpaper.train import TrainConfig, fit
torch.set_num_threads(1)   # the same arithmetic in the job and in the reference run
out = pathlib.Path(out_dir)
with open(out / 'executions.txt', 'a') as f: f.write('x\\n')
torch.manual_seed(seed)
model = get_model('mlp', 10, in_shape=(30,), hidden=(512, 512))
h = fit(model, gaussian(n=n), TrainConfig(epochs=epochs, batch_size=32, lr=0.01, seed=seed, progress=False,
                                                out_dir=str(out / 'fit'), eval_every_epochs=1))
torch.save(model.state_dict(), out / 'weights.pt')
'''


def test_a_run_past_its_time_limit_is_requeued_and_resumes_bit_exactly(slurm_cluster, tmp_path):
    from rlpaper.sweep import run_notebook, run_sweeps, sweep_status
    import pandas as pd, torch
    declared = 'seed = 0\nn = 8000\nepochs = 140\nout_dir = None'
    s = sweep_at(tmp_path, name='e6', body=TRAIN, declared=declared, resources={'time_min': 1, 'max_requeues': 30})
    run, = s.runs()
    # the reference: the same notebook, uninterrupted, in a process of its own, while the job runs
    ref = threading.Thread(target=run_notebook, args=(s.notebook, tmp_path / 'reference', {'out_dir': str(tmp_path / 'reference')}),
                           kwargs={'progress': False})
    ref.start()
    start = time.time()
    run_sweeps([s], executor='slurm', progress=False)
    ref.join()
    print(f'the job ended after {time.time() - start:.0f} s')
    assert sweep_status(s).status.tolist() == ['done'], sweep_status(s).error.tolist()
    executions = len((run.folder / 'executions.txt').read_text().split())
    assert executions >= 2, 'the run needed more than one time limit'
    assert json.loads((run.folder / 'status.json').read_text())['attempt'] == executions
    a, b = (pd.read_csv(d / 'fit' / 'history.csv') for d in (run.folder, tmp_path / 'reference'))
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    wa, wb = (torch.load(d / 'weights.pt') for d in (run.folder, tmp_path / 'reference'))
    assert all(torch.equal(wa[k], wb[k]) for k in wb), 'the resumed run ends with the same weights'


def test_a_run_still_queued_is_not_submitted_again(slurm_cluster, env, tmp_path):
    "The sweep process dies while one run's job runs and the other's waits (--workers 1): a new `sweep run` submits neither."
    s = sweep_at(tmp_path, seeds=[0, 1], params={'sleep': 8.0})
    first, second = s.runs()
    cmd = [BIN / 'rlpaper', 'sweep', 'run', s.path, '--executor', 'slurm', '--workers', '1', '--runs', tmp_path / 'runs']
    sweep = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not any((r.folder / 'executions.txt').exists() for r in (first, second)):   # one job runs, one is queued
        assert time.time() < deadline and sweep.poll() is None, 'no job started'
        time.sleep(0.5)
    sweep.kill(); sweep.wait()
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.stdout.count('already queued as Slurm job') == 1, again.stdout + again.stderr
    assert 'jobs:' not in again.stdout + again.stderr, 'nothing was submitted, so nothing is waited for'
    deadline = time.time() + 120
    while not all((r.folder / 'metrics.json').exists() for r in (first, second)):   # the jobs finish on their own
        assert time.time() < deadline, 'the jobs did not finish'
        time.sleep(0.5)
    assert [len((r.folder / 'executions.txt').read_text().split()) for r in (first, second)] == [1, 1]
