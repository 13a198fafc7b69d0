"""What a new user and a cluster user hit first: data found from anywhere, readable files, checks before any
run, the whole error, and a quiet end to a killed sweep. Each test runs the `rlpaper` command as a user would."""
import os, signal, subprocess, time
from pathlib import Path

import nbformat
import pytest
import yaml

from conftest import BIN, ROOT

SMOKE_E0 = ROOT / 'nbs' / 'experiments' / 'sweeps' / 'smoke' / 'e0.yaml'
DEBIAN_FASHION_MNIST = Path('/usr/share/datasets/fashion-mnist')


def rlpaper(*args, env, cwd, umask=None, timeout=600):
    "Run the `rlpaper` command; its completed process."
    pre = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run([BIN / 'rlpaper', *map(str, args)], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=pre)


def without_data_env(env, tmp_path):
    "The user's environment: no RLPAPER_DATA, and a per-user data folder of its own, to see whether anything lands there."
    env = {k: v for k, v in env.items() if k != 'RLPAPER_DATA'}
    return {**env, 'XDG_DATA_HOME': str(tmp_path / 'xdg'), 'HOME': str(tmp_path / 'home')}


def modes(folder):
    "The permission bits of every file under `folder`, by relative path."
    return {str(p.relative_to(folder)): p.stat().st_mode & 0o777 for p in folder.rglob('*') if p.is_file()}


def tiny_sweep(tmp_path, body, data=(), grid=None, name='e5.yaml'):
    "A sweep file over a one-cell notebook, outside the checkout."
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('x = 1\nseed = 0\nout_dir = None', metadata={'tags': ['parameters']}),
        nbformat.v4.new_code_cell(body)])
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'python3', 'language': 'python'}
    nbformat.write(nb, tmp_path / 'e5_tiny.ipynb')
    f = tmp_path / 'sweeps' / 'smoke' / name
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(yaml.safe_dump({'notebook': str(tmp_path / 'e5_tiny.ipynb'), 'grid': grid or {'x': [1, 2]},
                                 'seeds': [0], 'data': list(data)}))
    return f


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists() and not (ROOT / 'data' / 'FashionMNIST' / 'raw').exists(),
                    reason='Fashion-MNIST is not installed (make install installs it where apt is available)')
def test_a_sweep_outside_the_checkout_reads_the_checkouts_data_and_writes_group_readable_files(env, tmp_path):
    env = without_data_env(env, tmp_path)
    runs = tmp_path / 'scratch' / 'runs'   # a scratch disk: no checkout above it, and the command runs from there
    runs.mkdir(parents=True)
    r = rlpaper('sweep', 'run', SMOKE_E0, '--runs', runs, env=env, cwd=runs, umask=0o002)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    root = runs / 'e0-smoke'
    assert len(list(root.glob('*/metrics.json'))) == 12   # 3 label corruptions and 3 input corruptions, 2 seeds
    # no run unpacked Fashion-MNIST into its folder, nor into the per-user data folder: they read the checkout's data/
    unpacked = [p for p in tmp_path.rglob('*-ubyte')]
    assert not unpacked, unpacked
    size = sum(p.stat().st_size for p in root.rglob('*') if p.is_file())
    assert size < 10e6, f'{size / 1e6:.1f} MB for 6 runs'
    # under umask 002 the group may read and write every file, and nothing is executable (run.log was 0755)
    found = modes(root)
    assert any(name.endswith('run.log') for name in found) and any(name.endswith('metrics.json') for name in found)
    wrong = {name: oct(m) for name, m in found.items() if m != 0o664}
    assert not wrong, wrong


def test_files_of_a_run_follow_the_umask_022(env, tmp_path):
    f = tiny_sweep(tmp_path, "from rlpaper.core import write_json\n"
                             "write_json(f'{out_dir}/metrics.json', {'y': x})\n"
                             "open(f'{out_dir}/history.csv', 'w').write('step,value\\n0,1\\n')")
    r = rlpaper('sweep', 'run', f, '--runs', tmp_path / 'runs', env=env, cwd=tmp_path, umask=0o022)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    found = modes(tmp_path / 'runs' / 'e5-smoke')
    assert {n.split('/')[-1] for n in found} >= {'run.log', 'status.json', 'params.json', 'metrics.json', 'e5_tiny.ipynb'}
    wrong = {name: oct(m) for name, m in found.items() if m != 0o644}
    assert not wrong, wrong


def test_sweep_run_checks_its_data_before_any_run(env, tmp_path):
    f = tiny_sweep(tmp_path, 'pass', data=['fashion_mnst'])   # misspelled
    r = rlpaper('sweep', 'run', f, '--runs', tmp_path / 'runs', env=env, cwd=tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    assert 'fashion_mnst' in r.stdout and 'not a dataset name' in r.stdout and 'e5.yaml' in r.stdout, r.stdout
    assert 'stopped before any run' in r.stderr
    assert not (tmp_path / 'runs').exists()   # nothing written


def test_failed_runs_show_their_errors(env, tmp_path):
    f = tiny_sweep(tmp_path, "if x == 2: raise ValueError('x = 2 is out of range')")
    r = rlpaper('sweep', 'run', f, '--runs', tmp_path / 'runs', env=env, cwd=tmp_path)
    assert r.returncode == 1
    assert '1 failed run(s)' in r.stderr and "ValueError: x = 2 is out of range" in r.stderr, r.stderr
    assert f'rlpaper sweep status {f}' in r.stderr   # and where the rest is


def test_reproduce_shows_the_whole_missing_data_message(env, tmp_path):
    f = tiny_sweep(tmp_path, 'pass', data=['cifar10'])
    env = {**env, 'RLPAPER_DATA': str(tmp_path / 'empty')}
    r = rlpaper('reproduce', '--sweeps', f.parent, '--runs', tmp_path / 'runs', '--figures', tmp_path / 'figures',
                env=env, cwd=ROOT)
    assert r.returncode == 3, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert 'cifar10 not found. Searched:' in out and str(tmp_path / 'empty' / 'cifar-10-batches-py') in out, out
    assert 'To get it:' in out and 'rlpaper data get cifar10' in out, out
    assert 'sweep status' not in out   # nothing ran, so nothing to inspect
    assert not (tmp_path / 'runs').exists() and not (tmp_path / 'figures').exists()


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_outside_a_checkout_datasets_go_to_the_per_user_folder_and_say_so(env, tmp_path):
    env = without_data_env(env, tmp_path)
    code = "from rlpaper.datasets import get_dataset; print(len(get_dataset('fashion_mnist')))"
    r = subprocess.run([BIN / 'python', '-c', code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '60000'
    raw = tmp_path / 'xdg' / 'rlpaper' / 'FashionMNIST' / 'raw'
    assert len(list(raw.glob('*-ubyte'))) == 4
    assert not (tmp_path / 'data').exists()   # not the current folder
    assert f'into {raw}' in r.stderr, r.stderr   # said once where it wrote
    again = subprocess.run([BIN / 'python', '-c', code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert 'unpacked' not in again.stderr


def test_a_killed_sweep_leaks_no_semaphore(env, tmp_path):
    # A run that shows a tqdm bar (tqdm's default lock is a multiprocessing semaphore), killed with its sweep.
    f = tiny_sweep(tmp_path, "import time\nfrom tqdm.auto import tqdm\nbar = tqdm(total=10)\nbar.update()\n"
                             "open(f'{out_dir}/bar.txt', 'w').close()\ntime.sleep(60)",
                   grid={'x': [1, 2]})
    sweep = subprocess.Popen([BIN / 'rlpaper', 'sweep', 'run', f, '--runs', tmp_path / 'runs', '--workers', '2'],
                             env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    logs = tmp_path / 'runs' / 'e5-smoke'
    deadline = time.time() + 120
    while time.time() < deadline and len(list(logs.glob('*/bar.txt'))) < 2: time.sleep(0.5)
    assert time.time() < deadline, 'the runs never showed their bars'
    sweep.send_signal(signal.SIGTERM)
    out, err = sweep.communicate(timeout=120)   # until every process holding the pipes, the resource tracker too, has ended
    assert 'leaked semaphore' not in err, err
