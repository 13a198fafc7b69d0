"A PyTorch user's first calls: `fit` and `RandomLabels` on plain `torch.utils.data` and torchvision objects."
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, Subset, TensorDataset
from torchvision import datasets as tvd, transforms as T

from rlpaper.data import RandomLabels
from rlpaper.train import TrainConfig, fit


def separable(n=512, d=20, seed=0):
    "Inputs whose class is the sign pattern of their first two coordinates: learnable in a few epochs."
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x, (x[:, 0] > 0).long() * 2 + (x[:, 1] > 0).long()


def plain_mlp(d=20, classes=4):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(d, 128), nn.ReLU(), nn.Linear(128, classes))


def accuracy(history, split):
    return history.query(f"split == '{split}' and metric == 'acc'").value.iloc[-1]


def test_fit_on_a_tensor_dataset_end_to_end(tmp_path):
    x, y = separable()
    xv, yv = separable(256, seed=1)
    model = plain_mlp()
    cfg = TrainConfig(epochs=15, batch_size=32, lr=0.05, progress=False, out_dir=str(tmp_path))
    history = fit(model, TensorDataset(x, y), cfg, valid_ds=TensorDataset(xv, yv))
    assert list(history.columns) == ['step', 'epoch', 'split', 'metric', 'value']
    assert history.step.max() == 15 * 16
    assert accuracy(history, 'train') > 0.95 and accuracy(history, 'valid') > 0.8   # it learnt the rule (chance: 0.25)
    with torch.no_grad(): assert (model(xv).argmax(1) == yv).float().mean() > 0.8   # the model was trained in place
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / 'history.csv'), history, check_dtype=False)


def test_tensor_dataset_memory_and_stream_give_the_same_run():
    x, y = separable(200)
    run = lambda ds, data: fit(plain_mlp(), ds, TrainConfig(epochs=2, batch_size=32, data=data, progress=False))
    memory = run(TensorDataset(x, y), 'memory')
    pd.testing.assert_frame_equal(memory, run(TensorDataset(x, y), 'stream'))
    pd.testing.assert_frame_equal(run(Subset(TensorDataset(x, y), range(100)), 'memory'),
                                  run(TensorDataset(x[:100], y[:100]), 'memory'))


def test_random_labels_of_a_tensor_dataset_are_memorised():
    x, _ = separable(128)
    noisy = RandomLabels(Subset(TensorDataset(x, torch.zeros(128, dtype=torch.long) + torch.arange(128) % 4), range(96)), seed=1)
    assert noisy.num_classes == 4 and len(noisy) == 96
    h = fit(plain_mlp(), noisy, TrainConfig(epochs=150, batch_size=32, lr=0.05, eval_every_epochs=50, progress=False))
    assert accuracy(h, 'train') == 1.0


def test_a_torchvision_dataset_and_its_subset():
    fake = tvd.FakeData(size=40, image_size=(1, 6, 6), num_classes=3, transform=T.ToTensor(), random_offset=0)
    model = lambda: (torch.manual_seed(0), nn.Sequential(nn.Flatten(), nn.Linear(36, 3)))[1]
    cfg = TrainConfig(epochs=2, batch_size=8, progress=False)
    h = fit(model(), Subset(fake, range(24)), cfg, valid_ds=fake)
    pd.testing.assert_frame_equal(h, fit(model(), Subset(fake, range(24)), TrainConfig(**{**cfg.to_dict(), 'data': 'stream'}), valid_ds=fake))
    with pytest.raises(ValueError, match='cannot read the labels of FakeData: it needs a `.targets`'): RandomLabels(fake)


def test_items_that_are_not_pairs_are_refused_by_name():
    class Triples(Dataset):
        def __len__(self): return 4
        def __getitem__(self, i): return torch.zeros(20), 0, 1
    with pytest.raises(TypeError, match=r'the training set \(train_ds\) \(Triples\) gives items that are a tuple of 3 items; '
                                        r'fit needs a map-style dataset'):
        fit(plain_mlp(), Triples(), TrainConfig(progress=False))
