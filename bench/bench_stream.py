"""Cost of `fit(..., TrainConfig(data='stream'))` against the in-memory path, measured in the same run.

1. In-memory tensors (an `ArrayDataset` of Fashion-MNIST-sized images, `cnn2`): the same fit with
   data='memory' (batches by indexing) and data='stream' (a DataLoader in the training process). Prints
   samples/s and the median ratio stream / memory over interleaved pairs: what the DataLoader path costs
   where it is not needed.
2. Video (synthetic UCF101-layout videos, a narrow C3D, 8-frame clips of 28 x 28): data='memory' decodes one
   clip per video once; data='stream' decodes a new clip per video every epoch, with 0 and 2 workers. Prints
   clips/s of each: what per-epoch clips cost on this machine, and what workers win back.
Usage: python bench/bench_stream.py [repeats]
"""
import statistics, sys, tempfile, time

import torch

from rlpaper.datasets import ArrayDataset
from rlpaper.models import get_model
from rlpaper.synthetic_video import make_synthetic_actions
from rlpaper.train import TrainConfig, fit
from rlpaper.video import ucf101


def timed(run):
    t0 = time.perf_counter(); run(); return time.perf_counter() - t0


def interleaved(runs: dict, repeats: int) -> dict:
    "Seconds of each run, `repeats` times, the order rotating so that drifts of the machine hit all."
    times, names = {k: [] for k in runs}, list(runs)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]: times[name].append(timed(runs[name]))
    return times


def tensors(repeats):
    n, epochs = 4096, 2
    ds = ArrayDataset(torch.randn(n, 1, 28, 28), torch.randint(0, 10, (n,)), [str(i) for i in range(10)])
    def new_model(): torch.manual_seed(0); return get_model('cnn2', 10, in_shape=(1, 28, 28), width=1 / 4)
    def run(mode):
        cfg = TrainConfig(epochs=epochs, batch_size=128, lr=0.01, data=mode, progress=False, eval_every_epochs=epochs)
        return lambda: fit(new_model(), ds, cfg)
    times = interleaved({m: run(m) for m in ('memory', 'stream')}, repeats)
    for m, t in times.items(): print(f'  {m:7s} {n * epochs / min(t):8.0f} samples/s (best of {repeats})')
    ratio = statistics.median(a / b for a, b in zip(times['memory'], times['stream']))
    print(f'  ratio stream / memory throughput: {ratio:.2f} (median of {repeats} pairs; 1.0 means no cost)')


def video(repeats):
    with tempfile.TemporaryDirectory() as d:
        root = make_synthetic_actions(f'{d}/ucf', 'a', videos_per_class=16, frames=16, size=(32, 32), layout='ucf101')
        ds = ucf101(root, root / 'ucfTrainTestlist', clip_len=8, resize=(32, 32), crop=28)
        epochs = 3
        def new_model():
            torch.manual_seed(0); return get_model('c3d', len(ds.classes), in_shape=(3, 8, 28, 28), width=1 / 8, dropout=0.0)
        def run(mode, workers):
            cfg = TrainConfig(epochs=epochs, batch_size=16, optimizer='adamw', lr=3e-4, data=mode, num_workers=workers,
                              progress=False, eval_every_epochs=epochs)
            return lambda: fit(new_model(), ds, cfg)
        runs = {'memory': run('memory', 0), 'stream, 0 workers': run('stream', 0), 'stream, 2 workers': run('stream', 2)}
        times = interleaved(runs, repeats)
        for name, t in times.items(): print(f'  {name:18s} {len(ds) * epochs / min(t):7.1f} clips/s (best of {repeats})')
        base = statistics.median(times['memory'])
        for name in ('stream, 0 workers', 'stream, 2 workers'):
            print(f'  ratio {name} / memory throughput: {base / statistics.median(times[name]):.2f}')


if __name__ == '__main__':
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    torch.set_num_threads(1)
    print(f'fit on in-memory tensors (cnn2, 4096 images, 2 epochs), {torch.get_num_threads()} thread:')
    tensors(repeats)
    print('fit on synthetic video (narrow C3D, 96 training videos, 3 epochs):')
    video(max(2, repeats // 2))
