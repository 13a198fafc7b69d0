"""The README's commands run as printed.

Every fenced shell block of README.md is either run here, as printed, from a temporary folder that holds links
to this checkout's `.venv` and `nbs/` (so `runs/` and anything else a command writes is temporary), or named
in `BLOCKS` as skipped with the reason. A README block that is neither fails `test_readme_block`, so a new
command cannot go untested silently; an entry of `BLOCKS` that matches no block fails
`test_every_entry_names_a_readme_block`. A parameter is made smaller only where the README itself says that
the smaller value runs the command in seconds (`shrink`).
"""
import json, os, re, subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import yaml

from conftest import BIN, ROOT

README = ROOT / 'README.md'
SHELLS = {'bash', 'sh', 'shell', 'console'}
FENCE = re.compile(r'^([ \t]*)```([\w+-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$', re.M | re.S)


def readme_blocks(text):
    "The fenced blocks of a markdown text: (language, code without the fence's indentation, line of the fence)."
    blocks = []
    for m in FENCE.finditer(text):
        indent = len(m.group(1))
        code = '\n'.join(line[indent:] if line[:indent].isspace() else line for line in m.group(3).splitlines())
        blocks.append((m.group(2).lower(), code, text.count('\n', 0, m.start()) + 1))
    return blocks


def prose(text):
    "The README without its fenced blocks: what it says rather than what it runs."
    return FENCE.sub('', text)


@dataclass
class Run:
    "Run the block with bash (-e, -o pipefail) from a temporary folder, then `check` what it wrote."
    check: Callable
    prepare: Callable = lambda work: None   # files the command reads that the README leaves to the user
    shrink: tuple = ()                      # (as printed, as run): only where the README gives the smaller value


@dataclass
class Skip:
    reason: str


def check_papermill(work, out):
    run = work / 'runs' / 'e0-p05'
    assert (run / 'e0.ipynb').exists(), sorted(p.name for p in run.iterdir())
    params = json.loads((run / 'params.json').read_text())
    assert (params['corrupt_prob'], params['seed'], params['n_train']) == (0.5, 1, 500), params
    metrics = json.loads((run / 'metrics.json').read_text())
    assert metrics['chance'] == 0.1 and 0 <= metrics['train_acc'] <= 1, metrics
    assert (run / 'accuracy.png').read_bytes()[:4] == b'\x89PNG'


def write_run_yaml(work):
    "The README describes run.yaml (data, model, train sections) but prints none: a small one."
    (work / 'run.yaml').write_text(yaml.safe_dump({
        'data': {'name': 'fashion_mnist', 'n_train': 300, 'corrupt_prob': 0.5, 'valid': False},
        'model': {'name': 'mlp', 'args': {'hidden': [64]}},
        'train': {'epochs': 2, 'batch_size': 50, 'lr': 0.05, 'out_dir': 'train-out', 'progress': False}}))


def check_train(work, out):
    assert (work / 'train-out' / 'model.pt').stat().st_size > 0
    history = (work / 'train-out' / 'history.csv').read_text().splitlines()
    assert history[0].startswith('step,epoch,split,metric,value') and len(history) > 3, history[:5]
    assert re.search(r'^train\s+[01]\.\d+$', out, re.M), out   # the final accuracy of each evaluated split


# A string that identifies each README shell block (it must occur in exactly one), and what is done with it.
BLOCKS = {
    'make reproduce': Skip('the Quickstart (`make reproduce`, `make test`): installs .venv, runs every smoke sweep '
                           'into figures/smoke/ of the checkout (minutes), and the whole test suite, this file included'),
    'rlpaper sweep run FILE': Skip('the usage synopsis of `rlpaper sweep` and `reproduce`, with FILE placeholders: '
                                   'not a command; test_synopsis_options_exist checks its options against --help'),
    'papermill nbs/experiments/e0_random_labels.ipynb': Run(check_papermill,
                                                            shrink=('-p n_train 5000', '-p n_train 500')),
    'python -m rlpaper.train --config run.yaml': Run(check_train, prepare=write_run_yaml),
}

TEXT = README.read_text(encoding='utf-8')
SHELL_BLOCKS = [(code, line) for lang, code, line in readme_blocks(TEXT) if lang in SHELLS]


def first_line(code):
    return next((l.strip() for l in code.splitlines() if l.strip()), '')


def test_the_parser_finds_the_readme_blocks():
    assert len(SHELL_BLOCKS) >= 4, SHELL_BLOCKS
    langs = [lang for lang, _, _ in readme_blocks(TEXT)]
    assert {'bash', 'yaml', 'python'} <= set(langs), langs
    blocks = readme_blocks('a\n\n  ```bash\n  echo 1\n    echo 2\n  ```\nb\n```\nplain\n```\n')
    assert blocks == [('bash', 'echo 1\n  echo 2', 3), ('', 'plain', 8)], blocks


def test_every_entry_names_a_readme_block():
    for needle in BLOCKS:
        hits = [line for code, line in SHELL_BLOCKS if needle in code]
        assert len(hits) == 1, f'BLOCKS entry {needle!r} matches README shell blocks at lines {hits}, not exactly one'


@pytest.mark.parametrize('code,line', SHELL_BLOCKS, ids=[f'L{line}:{first_line(code)[:40]}' for code, line in SHELL_BLOCKS])
def test_readme_block(code, line, tmp_path, env):
    entries = [BLOCKS[needle] for needle in BLOCKS if needle in code]
    assert len(entries) == 1, (f'README.md line {line}, block `{first_line(code)}`: {len(entries)} entries of BLOCKS '
                               'match it; run it in tests/test_readme.py or name it in BLOCKS as skipped, with why')
    entry = entries[0]
    if isinstance(entry, Skip): pytest.skip(f'README.md line {line} `{first_line(code)}`: {entry.reason}')
    if entry.shrink:
        printed, smaller = entry.shrink
        assert code.count(printed) == 1, f'`{printed}` is no longer in the block at line {line}:\n{code}'
        said = f'`{smaller}`' in prose(TEXT)
        assert said, f'the README does not say that `{smaller}` may replace `{printed}`'
        code = code.replace(printed, smaller)
    work = tmp_path   # = RLPAPER_RUNS's parent: runs/ of the command is the temporary runs folder
    (work / '.venv').symlink_to(BIN.parent, target_is_directory=True)
    (work / 'nbs').symlink_to(ROOT / 'nbs', target_is_directory=True)
    entry.prepare(work)
    r = subprocess.run(['bash', '-e', '-o', 'pipefail', '-c', code], cwd=work, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, f'README.md line {line} failed ({r.returncode}):\n{code}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'
    entry.check(work, r.stdout)


def synopsis():
    "The commands of the usage synopsis: (subcommand words, the --options printed for them)."
    code = next(code for code, _ in SHELL_BLOCKS if 'rlpaper sweep run FILE' in code)
    for line in code.splitlines():
        line = line.split('#')[0].split()
        if not line or line[0] != 'rlpaper': continue
        words = []
        for w in line[1:]:
            if not re.fullmatch(r'[a-z]+', w): break
            words.append(w)
        yield words, re.findall(r'--[a-z][a-z-]*', ' '.join(line))


def test_synopsis_options_exist():
    commands = list(synopsis())
    assert [w for w, _ in commands] == [['sweep', 'run'], ['sweep', 'status'], ['sweep', 'collect'], ['reproduce']], commands
    for words, options in commands:
        r = subprocess.run([BIN / 'rlpaper', *words, '--help'], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        for opt in options: assert re.search(rf'{opt}\b', r.stdout), f'rlpaper {" ".join(words)} has no {opt}:\n{r.stdout}'
