"""Batching by tensor indexing (TensorBatches) against a per-sample DataLoader, measured in the same run.

Prints the throughput of one training epoch of the E0 MLP with each loader and their ratio; the ratio is what
to compare across machines (absolute numbers are noisy). Usage: python bench/bench_batching.py [n] [repeats]
"""
import sys, time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from rlpaper.datasets import ArrayDataset
from rlpaper.models import get_model
from rlpaper.train import TensorBatches


def epoch_seconds(batches, model, opt):
    t0 = time.perf_counter()
    for xb, yb in batches:
        opt.zero_grad(); F.cross_entropy(model(xb), yb).backward(); opt.step()
    return time.perf_counter() - t0


def main(n=20000, repeats=3, batch_size=64):
    torch.manual_seed(0)
    ds = ArrayDataset(torch.randn(n, 1, 28, 28), torch.randint(0, 10, (n,)), [str(i) for i in range(10)])
    model = get_model('mlp', 10, hidden=(512, 512))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loaders = {'DataLoader (reference)': lambda e: DataLoader(ds, batch_size=batch_size, shuffle=True),
               'TensorBatches': lambda e: TensorBatches(ds.x, ds.targets, batch_size, seed=0).epoch(e)}
    best = {name: min(epoch_seconds(make(e), model, opt) for e in range(repeats)) for name, make in loaders.items()}
    for name, s in best.items(): print(f'{name:24s} {n / s:10.0f} samples/s')
    ratio = best['DataLoader (reference)'] / best['TensorBatches']
    print(f'speed-up of TensorBatches over DataLoader: {ratio:.2f}x')
    return ratio


if __name__ == '__main__':
    main(*map(int, sys.argv[1:3]))
