"""Cost of the sweep layer: per-run overhead against in-process execution, and 2 local workers against 1.

A small experiment notebook (written into a temporary folder) trains a tiny MLP for a fixed number of steps on
one thread (about a second of work) and writes `metrics.json`; a sweep file runs it over a grid of learning
rates and two seeds. Measured in the same run, in interleaved rounds (each round runs the three in a
different order, so that drifts of the machine hit all of them):
1. the notebook's code executed in this process, run after run, with the parameters set and imports already
   paid, as a user calling the library directly would: the reference;
2. the same runs through the sweep with 1 worker (`Sweep.load`, `run_sweeps`, then `collect` into
   results.csv), as CPU runs go: each run a process forked from the warm server, its notebook executed in
   that process: seconds per run, overhead in seconds per run, and the paired ratio sweep / in-process;
3. the same with kernels (`warm=False`, as GPU runs go): one `python -m rlpaper.sweep` child per run, which
   starts a kernel through papermill; its ratio to in-process, and kernels / warm;
4. the warm sweep with 2 workers on the 2 cores: the speed-up t1 / t2 (ideal 2.0).
Every sweep gets a fresh runs folder, and every run must end `done`. Before the rounds, a rough breakdown of
where a kernel run's overhead goes: the child's Python start and imports, the kernel's start, the notebook's
imports inside the kernel, the kernel's shutdown, and the rest (papermill and the sweep's bookkeeping).
Usage: python bench/bench_sweep.py [rounds] [steps]
"""
import contextlib, io, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

import nbformat
import torch

from rlpaper.sweep import Sweep, collect, run_sweeps, sweep_status

PARAMS = 'lr = 0.01\nseed = 0\nsteps = 450\nout_dir = None'
IMPORTS = '''import time
from pathlib import Path
import torch
import torch.nn.functional as F
from rlpaper.core import write_json'''
WORK = '''torch.set_num_threads(1)
torch.manual_seed(seed)
t0 = time.perf_counter()
x, y = torch.randn(2048, 256), torch.randint(0, 10, (2048,))
model = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(),
                            torch.nn.Linear(256, 10))
opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
for step in range(steps):
    i = torch.randint(0, len(x), (128,))
    loss = F.cross_entropy(model(x[i]), y[i])
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
write_json(Path(out_dir or '.') / 'metrics.json', {'loss': loss.item(), 'compute_seconds': time.perf_counter() - t0})'''


def write_notebook(path):
    "The experiment: a `parameters` cell, an imports cell, the work."
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PARAMS, metadata={'tags': ['parameters']}),
                                         nbformat.v4.new_code_cell(IMPORTS), nbformat.v4.new_code_cell(WORK)])
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'python3', 'language': 'python'}
    nbformat.write(nb, path)
    return path


def write_sweep(folder, notebook, steps):
    "A sweep of 3 learning rates x 2 seeds: 6 runs of the same amount of work."
    path = Path(folder) / 'sweeps' / 'bench' / 'e9.yaml'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'notebook: {notebook}\nparams: {{steps: {steps}}}\ngrid: {{lr: [0.01, 0.02, 0.05]}}\n'
                    f'seeds: [0, 1]\nresources: {{gpus: 0, cpus: 1, time_min: 10}}\n')
    return path


def in_process(notebook, runs, out):
    "Execute the notebook's code cells here, once per run, with the run's parameters set: the reference."
    cells = [c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == 'code']
    codes = [compile(src, f'<cell {i}>', 'exec') for i, src in enumerate(cells)]
    for run in runs:
        ns = {}
        exec(codes[0], ns)   # the parameters cell's defaults, then the run's values, as papermill injects them
        ns.update(run.params, out_dir=str(Path(out) / run.id))
        Path(ns['out_dir']).mkdir(parents=True, exist_ok=True)
        for code in codes[1:]: exec(code, ns)


def through_sweep(sweep_path, runs_folder, workers, warm=None):
    "Load the sweep, run every run with `workers` local workers, collect; check that every run is done."
    t0 = time.perf_counter()
    sweep = Sweep.load(sweep_path, runs=runs_folder)
    with contextlib.redirect_stdout(io.StringIO()):   # run_sweeps prints one line per sweep
        run_sweeps([sweep], workers=workers, progress=False, warm=warm)
    t1 = time.perf_counter()
    table, _ = collect(sweep)
    t2 = time.perf_counter()
    status = sweep_status(sweep)
    if not (status.status == 'done').all():
        bad = status[status.status != 'done']
        logs = [(r.folder / 'run.log') for r in sweep.runs() if r.id in set(bad.run_id)]
        tail = logs[0].read_text()[-2000:] if logs and logs[0].exists() else ''
        raise RuntimeError(f'{len(bad)} run(s) not done with {workers} worker(s):\n{bad[["run_id", "status", "error"]]}\n{tail}')
    if table['loss'].isna().any(): raise RuntimeError(f'results.csv lacks a loss:\n{table}')
    return t2 - t0, t2 - t1, float(table['compute_seconds'].mean())


def best_of(n, f):
    return min(f() for _ in range(n))


def seconds(cmd, env=None):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def kernel_phases(env):
    "Start a kernel as papermill does, run the notebook's imports cell in it, shut it down at once, as run_notebook does."
    from jupyter_client.manager import KernelManager
    t0 = time.perf_counter()
    km = KernelManager(kernel_name='python3')
    km.start_kernel(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kc = km.client(); kc.start_channels(); kc.wait_for_ready(timeout=120)
    t1 = time.perf_counter()
    reply = kc.execute_interactive(IMPORTS, timeout=120, output_hook=lambda msg: None)
    t2 = time.perf_counter()
    kc.stop_channels(); km.shutdown_kernel(now=True)   # run_notebook asks papermill for `immediate`
    t3 = time.perf_counter()
    if reply['content']['status'] != 'ok': raise RuntimeError(f'the imports cell failed in a kernel: {reply["content"]}')
    return t1 - t0, t2 - t1, t3 - t2


def breakdown(env):
    "Rough cost of each piece of a sweep run, each the best of 2 fresh measurements."
    py = [sys.executable, '-c']
    start = best_of(2, lambda: seconds(py + ['pass'], env))
    sweep_import = best_of(2, lambda: seconds(py + ['import rlpaper.sweep'], env))
    # as `python -m rlpaper.sweep` does: papermill imported after the module
    with_pm = best_of(2, lambda: seconds(py + ['import rlpaper.sweep, papermill'], env))
    phases = [kernel_phases(env) for _ in range(2)]
    return {'child: python start': start, 'child: import rlpaper.sweep': sweep_import - start,
            'child: import papermill': with_pm - sweep_import,
            'kernel start (until ready)': min(p[0] for p in phases),
            'notebook imports in the kernel (torch, rlpaper.core)': min(p[1] for p in phases),
            'kernel shutdown (immediate)': min(p[2] for p in phases)}


def main(rounds=2, steps=450):
    torch.set_num_threads(1)
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'CUDA_VISIBLE_DEVICES': ''}   # a worker slot's
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        notebook = write_notebook(d / 'e9_bench.ipynb')
        sweep_path = write_sweep(d, notebook, steps)
        runs = Sweep.load(sweep_path, runs=d / 'unused').runs()
        n = len(runs)

        in_process(notebook, runs[:1], d / 'warm')   # imports and first-call costs paid once, as for a user
        pieces = breakdown(env)

        kinds = ['in-process', 'sweep, 1 worker', 'kernels, 1 worker', 'sweep, 2 workers']
        times, compute, collect_s = {k: [] for k in kinds}, {k: [] for k in kinds}, []
        def measure(which, r):
            folder = d / f'{which.replace(" ", "").replace(",", "-")}-{r}'
            if which == 'in-process':
                t0 = time.perf_counter(); in_process(notebook, runs, folder); t = time.perf_counter() - t0
                c = statistics.mean(json.loads((folder / run.id / 'metrics.json').read_text())['compute_seconds'] for run in runs)
            else:
                t, tc, c = through_sweep(sweep_path, folder, 1 if '1' in which else 2, False if 'kernels' in which else None)
                if which == 'kernels, 1 worker': collect_s.append(tc)
            times[which].append(t); compute[which].append(c)
        order = list(times)
        for r in range(rounds):
            for which in (order if r % 2 == 0 else order[::-1]):
                measure(which, r)

    print(f'{n} runs of {steps} steps of a 256-256-256-10 MLP, 1 thread each; {os.cpu_count()} cores; {rounds} interleaved rounds')
    print(f'{"":20s}' + ''.join(f'  round {r + 1:<3d}' for r in range(rounds)) + '   s/run (best)   compute s/run')
    for which, ts in times.items():
        print(f'{which:20s}' + ''.join(f'{t:9.1f} s' for t in ts) + f'   {min(ts) / n:10.2f}     {statistics.mean(compute[which]):10.2f}')
    per_in, per_1, per_k = (min(times[k]) / n for k in ('in-process', 'sweep, 1 worker', 'kernels, 1 worker'))
    paired = lambda a, b: statistics.median(x / y for x, y in zip(times[a], times[b]))
    ratio, ratio_k = paired('sweep, 1 worker', 'in-process'), paired('kernels, 1 worker', 'in-process')
    warm_gain = paired('kernels, 1 worker', 'sweep, 1 worker')
    speedup = statistics.median(a / b for a, b in zip(times['sweep, 1 worker'], times['sweep, 2 workers']))
    print()
    print('where a kernel run\'s time goes (rough: pieces measured apart, best of 2)')
    rest = per_k - statistics.mean(compute['kernels, 1 worker']) - sum(pieces.values()) - statistics.mean(collect_s) / n
    work_in, work_run = statistics.mean(compute['in-process']), statistics.mean(compute['kernels, 1 worker'])
    # the work's first calls in a fresh process cost more than the work itself: with torch 2.14, constructing
    # the first optimizer imports torch._dynamo (about 2 s), which the in-process reference paid once
    rows = {**pieces, 'notebook work, as timed in-process': work_in,
            'first-call costs of the work in a fresh kernel': work_run - work_in,
            f'collect ({statistics.mean(collect_s):.2f} s a sweep), per run': statistics.mean(collect_s) / n,
            'rest: papermill, status files, parent': rest}
    for k, v in rows.items(): print(f'  {k:56s} {v:6.2f} s')
    print(f'  {"total per run through kernels (1 worker, best round)":56s} {per_k:6.2f} s')
    print()
    print(f'seconds per run: warm sweep (1 worker) {per_1:.2f} s, kernels {per_k:.2f} s, in-process {per_in:.2f} s')
    print(f'sweep overhead per run: warm {per_1 - per_in:.2f} s, kernels {per_k - per_in:.2f} s')
    print(f'ratio warm sweep / in-process per run: {ratio:.2f}; kernels / in-process {ratio_k:.2f}; '
          f'kernels / warm {warm_gain:.2f} (medians of {rounds} paired rounds)')
    print(f'speed-up of 2 workers over 1 (t1 / t2): {speedup:.2f} (median of {rounds} paired rounds; ideal 2.0)')
    return ratio, speedup


if __name__ == '__main__':
    main(*map(int, sys.argv[1:3]))
