"The video experiments' paper-scale sweep files name exactly the data their runs read, and `reproduce` lists it."
import subprocess

import pytest

from conftest import BIN, ROOT
from rlpaper.datasets import DATASETS
from rlpaper.sweep import Sweep
from rlpaper.video import VIDEO_DATA, video_data_paths

SWEEPS = ROOT / 'nbs' / 'experiments' / 'sweeps'


def data_read(run_params: dict) -> set[str]:
    "What one run of E1 or E2 reads from the data folder, from its parameters."
    read = set()
    for key in ('dataset', 'pretrain_data', 'finetune_data'):
        name = run_params.get(key)
        if name is None: continue
        read |= set(video_data_paths(name)) if isinstance(name, dict) or name in VIDEO_DATA else {name}
    if run_params.get('true_weights'): read.add(run_params['true_weights'])
    return read


@pytest.mark.parametrize('exp', ['e1', 'e2'])
def test_paper_sweep_data_is_what_its_runs_read(exp, tmp_path):
    s = Sweep.load(SWEEPS / 'paper' / f'{exp}.yaml', tmp_path)
    needed = set().union(*(data_read(r.params) for r in s.runs()))
    assert needed and set(s.data) == needed, (sorted(s.data), sorted(needed))
    assert len(s.data) == len(set(s.data))


def test_smoke_sweeps_need_no_video_on_disk(tmp_path):
    for exp in ('e1', 'e2'):
        s = Sweep.load(SWEEPS / 'smoke' / f'{exp}.yaml', tmp_path)
        assert all(data_read(r.params) <= set(DATASETS) for r in s.runs()), exp   # synthetic videos are written on use
        assert len(s.seeds) >= 2   # smoke: the plumbing; the cpu scale has the seeds to decide


def test_reproduce_paper_e2_lists_its_data_and_stops(env, tmp_path):
    env = dict(env, RLPAPER_DATA=str(tmp_path / 'empty'), CUDA_VISIBLE_DEVICES='')
    r = subprocess.run([BIN / 'rlpaper', 'reproduce', '--scale', 'paper', '--only', 'E2'], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 3, r.stdout + r.stderr
    line = next(l for l in r.stdout.splitlines() if l.startswith('e2: data'))
    s = Sweep.load(SWEEPS / 'paper' / 'e2.yaml', tmp_path)
    assert line == f"e2: data {s.data}; 4 GPU(s) per run; 9 runs", line   # data-parallel pre-training (the paper sweep)
    missing = [l for l in r.stdout.splitlines() if l.strip().startswith('missing  e2: data')]
    assert len(missing) == len(s.data) == 7, r.stdout
    assert not (tmp_path / 'runs').exists() or not any((tmp_path / 'runs').rglob('status.json'))   # nothing started
