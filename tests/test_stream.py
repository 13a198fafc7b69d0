"Streaming data (data='stream'): exact mid-epoch resume, a new clip per epoch in DataLoader workers, two processes."
import os, subprocess, sys
from pathlib import Path

import pandas as pd
import torch
from accelerate import debug_launcher

from rlpaper.data import LabelledSubset, RandomLabels
from rlpaper.datasets import gaussian
from rlpaper.models import get_model
from rlpaper.synthetic_video import make_synthetic_actions
from rlpaper.train import Callback, TrainConfig, checkpoint_paths, fit, load_checkpoint
from rlpaper.video import VideoClips, ucf101


class Interrupt(Exception): pass


class InterruptAt(Callback):
    "Raises after step `at`, as a crash would: the run keeps only what its last checkpoint holds."
    def __init__(self, at): self.at = at
    def on_step_end(self, state):
        if state.step == self.at: raise Interrupt


def train_gaussian(out_dir, callbacks=(), **kw):
    "A dropout MLP on random labels of 300 Gaussian inputs, 10 batches per epoch, read through a DataLoader."
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(30, 64), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(64, 10))
    train = gaussian(n=300)
    cfg = TrainConfig(epochs=4, batch_size=32, lr=0.05, schedule='cosine', eval_every=6, log_every=4,
                      checkpoint_every_steps=8, data='stream', out_dir=str(out_dir), progress=False, **kw)
    return net, fit(net, RandomLabels(train, seed=3), cfg, gaussian(train=False, n=50), callbacks=callbacks,
                    eval_sets={'train_true': train})


def test_stream_run_resumes_mid_epoch_like_an_uninterrupted_one(tmp_path):
    ref_net, ref_hist = train_gaussian(tmp_path / 'ref')
    cut = tmp_path / 'cut'
    try: train_gaussian(cut, [InterruptAt(27)], num_workers=2)
    except Interrupt: pass
    else: raise AssertionError('the run was not interrupted')
    last = load_checkpoint(checkpoint_paths(cut)[-1])
    assert (last['step'], last['epoch'], last['position']) == (24, 2, 4)   # mid-epoch 3
    net, hist = train_gaussian(cut, num_workers=2)   # workers may change between a run and its resumption
    pd.testing.assert_frame_equal(hist, ref_hist)
    assert (cut / 'history.csv').read_text() == (tmp_path / 'ref' / 'history.csv').read_text()
    for a, b in zip(net.parameters(), ref_net.parameters()): assert torch.equal(a, b)
    assert hist.step.max() == 40 and set(hist.split) == {'batch', 'train', 'valid', 'train_true'}


class LoggedClips(VideoClips):
    "`VideoClips` that append `epoch index pid clip-sum` of every clip they read to a file in `log_dir`."
    log_dir = None

    def __getitem__(self, i):
        x, y = super().__getitem__(i)
        with open(Path(self.log_dir) / f'{os.getpid()}.log', 'a') as f: f.write(f'{self.epoch} {i} {os.getpid()} {x.sum().item()!r}\n')
        return x, y


def test_workers_draw_a_new_clip_of_every_video_each_epoch(tmp_path):
    root = make_synthetic_actions(tmp_path / 'ucf', classes='a', videos_per_class=4, frames=16, size=(32, 32))
    kw = dict(clip_len=8, resize=(32, 32), crop=28)
    listed = ucf101(root, root / 'ucfTrainTestlist', fold=1, train=True, **kw)
    clips = LoggedClips(listed.videos, listed.video_targets, listed.classes, **kw)
    clips.log_dir = tmp_path / 'log'
    clips.log_dir.mkdir()
    test = ucf101(root, root / 'ucfTrainTestlist', fold=1, train=False, **kw)
    torch.manual_seed(0)
    model = get_model('c3d', 6, in_shape=(3, 8, 28, 28), width=1 / 8, dropout=0.0)
    train = RandomLabels(LabelledSubset(clips, range(len(clips))), seed=1)   # set_epoch must pass through both
    hist = fit(model, train, TrainConfig(epochs=3, batch_size=4, optimizer='adamw', lr=1e-3, data='stream',
                                         num_workers=2, progress=False), valid_ds=test)
    n = len(clips)
    assert hist.step.max() == 3 * -(-n // 4) and set(hist.split) == {'batch', 'train', 'valid'}
    assert torch.isfinite(torch.tensor(hist.value.values)).all()

    log = pd.concat(pd.read_csv(p, sep=' ', names=['epoch', 'index', 'pid', 'sum']) for p in clips.log_dir.glob('*.log'))
    assert os.getpid() not in set(log.pid)            # every clip was read by a worker
    assert sorted(log.epoch.unique()) == [0, 1, 2]   # and the workers of epoch e saw set_epoch(e)
    for e in range(3): assert sorted(log[log.epoch == e]['index'].unique()) == list(range(n))
    assert (log.groupby(['epoch', 'index'])['sum'].nunique() == 1).all()   # one clip per video and epoch
    assert (log.groupby('index')['sum'].nunique() == 3).all()              # a new one each epoch
    pids = [set(log[log.epoch == e].pid) for e in range(3)]
    assert not (pids[0] & pids[1]) and not (pids[1] & pids[2])            # new workers for each epoch


def _two_process_fits():
    # Accelerators are created inside the launched function, which fit does: an Accelerator made before the
    # launch, in the same process, makes each launched process see a single process (accelerate keeps its state).
    import torch
    from accelerate import PartialState
    from rlpaper.datasets import gaussian
    from rlpaper.models import get_model
    from rlpaper.train import TrainConfig, fit
    runs = {}
    for data in ('memory', 'stream'):
        torch.manual_seed(0)
        model = get_model('mlp', 10, in_shape=(30,), hidden=(64,))
        runs[data] = model, fit(model, gaussian(n=101), TrainConfig(epochs=3, batch_size=32, eval_every=2, data=data,
                                                                      progress=False), valid_ds=gaussian(train=False, n=37))
    assert PartialState().num_processes == 2
    # the same shards of the same order in training, every sample once in evaluation: the same run
    (m1, h1), (m2, h2) = runs['memory'], runs['stream']
    assert h1.equals(h2), (h1, h2)
    for a, b in zip(m1.parameters(), m2.parameters()): assert torch.equal(a, b)


def test_stream_equals_memory_on_two_processes():
    # from a fresh interpreter, as in test_processes.py: forking after torch has run threads can deadlock
    r = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]


if __name__ == '__main__':
    debug_launcher(_two_process_fits, num_processes=2)
