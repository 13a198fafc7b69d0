import os, re, shutil, subprocess, sys
from dataclasses import dataclass
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


SLURM_SCRIPT = ROOT / 'tools' / 'slurm_cluster.sh'
TERMINAL_JOB_STATES = {'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'BOOT_FAIL',
                       'DEADLINE', 'PREEMPTED'}


def slurm_script(*args, check=True, timeout=120):
    "Run tools/slurm_cluster.sh with `args`; fail the test, showing its output, when `check` and it exits non-zero."
    r = subprocess.run(['bash', str(SLURM_SCRIPT), *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        pytest.fail(f"tools/slurm_cluster.sh {' '.join(args)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r


def _slurm_conf_from_script():
    "The SLURM_CONF that `tools/slurm_cluster.sh env` prints."
    out = slurm_script('env').stdout
    m = re.search(r'^export SLURM_CONF=(\S+)$', out, re.M)
    assert m, f"tools/slurm_cluster.sh env printed no SLURM_CONF: {out!r}"
    return m.group(1)


@dataclass(frozen=True)
class SlurmCluster:
    conf: str             # its slurm.conf; os.environ['SLURM_CONF'] while the session lasts
    node: str             # the one node, the short hostname
    partition: str        # the default partition
    cpus: int             # the node's configured CPUs
    real_memory_mb: int   # the node's configured RealMemory
    started_here: bool    # whether this session started it (and stops it at its end)


@pytest.fixture(scope='session')
def slurm_cluster():
    """A live single-node Slurm cluster (tools/slurm_cluster.sh), started unless it is up already; SLURM_CONF is set
    for this process and its children. Skips when Slurm is not installed; fails when it is but will not start."""
    sbin = os.pathsep.join([os.environ.get('PATH', ''), '/usr/sbin', '/sbin'])
    if not (shutil.which('slurmctld', path=sbin) and shutil.which('sbatch')):
        pytest.skip("Slurm is not installed: apt-get install -y slurm-wlm munge (bash .ci/install does it)")
    was_up = slurm_script('status', check=False).returncode == 0
    slurm_script('start')
    conf = _slurm_conf_from_script()
    text = Path(conf).read_text()
    node_line = re.search(r'^NodeName=(\S+) .*$', text, re.M)
    part_line = re.search(r'^PartitionName=(\S+) .*Default=YES', text, re.M)
    cluster = SlurmCluster(conf=conf, node=node_line.group(1), partition=part_line.group(1),
                           cpus=int(re.search(r'\bCPUs=(\d+)', node_line.group(0)).group(1)),
                           real_memory_mb=int(re.search(r'\bRealMemory=(\d+)', node_line.group(0)).group(1)),
                           started_here=not was_up)
    old = os.environ.get('SLURM_CONF')
    os.environ['SLURM_CONF'] = conf
    try:
        yield cluster
    finally:
        if old is None: os.environ.pop('SLURM_CONF', None)
        else: os.environ['SLURM_CONF'] = old
        if cluster.started_here: slurm_script('stop', check=False)
