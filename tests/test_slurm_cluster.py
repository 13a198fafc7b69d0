"The live single-node Slurm cluster of tools/slurm_cluster.sh: jobs run on it, and it starts and stops as promised."
import os, re, subprocess, time

from conftest import SLURM_SCRIPT, TERMINAL_JOB_STATES, slurm_script


def run(*cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)
    assert r.returncode == 0, f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}"
    return r.stdout


def job_fields(job_id):
    "`scontrol show job` as a dict (its one-line form: Key=Value pairs)."
    return dict(kv.split('=', 1) for kv in run('scontrol', 'show', 'job', '-o', job_id).split() if '=' in kv)


def wait_for_job(job_id, timeout=45):
    "Poll until the job ends; its final fields. A finished job stays visible for MinJobAge=300 s."
    deadline = time.monotonic() + timeout
    while True:
        fields = job_fields(job_id)
        if fields['JobState'] in TERMINAL_JOB_STATES: return fields
        assert time.monotonic() < deadline, f"job {job_id} did not end within {timeout} s: {fields}"
        time.sleep(0.5)


def test_sbatch_job_runs(slurm_cluster, tmp_path):
    assert os.environ['SLURM_CONF'] == slurm_cluster.conf
    out = run('sbatch', '--parsable', f'--chdir={tmp_path}', f'--output={tmp_path}/job-%j.out',
              '--time=1', '--cpus-per-task=1', '--mem=100M', '--wrap', 'echo hello')
    job_id = out.strip().split(';')[0]
    assert job_id.isdigit(), out
    fields = wait_for_job(job_id)
    assert fields['JobState'] == 'COMPLETED' and fields['ExitCode'] == '0:0', fields
    assert fields['Partition'] == slurm_cluster.partition and fields['NodeList'] == slurm_cluster.node
    assert (tmp_path / f'job-{job_id}.out').read_text() == 'hello\n'
    # squeue no longer lists it; scontrol still shows it (MinJobAge)
    assert job_id not in run('squeue', '-h', '-o', '%i').split()


def test_node_as_configured(slurm_cluster):
    assert slurm_cluster.cpus == len(os.sched_getaffinity(0))
    node = run('scontrol', 'show', 'node', slurm_cluster.node)
    assert re.search(rf'\bCPUTot={slurm_cluster.cpus}\b', node), node
    assert re.search(rf'\bRealMemory={slurm_cluster.real_memory_mb}\b', node), node
    assert re.search(r'\bState=(IDLE|MIXED|ALLOCATED)\b', node), node
    # the default partition, and a second one on the same node (for tests that send a job to a named partition)
    assert run('sinfo', '-h', '-o', '%P %a %D').split() == [f'{slurm_cluster.partition}*', 'up', '1', 'long', 'up', '1']


def test_env_gives_clients_what_they_need(slurm_cluster):
    "`eval \"$(tools/slurm_cluster.sh env)\"` is all a client needs."
    env = {k: v for k, v in os.environ.items() if k != 'SLURM_CONF'}
    out = run('bash', '-c', f'eval "$(bash {SLURM_SCRIPT} env)" && echo "$SLURM_CONF" && sinfo -h -o %P', env=env)
    assert out.split() == [slurm_cluster.conf, f'{slurm_cluster.partition}*', 'long']


def test_stop_start_idempotent(slurm_cluster):
    "start when up says so; stop, and stop again, then start, and start again. Leaves it up for later tests."
    try:
        r = slurm_script('start')
        assert 'already up' in r.stdout
        assert slurm_script('status', check=False).returncode == 0
        r = slurm_script('stop')
        assert 'stopped slurmctld' in r.stdout and 'stopped slurmd' in r.stdout and 'stopped munged' in r.stdout
        assert slurm_script('status', check=False).returncode == 1
        r = slurm_script('stop')
        assert 'not running' in r.stdout
        r = slurm_script('start')
        assert 'Slurm cluster up' in r.stdout and f'export SLURM_CONF={slurm_cluster.conf}' in r.stdout
    finally:
        slurm_script('start')   # whatever failed above, later tests get a cluster
    assert 'already up' in slurm_script('start').stdout
    assert slurm_script('status', check=False).returncode == 0
    assert run('sinfo', '-h', '-n', slurm_cluster.node, '-o', '%t').strip() in {'idle', 'mix', 'alloc'}


def test_a_cluster_stopped_with_a_job_running_starts_again(slurm_cluster):
    "A session that ends mid-job leaves that job in the saved state: the next start must not wait for an idle node."
    job = run('sbatch', '--parsable', '--output', '/dev/null', '--wrap', 'sleep 60').strip()
    try:
        deadline = time.time() + 30
        while job_fields(job)['JobState'] != 'RUNNING':
            assert time.time() < deadline, 'the job did not start'
            time.sleep(0.5)
        slurm_script('stop')
        start = time.time()
        r = slurm_script('start')   # the recovered job keeps the node 'mix' until slurmd reports it gone
        assert 'Slurm cluster up' in r.stdout and time.time() - start < 20, r.stdout
    finally:
        subprocess.run(['scancel', job], capture_output=True)
        slurm_script('start')   # later tests get a cluster
