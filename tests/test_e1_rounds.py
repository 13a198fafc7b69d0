"E1 from papermill: a setting of the plasticity grid runs and is judged under its own name; bad values stop it first."
import json, subprocess

import pytest

from conftest import BIN, ROOT

E1 = ROOT / 'nbs' / 'experiments' / 'e1_memorization_rounds.ipynb'


def papermill(tmp_path, env, *params, yaml_params=()):
    args = [a for k, v in params for a in ('-p', k, str(v))] + [a for y in yaml_params for a in ('-y', y)]
    return subprocess.run([BIN / 'papermill', E1, tmp_path / 'executed.ipynb', *args, '-p', 'out_dir', str(tmp_path / 'e1'),
                           '--cwd', str(tmp_path)], env=env, capture_output=True, text=True, timeout=600)


def test_a_setting_of_the_grid_keeps_its_optimizer_and_is_judged_under_its_name(env, tmp_path):
    r = papermill(tmp_path, env, ('n_train', 100), ('rounds', 2), ('round_epochs', 3), ('keep_optimizer', True),
                  ('weight_decay', 5e-4), ('setting', 'kept'), ('seed', 4), yaml_params=['settings: [base, kept]'])
    assert r.returncode == 0, r.stderr[-3000:]
    params = json.loads((tmp_path / 'e1' / 'params.json').read_text())
    assert (params['keep_optimizer'], params['weight_decay'], params['setting']) == (True, 5e-4, 'kept')
    claims = {c['name']: c for c in json.loads((tmp_path / 'e1' / 'claims.json').read_text())}
    assert sorted(claims) == ['base_first_round_fits', 'base_later_rounds_faster', 'kept_first_round_fits',
                              'kept_later_rounds_faster']
    assert claims['kept_first_round_fits']['seeds'] == [4] and claims['base_first_round_fits']['seeds'] == []
    assert claims['kept_later_rounds_faster']['premise'] == 'kept_first_round_fits'


@pytest.mark.parametrize('params, message', [
    ((('round_epochs', 0),), 'round_epochs=0: a round needs at least 1 epoch; choose round_epochs >= 1'),
    ((('rounds', 1),), 'rounds=1: comparing rounds needs at least 2; choose rounds >= 2'),
    ((('setting', 'wd'),), "setting='wd' is not in settings=['base']"),
    ((('settings', 'base'),), "settings='base' must be a list of names"),
    ((('label_mode', 'shuffle'),), "label_mode='shuffle'")])
def test_a_bad_e1_value_fails_before_any_training(env, tmp_path, params, message):
    r = papermill(tmp_path, env, *params)
    assert r.returncode != 0 and message in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / 'e1' / 'history.csv').exists()
