"""Start-up time of the `rlpaper` command against a bare Python start, measured in the same run.

Times, as wall clock of a fresh process each (the median of `repeats`, in interleaved rounds so that drifts of
the machine hit all of them):
1. `python -c pass` with the same interpreter: the reference, what no command can beat;
2. `rlpaper --help`;
3. `rlpaper sweep status <E0's smoke sweep file> --runs <an empty temporary folder>`: loads and checks a sweep
   file and lists its runs, all pending.
Prints each time, its ratio to the reference (what to compare across machines) and whether it is under one
second, the goal for commands that train nothing. Usage: python bench/bench_cli_start.py [repeats]
"""
import statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent   # the virtual environment's scripts, where `rlpaper` is installed
SWEEP = ROOT / 'nbs' / 'experiments' / 'sweeps' / 'smoke' / 'e0.yaml'


def wall(cmd):
    "Seconds from start to exit of `cmd`; it must succeed."
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    if r.returncode: raise SystemExit(f'{" ".join(map(str, cmd))} failed ({r.returncode}):\n{r.stderr}')
    return seconds


def main(repeats=5):
    with tempfile.TemporaryDirectory() as runs:
        cmds = {'python -c pass (reference)': [sys.executable, '-c', 'pass'],
                'rlpaper --help': [BIN / 'rlpaper', '--help'],
                f'rlpaper sweep status {SWEEP.relative_to(ROOT)}': [BIN / 'rlpaper', 'sweep', 'status', SWEEP,
                                                                     '--runs', runs]}
        for cmd in cmds.values(): wall(cmd)   # once untimed: the file system's caches, for all alike
        times = {name: [] for name in cmds}
        for _ in range(repeats):
            for name, cmd in cmds.items(): times[name].append(wall(cmd))
    ref = statistics.median(times['python -c pass (reference)'])
    print(f'median of {repeats} starts each, wall clock')
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f'{name:58s} {t:7.3f} s  {t / ref:7.1f}x python -c pass  {"under" if t < 1 else "OVER "} 1 s')


if __name__ == '__main__':
    main(*map(int, sys.argv[1:2]))
