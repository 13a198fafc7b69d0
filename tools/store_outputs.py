"""Store the outputs of the library notebooks' demos in the notebooks themselves (nbdev keeps outputs).

Usage: .venv/bin/python tools/store_outputs.py [NOTEBOOK ...]    (default: every library notebook, nbs/*.ipynb)

Each notebook runs top to bottom in a process of its own, as `nbdev_test` runs it: in its folder, with
`IN_TEST=1`, skipping cells marked `#| eval: false`, runs written to a temporary folder. Figures are drawn at
1x (execnb's default is 2x) so that the stored images stay small. The notebook is then written back with its
outputs and cleaned by `nbdev_clean`, so that `nbdev_clean` on the committed notebooks changes nothing.
A notebook that fails is named with its failing cell, and left as it was.
"""
import os, re, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SKIP = re.compile(r'^#\|\s*eval:\s*false\s*$', re.M)


def run_and_store(path: Path):
    "In this process: execute the notebook at `path` and write it back with its outputs."
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    nb = read_nb(path)
    skip = lambda cell: cell.cell_type != 'code' or bool(SKIP.search(cell.source))   # what nbdev_test skips
    shell = CaptureShell(path, mpl_format='png')
    os.chdir(path.parent)
    try: shell.run_all(nb, exc_stop=True, preproc=skip)
    except Exception:
        sys.stderr.write(shell.prettytb(fname=path) + '\n')
        sys.exit(1)
    write_nb(nb, path)


def store(path: Path) -> bool:
    "Execute one notebook in a fresh process, then clean it; whether it succeeded."
    start = time.time()
    with tempfile.TemporaryDirectory() as runs:
        env = {**os.environ, 'IN_TEST': '1', 'RLPAPER_RUNS': runs}
        r = subprocess.run([sys.executable, __file__, '--one', str(path)], env=env, capture_output=True, text=True)
    if r.returncode:
        print(f'{path.relative_to(ROOT)}: failed, left as it was\n{r.stderr[-3000:]}', file=sys.stderr)
        return False
    subprocess.run([BIN / 'nbdev_clean', '--fname', str(path)], check=True, cwd=ROOT)
    print(f'{path.relative_to(ROOT)}: outputs stored ({path.stat().st_size / 1e3:.0f} KB, {time.time() - start:.0f} s)', flush=True)
    return True


if __name__ == '__main__':
    if sys.argv[1:2] == ['--one']: run_and_store(Path(sys.argv[2]).resolve())
    else:
        paths = [Path(p).resolve() for p in sys.argv[1:]] or sorted((ROOT / 'nbs').glob('*.ipynb'))
        sys.exit(0 if all([store(p) for p in paths]) else 1)
