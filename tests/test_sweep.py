"Sweeps end to end: SIGKILL and resume, the Slurm path through submitit's local executor, and `reproduce`."
import base64, json, signal, struct, subprocess, time

import nbformat
import pandas as pd
import yaml

from conftest import BIN

# A run: sleeps, writes its metrics, and appends its id to the sweep's ledger as its very last act, so the
# ledger counts how often each run completed. In report mode it draws a figure and checks one claim.
RUN = '''
import json, os, pathlib, time
from rlpaper.core import write_json
out = pathlib.Path(out_dir or '.')
if fail and x == 2: raise RuntimeError('x = 2 fails')
if results is None:
    time.sleep(sleep)
    write_json(out / 'metrics.json', {'y': x + seed})
    (out / 'history.csv').write_text('step,value\\n0,0\\n1,%d\\n' % x)
    with open(out.parent / 'ledger.txt', 'a') as f: f.write(out.name + '\\n')
else:
    import matplotlib.pyplot as plt
    from rlpaper.experiment import Claim, Experiment, per_seed
    from rlpaper.figures import save_figure
    exp = Experiment.start('E5', 'Tiny 2026', dict(x=x, seed=seed, out_dir=out_dir, results=results),
                           claims=[Claim('reaches', 'y reaches 2.5', 'largest y', direction='>', threshold=2.5, figure='y.png')])
    table, history = exp.tables()
    fig, ax = plt.subplots(); ax.plot(table.x, table.y, 'o'); save_figure(fig, out / 'y.png')
    exp.judge('reaches', per_seed(table, lambda d: d.y.max()))
    exp.save_claims()
'''
PARAMS = 'x = 1\nseed = 0\nsleep = 0.0\nfail = False\nout_dir = None\nresults = None'


def tiny_notebook(path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PARAMS, metadata={'tags': ['parameters']}),
                                         nbformat.v4.new_code_cell(RUN)])
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'python3', 'language': 'python'}
    nbformat.write(nb, path)
    return path


def sweep_file(path, notebook, **spec):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({'notebook': str(notebook), 'grid': {'x': [1, 2, 3]}, 'seeds': [0, 1], **spec}))
    return path


def statuses(root):
    return {p.parent.name: json.loads(p.read_text()) for p in root.glob('*/status.json')}


def test_sigkill_of_the_sweep_loses_only_the_runs_in_flight(env, tmp_path):
    nb = tiny_notebook(tmp_path / 'e5_tiny.ipynb')
    f = sweep_file(tmp_path / 'sweeps' / 'smoke' / 'e5.yaml', nb, params={'sleep': 3.0})
    root = tmp_path / 'runs' / 'e5-smoke'
    cmd = [BIN / 'rlpaper', 'sweep', 'run', f, '--workers', '2']
    sweep = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    def counts(): return pd.Series([s['status'] for s in statuses(root).values()], dtype=object).value_counts()
    while counts().get('done', 0) < 2 or counts().get('running', 0) < 1:   # two runs finished, one in flight
        assert time.time() < deadline and sweep.poll() is None, 'the sweep ended or stalled before two runs finished'
        time.sleep(0.1)
    sweep.send_signal(signal.SIGKILL); sweep.wait()
    done_at_kill = {k for k, s in statuses(root).items() if s['status'] == 'done'}
    time.sleep(5)     # time enough for an orphan to finish its 3 s run, if one survived the kill
    before = statuses(root)
    done_before = {k for k, s in before.items() if s['status'] == 'done'}
    assert done_before == done_at_kill, 'a run went on after its sweep was killed'
    assert sorted((root / 'ledger.txt').read_text().split()) == sorted(done_before)
    table = subprocess.run([BIN / 'rlpaper', 'sweep', 'status', f], env=env, capture_output=True, text=True).stdout
    assert 'interrupted' in table and 'running' not in table.split('\n', 1)[1], table

    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    after = statuses(root)
    assert len(after) == 6 and all(s['status'] == 'done' for s in after.values())
    ledger = (root / 'ledger.txt').read_text().split()
    assert sorted(ledger) == sorted(after), 'every run completed exactly once'
    for rid in done_before: assert after[rid] == before[rid], 'a finished run was run again'
    assert any(s['attempt'] == 2 for s in after.values()), 'the interrupted runs were run again'


def test_slurm_executor_through_submitit_local(tmp_path, monkeypatch):
    from rlpaper.sweep import Sweep, collect, run_sweeps, sweep_status
    monkeypatch.setenv('RLPAPER_RUNS', str(tmp_path / 'runs'))
    nb = tiny_notebook(tmp_path / 'e5_tiny.ipynb')
    s = Sweep.load(sweep_file(tmp_path / 'sweeps' / 'smoke' / 'e5.yaml', nb, params={'fail': True},
                              resources={'time_min': 5, 'slurm': {'partition': 'gpu'}}))
    started = run_sweeps([s], workers=2, executor='slurm', slurm_cluster='local', progress=False)
    assert len(started) == 6
    st = sweep_status(s).set_index('x')
    assert (st.loc[[1, 3], 'status'] == 'done').all() and (st.loc[2, 'status'] == 'failed').all()
    assert st.loc[2, 'error'].str.contains('RuntimeError: x = 2 fails').all()
    assert (s.root / 'submitit').is_dir(), 'the jobs went through submitit'
    table, history = collect(s)   # partial: the failed runs keep their rows, without metrics
    assert len(table) == 6 and table.y.notna().sum() == 4 and len(history) == 8
    assert run_sweeps([s], executor='slurm', slurm_cluster='local', progress=False) == []   # failed: not retried


def test_reproduce_publishes_figures_and_claims_and_resumes(env, tmp_path):
    nb = tiny_notebook(tmp_path / 'e5_tiny.ipynb')
    sweeps, figures = tmp_path / 'sweeps' / 'smoke', tmp_path / 'figures'
    sweep_file(sweeps / 'e5.yaml', nb)
    cmd = [BIN / 'rlpaper', 'reproduce', '--sweeps', sweeps, '--figures', figures, '--workers', '2']
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {'e5_y.png', 'e5_y.pdf', 'claims.md', 'claims.json'} <= {p.name for p in figures.iterdir()}
    row = [l for l in (figures / 'claims.md').read_text().splitlines() if l.startswith('| E5 |')]
    assert len(row) == 1 and '| 3.5 [-2.85, 9.85] | 2 | inconclusive |' in row[0] and '[e5_y.png](e5_y.png)' in row[0], row
    assert (figures / 'claims.md').read_text().startswith('# 1 claims: 0 reproduced, 0 not reproduced, 1 inconclusive, 0 untestable')
    assert 'report 1/1 e5: 6 runs collected; drawing figures and judging claims ... done in' in r.stdout, r.stdout
    # the executed report notebook is published, its figure at 1x (a 6.4 x 4.8 in figure at 100 dpi; 2x 'retina' was twice as wide)
    published = nbformat.read(figures / 'notebooks' / 'e5_tiny.ipynb', as_version=4)
    pngs = [o.data['image/png'] for c in published.cells for o in c.get('outputs', []) if 'image/png' in o.get('data', {})]
    assert len(pngs) == 1 and struct.unpack('>I', base64.b64decode(pngs[0])[16:20])[0] <= 640
    results = pd.read_csv(tmp_path / 'runs' / 'e5-smoke' / 'results.csv')
    assert len(results) == 6 and set(results.status) == {'done'}
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)   # again: nothing to run
    assert r.returncode == 0 and '6 runs, 0 to start' in r.stdout, r.stdout

    # a failing run: reproduce exits 1 and leaves the published figures and claims as they were
    sweep_file(sweeps / 'e5.yaml', nb, params={'fail': True})
    claims_md = (figures / 'claims.md').read_text()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and 'incomplete' in r.stdout, r.stdout + r.stderr
    assert (figures / 'claims.md').read_text() == claims_md
    assert 'e5-smoke: 2 failed run(s):' in r.stderr and 'RuntimeError: x = 2 fails' in r.stderr, r.stderr


def test_reproduce_stops_on_missing_data(env, tmp_path):
    nb = tiny_notebook(tmp_path / 'e5_tiny.ipynb')
    sweeps = tmp_path / 'sweeps' / 'paper'
    sweep_file(sweeps / 'e5.yaml', nb, data=['cifar10', 'ucf101/UCF-101'])
    r = subprocess.run([BIN / 'rlpaper', 'reproduce', '--scale', 'paper', '--sweeps', sweeps, '--figures', tmp_path / 'f'],
                       env=dict(env, RLPAPER_DATA=str(tmp_path / 'nodata')), capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stdout + r.stderr
    assert 'missing  e5: dataset cifar10' in r.stdout and 'missing  e5: data ucf101/UCF-101' in r.stdout, r.stdout
    assert not (tmp_path / 'runs').exists() and not (tmp_path / 'f').exists()


def test_sweep_file_errors_name_the_key(env, tmp_path):
    nb = tiny_notebook(tmp_path / 'e5_tiny.ipynb')
    f = sweep_file(tmp_path / 's' / 'e5.yaml', nb, params={'n_trian': 5})
    r = subprocess.run([BIN / 'rlpaper', 'sweep', 'run', f], env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "['n_trian']" in r.stderr and 'does not declare' in r.stderr, r.stderr


def test_a_run_over_its_time_limit_is_killed_and_failed(env, tmp_path):
    nb = tiny_notebook(tmp_path / 'e5_tiny.ipynb')
    f = sweep_file(tmp_path / 's' / 'e5.yaml', nb, grid={'x': [1]}, seeds=[0], params={'sleep': 60.0},
                   resources={'time_min': 0.1})
    t0 = time.time()
    r = subprocess.run([BIN / 'rlpaper', 'sweep', 'run', f], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and time.time() - t0 < 40, (time.time() - t0, r.stdout + r.stderr)
    (st,) = statuses(tmp_path / 'runs' / 'e5-s').values()
    assert st['status'] == 'failed' and 'time limit of 0.1 min exceeded' in st['error'], st


def test_kernel_runs_as_gpu_runs_go_match_warm_runs(tmp_path, monkeypatch):
    "GPU runs keep a fresh process and a kernel each (`warm=False`): the same results and errors as warm CPU runs, and the time limit holds."
    from rlpaper.sweep import Sweep, collect, run_sweeps, sweep_status
    monkeypatch.setenv('RLPAPER_RUNS', str(tmp_path / 'runs'))
    nb = tiny_notebook(tmp_path / 'e5_tiny.ipynb')
    tables = {}
    for warm in (True, False):
        s = Sweep.load(sweep_file(tmp_path / 'sweeps' / f'warm{warm}' / 'e5.yaml', nb, params={'fail': True}))
        run_sweeps([s], workers=2, progress=False, warm=warm)
        st = sweep_status(s).set_index('x')
        assert (st.loc[[1, 3], 'status'] == 'done').all() and (st.loc[2, 'status'] == 'failed').all()
        assert st.loc[2, 'error'].str.contains('RuntimeError: x = 2 fails').all(), st.error
        tables[warm] = collect(s)[0][['run_id', 'status', 'y']]
    pd.testing.assert_frame_equal(tables[True], tables[False])

    s = Sweep.load(sweep_file(tmp_path / 'sweeps' / 'slow' / 'e5.yaml', nb, grid={'x': [1]}, seeds=[0],
                              params={'sleep': 60.0}, resources={'time_min': 0.1}))
    t0 = time.time()
    run_sweeps([s], progress=False, warm=False)
    (st,) = statuses(s.root).values()
    assert time.time() - t0 < 40 and st['status'] == 'failed' and 'time limit' in st['error'], (time.time() - t0, st)


def test_a_warm_run_trains_on_its_slots_thread_budget(tmp_path, monkeypatch):
    "The warm server imported torch with the machine's thread count; each run forked from it must use its slot's `cpus`."
    from rlpaper.sweep import Sweep, run_sweeps
    monkeypatch.setenv('RLPAPER_RUNS', str(tmp_path / 'runs'))
    nb = tmp_path / 'e5_threads.ipynb'
    cells = [nbformat.v4.new_code_cell('seed = 0\nout_dir = None', metadata={'tags': ['parameters']}),
             nbformat.v4.new_code_cell("import json, os, pathlib, torch\n"
                                       "pathlib.Path(out_dir, 'threads.json').write_text(json.dumps("
                                       "[torch.get_num_threads(), os.environ['OMP_NUM_THREADS']]))")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={'kernelspec': {'name': 'python3', 'display_name': 'python3',
                                                                                   'language': 'python'}}), nb)
    f = tmp_path / 'sweeps' / 'smoke' / 'e5.yaml'
    f.parent.mkdir(parents=True)
    f.write_text(yaml.safe_dump({'notebook': str(nb), 'seeds': [0], 'resources': {'cpus': 1}}))
    s = Sweep.load(f)
    run_sweeps([s], progress=False)
    (run,) = s.runs()
    assert json.loads((run.folder / 'threads.json').read_text()) == [1, '1']


def test_held_out_seeds_and_unknown_scales_are_refused_before_any_run(env, tmp_path):
    nb = tiny_notebook(tmp_path / 'e5_tiny.ipynb')
    chosen = [{'setting': {'x': 2}, 'chosen_on': 'sweeps/explore/e5.yaml', 'seeds': [1, 7]}]
    f = sweep_file(tmp_path / 'sweeps' / 'cpu' / 'e5.yaml', nb, selected=chosen)   # seeds 0 and 1: 1 overlaps
    r = subprocess.run([BIN / 'rlpaper', 'sweep', 'run', f, '--runs', tmp_path / 'runs'], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "rests on the setting {'x': 2}, chosen on seeds [1, 7]" in r.stderr, r.stdout + r.stderr
    assert not (tmp_path / 'runs').exists()
    sweep_file(f, nb, selected=chosen, seeds=[10, 11])   # disjoint seeds: accepted
    r = subprocess.run([BIN / 'rlpaper', 'sweep', 'run', f, '--runs', tmp_path / 'runs', '--dry-run'], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and '6 runs, 6 to start' in r.stdout, r.stdout + r.stderr
    r = subprocess.run([BIN / 'rlpaper', 'reproduce', '--scale', 'huge'], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no sweep folder for scale 'huge'" in r.stderr, r.stdout + r.stderr


def test_every_cpu_sweep_loads_with_five_seeds_or_more(tmp_path):
    "The cpu scale is the evidence: every experiment has a sweep file there, with at least 5 seeds per setting."
    from conftest import ROOT
    from rlpaper.sweep import Sweep
    files = sorted((ROOT / 'nbs' / 'experiments' / 'sweeps' / 'cpu').glob('e*.yaml'))
    assert [f.stem for f in files] == [f'e{i}' for i in range(10)], files
    for f in files:
        runs = Sweep.load(f, tmp_path).runs()
        by_setting = {}
        for r in runs: by_setting.setdefault(json.dumps({k: v for k, v in r.params.items() if k != 'seed'}, sort_keys=True), set()).add(r.params['seed'])
        assert min(len(s) for s in by_setting.values()) >= 5, (f.name, {k: len(s) for k, s in by_setting.items()})
