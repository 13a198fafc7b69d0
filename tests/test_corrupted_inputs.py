"""Corrupted inputs (Zhang et al.'s shuffled pixels, random pixels and Gaussian inputs) are the same in every
process and after a resume: a run interrupted and resumed with a new wrapper ends as an uninterrupted one."""
import subprocess, sys

import pandas as pd
import pytest
import torch

from rlpaper.data import INPUT_CORRUPTIONS, CorruptedInputs, RandomLabels
from rlpaper.datasets import digits

SNIPPET = ("import random, torch, hashlib; random.seed({g}); torch.manual_seed({g});"
           "from rlpaper.data import CorruptedInputs; from rlpaper.datasets import digits;"
           "x = CorruptedInputs(digits(), '{kind}', seed=5).to_tensors()[0];"
           "print(hashlib.sha1(x.numpy().tobytes()).hexdigest())")


@pytest.mark.parametrize('kind', INPUT_CORRUPTIONS)
def test_the_same_corrupted_inputs_in_every_process(kind):
    import hashlib
    here = hashlib.sha1(CorruptedInputs(digits(), kind, seed=5).to_tensors()[0].numpy().tobytes()).hexdigest()
    there = {subprocess.run([sys.executable, '-c', SNIPPET.format(g=g, kind=kind)], capture_output=True, text=True,
                            check=True).stdout.strip() for g in (1, 2)}
    assert there == {here}


class Interrupt(Exception): pass


def train(out_dir, kind, callbacks=()):
    "Fit an MLP on digits with `kind` inputs and half its labels random, each wrapper made anew, as a new process would."
    from rlpaper.models import get_model
    from rlpaper.train import TrainConfig, fit
    data = RandomLabels(CorruptedInputs(digits(), kind, seed=7), corrupt_prob=0.5, seed=8)
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=3, batch_size=64, lr=0.05, checkpoint_every_steps=10, out_dir=str(out_dir), progress=False)
    return fit(get_model('mlp', 10, in_shape=(1, 8, 8), hidden=(64,)), data, cfg, callbacks=callbacks)


@pytest.mark.parametrize('kind', INPUT_CORRUPTIONS)
def test_a_resumed_run_sees_the_same_corrupted_inputs(tmp_path, kind):
    from rlpaper.train import Callback
    class InterruptAt(Callback):
        def on_step_end(self, state):
            if state.step == 35: raise Interrupt
    reference = train(tmp_path / 'ref', kind)
    with pytest.raises(Interrupt): train(tmp_path / 'cut', kind, [InterruptAt()])
    resumed = train(tmp_path / 'cut', kind)   # from the checkpoint of step 30
    pd.testing.assert_frame_equal(resumed, reference)
    assert resumed.step.max() == 3 * 23   # 1437 training digits, 23 batches an epoch
