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


# A notebook that trains with its data read by a DataLoader and records, per process, which samples it read in
# which epoch. Evaluation reads samples too, at step 0 (epoch -1 here) and after the last epoch, so the epochs in
# between show the training shards alone.
SHARDED = '''
import json, pathlib, torch
from accelerate import PartialState
from rlpaper.datasets import gaussian
from rlpaper.models import get_model
from rlpaper.train import Callback, TrainConfig, fit

class CrashOnce(Callback):
    "Rank 0 fails at step `crash_at` the first time, as a killed run would."
    def on_step_end(self, state):
        mark = out / 'crashed'
        if state.step == crash_at and state.accelerator.is_main_process and not mark.exists():
            mark.touch(); raise RuntimeError(f'crashed at step {crash_at}')

class Logged(torch.utils.data.Dataset):
    def __init__(self, ds): self.ds, self.epoch, self.seen = ds, -1, []
    def __len__(self): return len(self.ds)
    def set_epoch(self, epoch): self.epoch = epoch
    def __getitem__(self, i): self.seen.append((self.epoch, int(i))); return self.ds[i]

out = pathlib.Path(out_dir)
torch.manual_seed(seed)
ds = Logged(gaussian(n=96))
h = fit(get_model('mlp', 10, in_shape=(30,), hidden=(32,)), ds,
        TrainConfig(epochs=4, batch_size=16, lr=0.05, data='stream', eval_every=10**9, log_every=2, seed=seed,
                    progress=False, out_dir=str(out / 'fit')), callbacks=[CrashOnce()])
state = PartialState()
(out / 'seen.json').write_text(json.dumps({'rank': state.process_index, 'world': state.num_processes, 'seen': ds.seen}))
'''


def test_a_sweep_run_given_two_gpus_trains_on_two_processes(tmp_path, monkeypatch):
    "gpus: 2, with two CPU processes standing in for the GPUs, through the path papermill and the sweep use."
    import json, nbformat, yaml
    import pandas as pd
    from rlpaper.sweep import Sweep, rank_folder, run_sweeps, sweep_status
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('seed = 0\ncrash_at = 0\nout_dir = None', metadata={'tags': ['parameters']}),
                                         nbformat.v4.new_code_cell(SHARDED)])
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'python3', 'language': 'python'}
    nbformat.write(nb, tmp_path / 'e5_sharded.ipynb')
    runs = {}
    for name, gpus, devices, crash_at in (('one', 0, None, 0), ('two', 2, ['cpu', 'cpu'], 0), ('resumed', 2, ['cpu', 'cpu'], 9)):
        (tmp_path / f'{name}.yaml').write_text(yaml.safe_dump({'notebook': 'e5_sharded.ipynb', 'name': name, 'seeds': [3],
                                                               'params': {'crash_at': crash_at},
                                                               'resources': {'gpus': gpus, 'cpus': 1}}))
        sweep = Sweep.load(tmp_path / f'{name}.yaml', tmp_path / 'runs')
        run_sweeps([sweep], devices=devices, progress=False)
        if crash_at:   # rank 0 failed after its checkpoint of epoch 1 (6 steps an epoch): both processes resume from it
            assert sweep_status(sweep).error.str.contains('crashed at step 9').all(), sweep_status(sweep).error.tolist()
            run_sweeps([sweep], devices=devices, progress=False, retry_failed=True)
        assert sweep_status(sweep).status.tolist() == ['done'], sweep_status(sweep).error.tolist()
        runs[name], = sweep.runs()
    two = runs['two']
    assert json.loads((two.folder / 'status.json').read_text())['processes'] == 2
    ranks = [json.loads((folder / 'seen.json').read_text()) for folder in (two.folder, rank_folder(two, 1))]
    assert [(r['rank'], r['world']) for r in ranks] == [(0, 2), (1, 2)]
    for epoch in range(3):   # the epochs before the last: training reads alone
        shards = [sorted(i for e, i in r['seen'] if e == epoch) for r in ranks]
        assert not set(shards[0]) & set(shards[1]) and sorted(shards[0] + shards[1]) == list(range(96)), epoch
    assert not (rank_folder(two, 1) / 'fit' / 'history.csv').exists(), 'only rank 0 writes the history'
    one, both = (pd.read_csv(runs[k].folder / 'fit' / 'history.csv') for k in ('one', 'two'))
    pd.testing.assert_frame_equal(one.drop(columns='value'), both.drop(columns='value'))
    assert (one.value - both.value).abs().max() < 1e-5, 'the same training as one process, to floating-point rounding'
    resumed = pd.read_csv(runs['resumed'].folder / 'fit' / 'history.csv')
    pd.testing.assert_frame_equal(resumed, both, check_exact=True)   # resumed on two processes: as if never stopped
