"""Forward plus backward throughput of every model at its narrow (smoke-scale) size.

For each name in `rlpaper.models.NARROW`, times SGD training steps on random inputs of the narrow shape and
prints samples per second, the narrow and paper-size parameter counts, and the throughput relative to the
MLP measured in the same run (the ratio is what to compare across machines; absolute numbers are noisy).
Usage: python bench/bench_models.py [batch_size] [steps] [threads]
"""
import sys, time

import torch
import torch.nn.functional as F

from rlpaper.models import NARROW, get_model, num_parameters


def samples_per_second(model, in_shape, batch_size, steps, num_classes=10):
    "Best of three timings of `steps` SGD steps, after one warm-up step."
    x, y = torch.randn(batch_size, *in_shape), torch.randint(0, num_classes, (batch_size,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    def step():
        opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
    step()
    best = float('inf')
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(steps): step()
        best = min(best, time.perf_counter() - t0)
    return batch_size * steps / best


def paper_parameters(name, narrow_kwargs):
    "Parameter count at paper size (default input, width 1), built on the meta device."
    kw = {k: v for k, v in narrow_kwargs.items() if k not in ('in_shape', 'width')}
    with torch.device('meta'): return num_parameters(get_model(name, 10, **kw))


def main(batch_size=32, steps=5, threads=2):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rows = []
    for name, kw in NARROW.items():
        model = get_model(name, 10, **kw)
        rows.append((name, kw['in_shape'], num_parameters(model), paper_parameters(name, kw),
                     samples_per_second(model, kw['in_shape'], batch_size, steps)))
    ref = rows[0][-1]
    print(f'{threads} threads, batch {batch_size}; paper parameters for 10 classes at the default input')
    print(f'{"model":16s} {"narrow input":16s} {"narrow params":>13s} {"paper params":>13s} {"samples/s":>10s} {"vs mlp":>7s}')
    for name, shape, n, p, sps in rows:
        print(f'{name:16s} {str(shape):16s} {n:13,d} {p:13,d} {sps:10.0f} {sps / ref:7.3f}')
    return rows


if __name__ == '__main__':
    main(*map(int, sys.argv[1:4]))
