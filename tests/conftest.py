import os, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent   # the virtual environment's scripts: nbdev_test, papermill, rlpaper


@pytest.fixture
def env(tmp_path):
    "Environment for a subprocess: runs go to a temporary folder, data is found as usual."
    e = dict(os.environ, RLPAPER_RUNS=str(tmp_path / 'runs'), RLPAPER_DATA=str(ROOT / 'data'))
    e['PATH'] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    return e
