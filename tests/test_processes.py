"What needs several processes: random labels across workers and processes, and fit on two Accelerate processes."
import subprocess, sys

import torch
from accelerate import debug_launcher
from torch.utils.data import DataLoader

from rlpaper.data import RandomLabels
from rlpaper.datasets import gaussian

SNIPPET = ("from rlpaper.data import RandomLabels; from rlpaper.datasets import gaussian; import torch, random;"
           "torch.manual_seed({g}); random.seed({g});"
           "print(RandomLabels(gaussian(n=500), corrupt_prob=0.7, seed=11).targets.tolist())")


def test_labels_identical_across_processes():
    outs = {subprocess.run([sys.executable, '-c', SNIPPET.format(g=g)], capture_output=True, text=True,
                           check=True).stdout for g in (1, 2)}
    assert len(outs) == 1
    assert outs.pop().strip() == str(RandomLabels(gaussian(n=500), corrupt_prob=0.7, seed=11).targets.tolist())


def test_labels_identical_across_dataloader_workers():
    rl = RandomLabels(gaussian(n=64), seed=5)
    loader = DataLoader(rl, batch_size=8, num_workers=2, shuffle=False)
    assert torch.cat([y for _, y in loader]).tolist() == rl.targets.tolist()


def _two_process_fit():
    # Accelerators must be created inside the launched function, which fit does: an Accelerator made before the
    # launch, in the same process, makes each launched process see a single process (accelerate keeps its state).
    import torch
    from accelerate import PartialState
    from rlpaper.datasets import gaussian
    from rlpaper.models import get_model
    from rlpaper.train import TrainConfig, fit
    from rlpaper.experiment import final
    torch.manual_seed(0)
    model = get_model('mlp', 10, in_shape=(30,), hidden=(64,))
    hist = fit(model, gaussian(n=101), TrainConfig(epochs=3, batch_size=32, eval_every=2, progress=False),
               valid_ds=gaussian(train=False, n=37))
    state = PartialState()
    assert state.num_processes == 2
    # evaluation reduces over processes: accuracies are multiples of 1/101 and 1/37, so every sample counted once
    for split, n in (('train', 101), ('valid', 37)):
        acc = final(hist, split)
        assert abs(acc * n - round(acc * n)) < 1e-6, (split, acc)
    # evaluation on two processes equals a plain one-process computation, sample by sample
    from accelerate import Accelerator
    from rlpaper.train import evaluate, predict
    acc = Accelerator(cpu=True)
    ds = gaussian(train=False, n=37)
    x, y = ds.x, ds.targets
    per_sample = predict(model, x, y, acc, batch_size=8)
    with torch.no_grad():
        out = model(x)
        expected = torch.stack([torch.nn.functional.cross_entropy(out, y, reduction='none'), (out.argmax(1) == y).float()], 1)
    assert per_sample.shape == (37, 2)
    assert torch.allclose(per_sample, expected, atol=1e-6)
    ev = evaluate(model, x, y, acc, batch_size=8)
    assert abs(ev['acc'] - expected[:, 1].double().mean().item()) < 1e-9 and abs(ev['loss'] - expected[:, 0].double().mean().item()) < 1e-5
    # the replicas stay identical (DDP averages gradients)
    w = torch.cat([p.detach().flatten() for p in model.parameters()])
    ws = [torch.zeros_like(w) for _ in range(2)]
    torch.distributed.all_gather(ws, w)
    assert torch.equal(ws[0], ws[1])


def test_fit_on_two_processes():
    # debug_launcher forks; run it from a fresh interpreter, because forking a process whose OpenMP thread
    # pool already runs (any torch work earlier in this pytest process) can deadlock the children.
    r = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]


if __name__ == '__main__':
    debug_launcher(_two_process_fit, num_processes=2)
