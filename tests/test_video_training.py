"A narrow C3D trains on synthetic UCF101-layout videos decoded by the UCF101 loader, as E2 does at smoke scale."
import torch

from rlpaper.data import RandomLabels
from rlpaper.models import get_model
from rlpaper.synthetic_video import make_synthetic_actions
from rlpaper.experiment import final
from rlpaper.train import TrainConfig, fit
from rlpaper.video import ucf101


def test_narrow_c3d_memorises_random_labels_of_synthetic_ucf101(tmp_path):
    root = make_synthetic_actions(tmp_path / 'ucf', classes='a', videos_per_class=4, frames=16, size=(32, 32),
                                  layout='ucf101')
    kw = dict(clip_len=8, resize=(32, 32), crop=28)
    train = ucf101(root, root / 'ucfTrainTestlist', fold=1, train=True, **kw)
    test = ucf101(root, root / 'ucfTrainTestlist', fold=1, train=False, **kw)
    assert len(train.classes) == 6 and len(train) + len(test) == 24 and not train.bad_files
    assert train[0][0].shape == (3, 8, 28, 28)

    torch.manual_seed(0)
    # sqrt(6) turns PyTorch's default initialisation into He's: with the default, the signal shrinks through
    # C3D's eleven plain layers and training stalls for tens of epochs (it failed here on some machines)
    model = get_model('c3d', 6, in_shape=(3, 8, 28, 28), width=1 / 8, dropout=0.0, init_scale=6 ** 0.5)
    noisy = RandomLabels(train, seed=1)
    assert noisy.changed_fraction > 0.5
    hist = fit(model, noisy, TrainConfig(epochs=150, batch_size=3, optimizer='adamw', lr=1e-3, eval_every_epochs=10,
                                         stop_train_acc=0.9, progress=False), valid_ds=test)
    # memorises the random labels (chance: 1/6)
    assert final(hist, 'train') >= 0.9, hist.query("split == 'train'").tail()
    first_loss = hist.query("split == 'train' and metric == 'loss'").value.iloc[0]
    assert final(hist, 'train', 'loss') < first_loss / 2
