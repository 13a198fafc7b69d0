"""What a reader opens without running anything: the executed report notebook of every published experiment,
with its figures and claims table in its outputs, and the library notebooks with the outputs of their demos."""
import json
from pathlib import Path

import pytest

from conftest import ROOT

LIBRARY = sorted(p for p in (ROOT / 'nbs').glob('*.ipynb') if p.name != 'index.ipynb')
PUBLISHED = ROOT / 'figures'


def outputs(path):
    return [o for c in json.loads(Path(path).read_text())['cells'] for o in c.get('outputs', [])]


def text_of(o):
    "An output's text: a stream's, or the text/html and text/plain of a result."
    if o.get('output_type') == 'stream': return ''.join(o['text'])
    d = o.get('data', {})
    return ''.join(''.join(d.get(k, '')) for k in ('text/html', 'text/plain'))


@pytest.mark.parametrize('exp', sorted({c['experiment'].lower() for c in json.loads((PUBLISHED / 'claims.json').read_text())}))
def test_every_published_experiment_has_its_executed_notebook(exp):
    found = sorted((PUBLISHED / 'notebooks').glob(f'{exp}_*.ipynb'))
    assert len(found) == 1, f'{exp}: {found} in {PUBLISHED / "notebooks"} (rlpaper reproduce --scale cpu publishes it)'
    outs = outputs(found[0])
    assert sum('image/png' in o.get('data', {}) for o in outs) >= 1, f'{found[0].name} shows no figure'
    assert any('verdict' in text_of(o) and exp.upper() in text_of(o) for o in outs), f'{found[0].name} shows no claims table'
    assert not any(o.get('output_type') == 'error' for o in outs)
    assert found[0].stat().st_size < 1_500_000, f'{found[0].name}: {found[0].stat().st_size} bytes'


@pytest.mark.parametrize('nb', LIBRARY, ids=lambda p: p.name)
def test_library_notebooks_keep_the_outputs_of_their_demos(nb):
    outs = outputs(nb)
    assert outs, f'{nb.name} has no outputs: run tools/store_outputs.py {nb.relative_to(ROOT)}'
    noisy = [text_of(o)[:200] for o in outs if '\r' in text_of(o) or 'IProgress' in text_of(o)]
    assert not noisy, f'{nb.name}: progress-bar noise in its outputs: {noisy}'
    assert not any(o.get('output_type') == 'error' for o in outs), f'{nb.name} stores an error'
    assert nb.stat().st_size < 1_000_000, f'{nb.name}: {nb.stat().st_size} bytes'
