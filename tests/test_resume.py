"Exact resume after SIGKILL: a killed `python -m rlpaper.train` run, started again, ends as an uninterrupted one."
import os, signal, subprocess, sys, time, warnings

import pandas as pd
import pytest
import torch
import yaml

SPEC = {'data': {'name': 'gaussian', 'args': {'n': 4000}, 'corrupt_prob': 1.0, 'label_seed': 3},
        'model': {'name': 'mlp', 'args': {'hidden': [256, 256]}, 'seed': 0},
        'train': {'epochs': 8, 'batch_size': 32, 'lr': 0.05, 'schedule': 'cosine', 'warmup_steps': 50,
                  'eval_every': 50, 'log_every': 7, 'checkpoint_every_steps': 100, 'progress': False}}
KILL_AFTER = 'step-00000300.pt'   # mid-epoch 3 (125 steps per epoch): resumes from batch 50 of epoch 2


def command(config, out_dir):
    return [sys.executable, '-m', 'rlpaper.train', '--config', str(config), '--out-dir', str(out_dir)]


def kill_after_checkpoint(cmd, checkpoint, env, timeout=300):
    "Start `cmd`, SIGKILL it as soon as `checkpoint` exists; return what it had written to history.csv."
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not checkpoint.exists():
        assert proc.poll() is None, f'the run ended (exit {proc.returncode}) before writing {checkpoint.name}'
        assert time.monotonic() < deadline, 'timed out waiting for the checkpoint'
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return pd.read_csv(checkpoint.parents[1] / 'history.csv')


def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path, env):
    config = tmp_path / 'run.yaml'
    config.write_text(yaml.safe_dump(SPEC))
    env = dict(env, OMP_NUM_THREADS='2')
    subprocess.run(command(config, tmp_path / 'ref'), env=env, check=True, capture_output=True)

    cut = tmp_path / 'cut'
    partial = kill_after_checkpoint(command(config, cut), cut / 'checkpoints' / KILL_AFTER, env)
    assert not (cut / 'model.pt').exists()                     # killed before the end
    assert partial.step.max() < 8 * 125
    subprocess.run(command(config, cut), env=env, check=True, capture_output=True)

    ref_weights = torch.load(tmp_path / 'ref' / 'model.pt', weights_only=True)
    cut_weights = torch.load(cut / 'model.pt', weights_only=True)
    assert ref_weights.keys() == cut_weights.keys()
    for k in ref_weights: assert torch.equal(ref_weights[k], cut_weights[k]), k
    assert (cut / 'history.csv').read_text() == (tmp_path / 'ref' / 'history.csv').read_text()
    history = pd.read_csv(cut / 'history.csv')
    assert history.step.max() == 8 * 125 and set(history.split) == {'batch', 'train', 'valid', 'train_true'}


class Interrupt(Exception): pass


def interrupted_run(out_dir):
    "A run in `out_dir` stopped at step 30 by an exception, after its checkpoint of step 25."
    from rlpaper.train import Callback, checkpoint_paths
    class InterruptAt(Callback):
        def on_step_end(self, state):
            if state.step == 30: raise Interrupt
    with pytest.raises(Interrupt): train(out_dir, [InterruptAt()])
    assert checkpoint_paths(out_dir)[-1].name == 'step-00000025.pt'


def train(out_dir, callbacks=()):
    from rlpaper.datasets import gaussian
    from rlpaper.models import get_model
    from rlpaper.train import TrainConfig, fit
    cfg = TrainConfig(epochs=2, batch_size=32, checkpoint_every_steps=5, out_dir=str(out_dir), progress=False)
    return fit(get_model('mlp', 10, in_shape=(30,), hidden=(32,)), gaussian(n=1000), cfg, callbacks=callbacks)


@pytest.fixture
def threads():
    "Set torch's thread count in the test; restored afterwards."
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


@pytest.mark.parametrize('resumed_with', [1, 2])
def test_resume_on_another_thread_count_warns(tmp_path, threads, resumed_with):
    "Bit-exact resume needs the same number of threads: another number warns, naming both and the folder; the same is silent."
    threads(1)
    interrupted_run(tmp_path / 'run')
    threads(resumed_with)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        train(tmp_path / 'run')
    messages = [str(w.message) for w in caught if 'threads' in str(w.message)]
    if resumed_with == 1: assert messages == []
    else:
        assert len(messages) == 1, messages
        assert (f'{tmp_path / "run"} was checkpointed with 1 torch threads and resumes with 2' in messages[0]
                and 'bit-exact' in messages[0] and 'OMP_NUM_THREADS=1' in messages[0]), messages[0]


def test_checkpoint_without_thread_count_resumes_silently(tmp_path, threads):
    "A checkpoint written before the thread count was recorded resumes without a warning."
    from rlpaper.train import checkpoint_paths, load_checkpoint
    threads(1)
    interrupted_run(tmp_path / 'run')
    last = checkpoint_paths(tmp_path / 'run')[-1]
    ckpt = load_checkpoint(last)
    assert ckpt.pop('num_threads') == 1
    torch.save(ckpt, last)
    threads(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        history = train(tmp_path / 'run')
    assert not [w for w in caught if 'threads' in str(w.message)]
    assert history.step.max() == 2 * 32   # it ran to the end: 32 batches an epoch (the last one short)
