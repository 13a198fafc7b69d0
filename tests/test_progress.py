"Progress outside a terminal: a few whole lines, in an executed notebook and in `fit`, never a line per redraw."
import io, itertools, json, subprocess

import pytest
import torch
from tqdm import tqdm

from rlpaper.progress import LineProgress, progress

from conftest import BIN, ROOT

E0 = ROOT / 'nbs' / 'experiments' / 'e0_random_labels.ipynb'


def simulated(seconds_per_read):
    "A clock that advances by `seconds_per_read` each time it is read."
    ticks = itertools.count()
    return lambda: next(ticks) * seconds_per_read


def outputs(nb: dict) -> str:
    "All text a notebook's cells printed (streams and errors), one string."
    out = []
    for cell in nb['cells']:
        for o in cell.get('outputs', []):
            if o['output_type'] == 'stream': out.append(''.join(o['text']))
            elif o['output_type'] == 'error': out.append('\n'.join(o['traceback']))
    return ''.join(out)


def test_papermill_e0_prints_a_few_progress_lines(tmp_path, env):
    "The README's papermill example, smaller: a small executed notebook with a handful of `fit:` lines, no widget warning."
    out_nb = tmp_path / 'e0.ipynb'
    subprocess.run([str(BIN / 'papermill'), str(E0), str(out_nb), '-p', 'corrupt_prob', '0.5', '-p', 'seed', '1',
                    '-p', 'n_train', '500', '-p', 'n_test', '500', '-p', 'max_epochs', '20', '-p', 'figures', 'False',
                    '-p', 'out_dir', str(tmp_path / 'run')], env=env, check=True, capture_output=True, cwd=ROOT)
    nb = json.loads(out_nb.read_text())
    text = outputs(nb)
    fit_lines = [l for l in text.splitlines() if l.startswith('fit: ')]
    assert '\r' not in text, text[:2000]
    assert 2 <= len(fit_lines) <= 12, fit_lines
    assert fit_lines[0].startswith('fit: 0% 0/160 steps') and 'train_acc=' in fit_lines[-1], fit_lines
    # tqdm made an output per redraw: 42 outputs here on an idle machine, hundreds on a busy one
    assert sum(len(c.get('outputs', [])) for c in nb['cells']) <= 15
    # the printed text stays a few lines (392 bytes measured); the size of the whole notebook follows its tables and
    # claims (19.6 KB added with E0's nine claims), so it is the text of the outputs that is bounded here
    assert len(text) < 2_000, f'the outputs printed {len(text)} characters: {text[:2000]}'
    assert 'IProgress' not in text, text[:2000]


@pytest.mark.parametrize('seconds_per_update', [0.0, 1e-4, 0.05, 0.36, 10.0])
def test_lines_bounded_for_10000_updates(seconds_per_update):
    "From 0 s to 28 h for 10 000 updates: the start, at most ten tenths, the heartbeats and the end."
    out, clock = io.StringIO(), simulated(seconds_per_update)
    with LineProgress(total=10_000, desc='fit', unit='step', file=out, clock=clock) as bar:
        for i in range(10_000):
            bar.update()
            bar.set_postfix(train_acc=i / 10_000)
    lines, seconds = out.getvalue().splitlines(), clock()
    assert 2 <= len(lines) <= 12 + seconds / 300, (seconds, lines)
    assert '\r' not in out.getvalue()
    assert lines[0] == 'fit: 0% 0/10000 steps, 0 s' and lines[-1].startswith('fit: 100% 10000/10000 steps, ')
    if seconds_per_update >= 0.05:   # slow enough for a line at each tenth (and heartbeats between them)
        assert {f'{10 * k}%' for k in range(11)} <= {l.split()[1] for l in lines}, lines


def test_lines_bounded_with_a_real_clock():
    out = io.StringIO()
    for _ in progress(range(10_000), desc='loop', file=out): pass
    lines = out.getvalue().splitlines()
    assert 2 <= len(lines) <= 6 and lines[-1].startswith('loop: 100% 10000/10000 it'), lines


def test_no_total_prints_on_the_heartbeat_only():
    out = io.StringIO()
    for _ in LineProgress(iter(range(10_000)), desc='videos', unit='video', file=out, clock=simulated(1.0)): pass
    lines = out.getvalue().splitlines()
    assert lines[0] == 'videos: 0 videos, 0 s' and lines[-1].startswith('videos: 10000 videos, 2 h 46 min')
    assert len(lines) == 2 + 10_000 // 300


def test_a_terminal_gets_tqdm():
    class Terminal(io.StringIO):
        def isatty(self): return True
    bar = progress(total=5, file=Terminal(), leave=False)
    assert isinstance(bar, tqdm); bar.close()
    assert isinstance(progress(total=5, file=io.StringIO()), LineProgress)


def test_fit_prints_a_few_lines_outside_a_terminal(capsys):
    from rlpaper.datasets import gaussian
    from rlpaper.models import get_model
    from rlpaper.train import TrainConfig, fit
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try: fit(get_model('mlp', 10, in_shape=(30,), hidden=(16,)), gaussian(n=2000), TrainConfig(epochs=5, batch_size=8, eval_every=250))
    finally: torch.set_num_threads(threads)
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.startswith('fit: ')]
    assert '\r' not in err and 2 <= len(lines) <= 12, err
    assert lines[0] == 'fit: 0% 0/1250 steps, 0 s' and lines[-1].startswith('fit: 100% 1250/1250 steps'), lines
    assert 'train_acc=' in lines[-1]
