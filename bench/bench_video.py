"""Video clip loading: the dataset against the PyAV decode limit, the frame cache, and DataLoader workers.

On synthetic UCF101-layout videos (written once into a temporary folder), measured in the same run:
1. clips per second of `VideoClips` (decode, resize, crop, normalise) against a bare PyAV loop decoding the
   same frames of the same files at the same size (target: 0.8 or more);
2. an epoch read from the frame cache against an epoch decoded;
3. DataLoader throughput with 2 workers against 0.
Usage: python bench/bench_video.py [videos_per_class] [frames] [height] [width]
"""
import sys, tempfile, time
from pathlib import Path

import av
import numpy as np
import torch
from torch.utils.data import DataLoader

from rlpaper.synthetic_video import make_synthetic_actions
from rlpaper.video import build_frame_cache, ucf101


def bare_decode(path, first, count, size):
    "The plainest PyAV decoding of frames first..first+count-1 at `size`: seek, decode forward, convert."
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = 'AUTO'
        rate = stream.average_rate
        container.seek(int(first / rate / stream.time_base), stream=stream, backward=True, any_frame=False)
        frames = []
        for frame in container.decode(stream):
            index = round(frame.pts * stream.time_base * rate)
            if index < first: continue
            frames.append(frame.to_ndarray(width=size[1], height=size[0], format='rgb24'))
            if len(frames) == count: break
    return np.stack(frames)


def items_per_second(read, n, repeats=3):
    best = float('inf')
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(n): read(i)
        best = min(best, time.perf_counter() - t0)
    return n / best


def main(videos_per_class=8, frames=64, height=120, width=160):
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        root = make_synthetic_actions(Path(d) / 'ucf', classes='a', videos_per_class=videos_per_class, frames=frames,
                                      size=(height, width), layout='ucf101')
        kw = dict(clip_len=16, resize=(height, width), crop=min(112, height, width))
        ds = ucf101(root, root / 'ucfTrainTestlist', fold=1, train=True, **kw)
        n = len(ds)
        starts = []
        for i in range(n):   # the frames the dataset reads for item i in epoch 0
            rng = np.random.default_rng([ds.seed, ds.epoch, i])
            starts.append(ds.clip_start(i, int(ds.video_index[i]), rng))
        print(f'{n} videos of {frames} frames at {height}x{width}; clips of 16 frames; 1 torch thread')

        bare = items_per_second(lambda i: bare_decode(ds.videos[int(ds.video_index[i])], starts[i], 16, (height, width)), n)
        dataset = items_per_second(lambda i: ds[i], n)
        print(f'bare PyAV decoding  {bare:8.1f} clips/s')
        print(f'VideoClips          {dataset:8.1f} clips/s   ratio to the decode limit {dataset / bare:.2f} (target >= 0.8)')

        cache = build_frame_cache(ds, Path(d) / 'cache.npy')
        cached = ucf101(root, root / 'ucfTrainTestlist', fold=1, train=True, cache=cache, **kw)
        from_cache = items_per_second(lambda i: cached[i], n)
        print(f'from the frame cache{from_cache:8.1f} clips/s   speed-up over decoding {from_cache / dataset:.1f}x')

        def loader_rate(workers):
            loader = DataLoader(ds, batch_size=8, num_workers=workers)
            t0 = time.perf_counter()
            for _ in loader: pass
            return n / (time.perf_counter() - t0)
        loader_rate(2)   # warm the page cache and the workers' imports
        w0, w2 = loader_rate(0), loader_rate(2)
        print(f'DataLoader 0 workers {w0:7.1f} clips/s, 2 workers {w2:7.1f} clips/s: {w2 / w0:.2f}x')
        return dataset / bare


if __name__ == '__main__':
    main(*map(int, sys.argv[1:5]))
