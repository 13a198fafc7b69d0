"""Throughput of `fit` against a bare PyTorch training loop, measured in the same run.

Same model, data, batch size, threads, optimizer (SGD with momentum) and number of steps; both evaluate
the whole training set before and after training, as `fit` does with `eval_every_epochs=epochs`. Prints
samples per second and the median ratio fit / bare loop over paired runs (target: 0.95 or more on CPU) for the MLP and `cnn2` on
Fashion-MNIST-sized tensors; with a GPU, also `preact_resnet18` on CIFAR-sized tensors in bf16.
Usage: python bench/train_overhead.py [repeats]
"""
import statistics, sys, tempfile, time

import torch
import torch.nn.functional as F

from rlpaper.datasets import ArrayDataset
from rlpaper.models import get_model
from rlpaper.train import TrainConfig, fit


@torch.no_grad()
def evaluate(model, x, y, batch_size=1024):
    model.eval()
    correct = sum((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item() for i in range(0, len(x), batch_size))
    model.train()
    return correct / len(x)


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


def compare(name, model_kw, shape, n, epochs, batch_size, repeats, device='cpu', bf16=False, out_dir=None):
    x, y = torch.randn(n, *shape), torch.randint(0, 10, (n,))
    ds = ArrayDataset(x, y, [str(i) for i in range(10)])
    xd, yd = x.to(device), y.to(device)
    cfg = dict(epochs=epochs, batch_size=batch_size, lr=0.01, eval_every_epochs=epochs, progress=False,
               cpu=device == 'cpu', mixed_precision='bf16' if bf16 else 'no')
    def model(): torch.manual_seed(0); return get_model(name, 10, in_shape=shape, **model_kw)
    def with_fit():
        with tempfile.TemporaryDirectory() as d:
            fit(model(), ds, TrainConfig(**cfg, out_dir=d if out_dir else None))
    times = {'bare loop': [], 'fit': []}
    runs = {'bare loop': lambda: bare_loop(model().to(device), xd, yd, epochs, batch_size, 0.01, bf16), 'fit': with_fit}
    for r in range(repeats):   # interleaved, each going first in turn, so that drifts of the machine hit both
        for which in (('bare loop', 'fit') if r % 2 == 0 else ('fit', 'bare loop')):
            times[which].append(seconds(runs[which]))
    best = {k: min(v) for k, v in times.items()}
    ratio = statistics.median(b / f for b, f in zip(times['bare loop'], times['fit']))   # paired: drifts cancel
    label = f'{name} {shape} {device}{" bf16" if bf16 else ""}{" +checkpoints" if out_dir else ""}'
    print(f'{label:45s} bare {n * epochs / best["bare loop"]:9.0f}/s  fit {n * epochs / best["fit"]:9.0f}/s  '
          f'fit/bare {ratio:.3f} (median of {len(times["fit"])} paired runs)')
    return ratio


def main(repeats=7):
    torch.set_num_threads(2)
    print('samples per second of training (best run); ratio fit / bare loop, target >= 0.95 on CPU')
    ratios = [compare('mlp', dict(hidden=(512, 512)), (1, 28, 28), 20000, 2, 128, repeats),
              compare('mlp', dict(hidden=(512, 512)), (1, 28, 28), 20000, 2, 128, repeats, out_dir=True),
              compare('cnn2', dict(width=1 / 4), (1, 28, 28), 2000, 2, 128, repeats)]
    if torch.cuda.is_available():
        compare('preact_resnet18', {}, (3, 32, 32), 20000, 2, 256, repeats, device='cuda', bf16=True)
    return ratios


if __name__ == '__main__':
    main(*map(int, sys.argv[1:2]))
