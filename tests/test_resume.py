"Exact resume after SIGKILL: a killed `python -m rlpaper.train` run, started again, ends as an uninterrupted one."
import os, signal, subprocess, sys, time

import pandas as pd
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
