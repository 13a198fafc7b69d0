"The TensorBoard callback: switched on by RLPAPER_TENSORBOARD, one folder per `fit` call, and no point twice after a resume."
import itertools

import pandas as pd
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

import rlpaper.train
from rlpaper.datasets import gaussian
from rlpaper.models import get_model
from rlpaper.train import Callback, TensorBoard, TrainConfig, fit


def tiny_fit(callbacks=(), **kw) -> pd.DataFrame:
    torch.manual_seed(0)
    cfg = TrainConfig(**{'epochs': 2, 'batch_size': 16, 'log_every': 2, 'progress': False, **kw})
    return fit(get_model('mlp', 10, in_shape=(30,), hidden=(16,)), gaussian(n=64), cfg, gaussian(train=False, n=64),
               callbacks=callbacks)


def shown(log_dir) -> list:
    "The (tag, step, value) points TensorBoard shows for `log_dir`, sorted."
    acc = EventAccumulator(str(log_dir), size_guidance={'scalars': 0})   # 0: every point, no sampling
    acc.Reload()
    return sorted((tag, e.step, e.value) for tag in acc.Tags()['scalars'] for e in acc.Scalars(tag))


def written(log_dir) -> list:
    "Every (tag, step) in the event files of `log_dir`, as written, hidden or not."
    return [(v.tag, e.step) for f in sorted(log_dir.glob('events.out.tfevents.*'))
            for e in LegacyEventFileLoader(str(f)).Load() if e.HasField('summary') for v in e.summary.value]


def assert_shows(log_dir, history: pd.DataFrame):
    "TensorBoard shows each row of `history` once, and nothing else."
    got = shown(log_dir)
    want = sorted(zip(history.split + '/' + history.metric, history.step, history.value))
    assert [p[:2] for p in got] == [p[:2] for p in want]
    assert len({p[:2] for p in got}) == len(got)   # no (tag, step) twice
    assert [p[2] for p in got] == pytest.approx([p[2] for p in want], rel=1e-6, abs=1e-7)   # float32 in the files


def test_env_var_adds_one_folder_per_fit_call(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('RLPAPER_TENSORBOARD', 'tb')   # relative: to the current folder at each fit
    monkeypatch.setattr(rlpaper.train, '_fit_calls', itertools.count())   # as in a fresh process
    h0, h1 = tiny_fit(), tiny_fit(lr=0.01)
    h2 = tiny_fit([TensorBoard(tmp_path / 'own')])   # one given: none added, though its call is numbered
    h3 = tiny_fit(eval_every=3)
    assert sorted(p.name for p in (tmp_path / 'tb').iterdir()) == ['fit-0', 'fit-1', 'fit-3']
    for log_dir, h in [('tb/fit-0', h0), ('tb/fit-1', h1), ('own', h2), ('tb/fit-3', h3)]: assert_shows(tmp_path / log_dir, h)
    monkeypatch.delenv('RLPAPER_TENSORBOARD')
    tiny_fit()
    assert sorted(p.name for p in (tmp_path / 'tb').iterdir()) == ['fit-0', 'fit-1', 'fit-3']


class Interrupt(Exception): pass


class InterruptAt(Callback):
    def __init__(self, step): self.at = step
    def on_step_end(self, state):
        if state.step == self.at: raise Interrupt


def test_resumed_fit_shows_each_point_once(tmp_path):
    # 4 steps per epoch; checkpoints at steps 3, 4, 6 and 8; interrupted at step 7, so resumed from step 6
    kw = dict(epochs=3, log_every=1, eval_every=3, checkpoint_every_steps=3, out_dir=str(tmp_path / 'run'))
    tb = TensorBoard(tmp_path / 'tb')
    with pytest.raises(Interrupt): tiny_fit([tb, InterruptAt(7)], **kw)
    tb.writer.flush()   # a killed run may have written rows after its last checkpoint: those of step 7 here
    assert max(step for _, step in written(tmp_path / 'tb')) == 7
    history = tiny_fit([TensorBoard(tmp_path / 'tb')], **kw)
    assert history.step.max() == 12 and len(list((tmp_path / 'tb').glob('events.out.tfevents.*'))) == 2
    assert_shows(tmp_path / 'tb', history)
    # the resumed run wrote only rows after its checkpoint's step: step 7's again (hidden in the first file), none before
    pairs = written(tmp_path / 'tb')
    twice = {p for p in pairs if pairs.count(p) > 1}
    assert twice and {step for _, step in twice} == {7}
    # finished: fit returns at once and writes nothing
    assert tiny_fit([TensorBoard(tmp_path / 'tb')], **kw).equals(history)
    assert len(list((tmp_path / 'tb').glob('events.out.tfevents.*'))) == 2


def test_resumed_fit_writes_restored_rows_to_an_empty_folder(tmp_path):
    "A run interrupted without TensorBoard: its resumption writes the whole history."
    kw = dict(epochs=3, log_every=1, eval_every=3, checkpoint_every_steps=3, out_dir=str(tmp_path / 'run'))
    with pytest.raises(Interrupt): tiny_fit([InterruptAt(7)], **kw)
    assert_shows(tmp_path / 'tb', tiny_fit([TensorBoard(tmp_path / 'tb')], **kw))


FIT_NOTEBOOK = '''
import torch
from rlpaper.datasets import gaussian
from rlpaper.models import get_model
from rlpaper.train import TrainConfig, fit
torch.manual_seed(seed)
fit(get_model('mlp', 10, in_shape=(30,), hidden=(16,)), gaussian(n=64), TrainConfig(epochs=2, batch_size=16, progress=False))
'''


def test_a_sweep_puts_every_run_under_one_log_folder(tmp_path):
    "`run_sweeps(..., tensorboard=DIR)` (`rlpaper sweep run --tensorboard DIR`): DIR/<sweep>/<run id>/fit-0 for each run."
    import nbformat, yaml
    from rlpaper.sweep import Sweep, run_sweeps
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('seed = 0\nout_dir = None', metadata={'tags': ['parameters']}),
                                         nbformat.v4.new_code_cell(FIT_NOTEBOOK)])
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'python3', 'language': 'python'}
    nbformat.write(nb, tmp_path / 'e5_fit.ipynb')
    (tmp_path / 'e5.yaml').write_text(yaml.safe_dump({'notebook': 'e5_fit.ipynb', 'name': 'tb-sweep', 'seeds': [0, 1]}))
    sweep = Sweep.load(tmp_path / 'e5.yaml', tmp_path / 'runs')
    run_sweeps([sweep], workers=2, progress=False, tensorboard=tmp_path / 'tb')
    for run in sweep.runs():
        log_dir = tmp_path / 'tb' / 'tb-sweep' / run.id / 'fit-0'
        assert list(log_dir.glob('events.out.tfevents.*')), f'no TensorBoard events for {run.id}'
        assert ('train/acc', 0) in {p[:2] for p in shown(log_dir)}
    assert sorted(p.name for p in (tmp_path / 'tb' / 'tb-sweep').iterdir()) == sorted(r.id for r in sweep.runs())
