"Every notebook runs top to bottom under nbdev_test, each in its own process, as `nbdev_test` runs them."
import subprocess

import pytest

from conftest import BIN, ROOT

NOTEBOOKS = sorted(p.relative_to(ROOT / 'nbs') for p in (ROOT / 'nbs').rglob('*.ipynb')
                   if '.ipynb_checkpoints' not in p.parts)


def test_notebooks_found():
    assert len(NOTEBOOKS) >= 9, NOTEBOOKS


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=str)
def test_notebook(nb, env):
    r = subprocess.run([BIN / 'nbdev_test', '--path', f'nbs/{nb}', '--do_print'], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0 and 'Success' in r.stdout, f'{nb} failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}'
