"""Throughput of `fit` against a bare PyTorch training loop, measured in the same run.

Same model, data, batch size, threads, optimizer (SGD with momentum) and number of steps; both evaluate
loss and accuracy on the whole training set before and after training, as `fit` does with
`eval_every_epochs=epochs`. `fit` is given a plain `TensorDataset`, as a PyTorch user would.

Each setting runs at its full length (the MLP: 200 steps) and at half of it, `fit` and the bare loop
interleaved (each going first in turn), so that the two lengths give each loop's fixed cost (set-up and the
two evaluations) and its cost per step. Prints samples per second, the fixed and per-step costs, and the
median ratio bare loop time / fit time over the paired full-length runs (target: 0.95 or more on the
CPU) for the MLP (with and without checkpoints) and `cnn2` on Fashion-MNIST-sized tensors; with a GPU, also
`preact_resnet18` on CIFAR-sized tensors resident on the GPU in bf16.
Usage: python bench/train_overhead.py [repeats]
"""
import statistics, sys, tempfile, time

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from rlpaper.models import get_model
from rlpaper.train import TrainConfig, fit


@torch.no_grad()
def evaluate(model, x, y, batch_size=1024):
    "Mean loss and accuracy over `(x, y)`, as `fit` logs them."
    model.eval()
    loss = correct = 0.
    for i in range(0, len(x), batch_size):
        out = model(x[i:i + batch_size]).float()
        loss += F.cross_entropy(out, y[i:i + batch_size], reduction='sum').item()
        correct += (out.argmax(1) == y[i:i + batch_size]).sum().item()
    model.train()
    return loss / len(x), correct / len(x)


def bare_loop(model, x, y, epochs, batch_size, lr, bf16=False):
    "The plainest loop that does the same work as `fit`."
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    evaluate(model, x, y)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), device=x.device).split(batch_size):
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    return evaluate(model, x, y)


def seconds(run):
    t0 = time.perf_counter(); run()
    if torch.cuda.is_available(): torch.cuda.synchronize()
    return time.perf_counter() - t0


def fixed_and_per_step(t_half, t_full, steps):
    "A loop's fixed cost and cost per step (seconds) from its times at `steps // 2` and `steps` steps."
    per_step = (t_full - t_half) / (steps - steps // 2)
    return t_full - steps * per_step, per_step


def compare(name, model_kw, shape, n, epochs, batch_size, repeats, device='cpu', bf16=False, checkpoints=False):
    "Time `fit` and the bare loop at `epochs` and `epochs // 2`; print their costs and the full-length ratio."
    x, y = torch.randn(n, *shape), torch.randint(0, 10, (n,))
    xd, yd = x.to(device), y.to(device)
    ds = TensorDataset(xd, yd)   # resident on the training device already: fit's to(device) is free
    steps = epochs * -(-n // batch_size)
    def model(): torch.manual_seed(0); return get_model(name, 10, in_shape=shape, **model_kw)
    def with_fit(e):
        cfg = dict(epochs=e, batch_size=batch_size, lr=0.01, eval_every_epochs=e, progress=False,
                   cpu=device == 'cpu', mixed_precision='bf16' if bf16 else 'no')
        with tempfile.TemporaryDirectory() as d:
            fit(model(), ds, TrainConfig(**cfg, out_dir=d if checkpoints else None))
    runs = {'bare loop': lambda e: bare_loop(model().to(device), xd, yd, e, batch_size, 0.01, bf16), 'fit': with_fit}
    times = {(k, e): [] for k in runs for e in (epochs // 2, epochs)}
    for r in range(repeats):   # interleaved, each going first in turn, so that drifts of the machine hit both
        for which in (('bare loop', 'fit') if r % 2 == 0 else ('fit', 'bare loop')):
            for e in (epochs // 2, epochs): times[which, e].append(seconds(lambda: runs[which](e)))
    ratio = statistics.median(b / f for b, f in zip(times['bare loop', epochs], times['fit', epochs]))   # paired
    best = {k: min(v) for k, v in times.items()}
    cost = {k: fixed_and_per_step(best[k, epochs // 2], best[k, epochs], steps) for k in runs}
    label = f'{name} {shape} {device}{" bf16" if bf16 else ""}{" +checkpoints" if checkpoints else ""}, {steps} steps'
    print(f'{label}\n  samples/s: bare {n * epochs / best["bare loop", epochs]:8.0f}  fit {n * epochs / best["fit", epochs]:8.0f}'
          f'   fit/bare {ratio:.3f} (median of {repeats} paired runs)')
    for k, (fixed, per_step) in cost.items():
        print(f'  {k:9s}: fixed {fixed * 1e3:7.1f} ms, per step {per_step * 1e3:6.3f} ms')
    return ratio


def main(repeats=7):
    torch.set_num_threads(2)
    print('samples per second of training (best run); ratio fit / bare loop (time of bare / time of fit), '
          'target >= 0.95 on CPU')
    ratios = [compare('mlp', dict(hidden=(512, 512)), (1, 28, 28), 6400, 4, 128, repeats),   # 200 steps
              compare('mlp', dict(hidden=(512, 512)), (1, 28, 28), 6400, 4, 128, repeats, checkpoints=True),
              compare('cnn2', dict(width=1 / 4), (1, 28, 28), 2000, 2, 128, repeats)]
    if torch.cuda.is_available():
        compare('preact_resnet18', {}, (3, 32, 32), 20000, 2, 256, repeats, device='cuda', bf16=True)
    return ratios


if __name__ == '__main__':
    main(*map(int, sys.argv[1:2]))
