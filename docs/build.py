"""Build the docs site: `make docs`, or `python docs/build.py [--out _site] [--root REPO]`.

Sphinx (with myst-nb, configured by docs/conf.py) renders notebooks as they are stored; it never executes one.
This script prepares what Sphinx reads in `_site_src/src/`, runs it into `_site_src/html/`, and moves the
finished site to `_site/`. Each step, and why:

1. The staging folder mirrors the repository (`nbs/`, `nbs/experiments/`, `figures/`), so every relative link
   or image a notebook writes for Jupyter (`../figures/e0_accuracy.png`, `experiments/e3_transfer.ipynb`,
   `../figures/claims.md`) points at the same file on the site.
2. The home page is `nbs/index.ipynb`, plus a navigation cell (Sphinx builds its menu from `toctree`
   directives; the notebook itself stays plain Jupyter markdown).
3. A library notebook `nbs/NN_name.ipynb` loses its nbdev directive lines (`#| export`, ...), and its `#| hide`
   cells are tagged `remove-cell`, as nbdev's own docs hide them; it gains an API section (`automodule`: the
   signatures and docstrings of what its module exports).
4. An experiment's page is its executed report notebook `figures/notebooks/<exp>_*.ipynb` (figures and claims
   table in its outputs) when `rlpaper reproduce --scale cpu` has published it; until then, the notebook's
   source followed by the experiment's published figures and its rows of `figures/claims.md`.
5. `figures/`: the PNG figures and the claims table (a page of its own).
6. After Sphinx, MathJax from the jupyter-server-mathjax package goes into `_static/mathjax/`, so that math
   renders without a network, and `index.html` forwards to the home page `nbs/index.html`.

A notebook that cannot be read is named with its cell; Sphinx's warnings (errors here) name the notebook by its
path in the repository (`nbs/experiments/e3_transfer.ipynb: cell 3, line 4: ...`, cells counted from 1).
"""
from __future__ import annotations

import argparse, re, shutil, subprocess, sys, time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]   # the repository whose notebooks are built (--root changes it)
DOCS = ROOT / 'docs'                          # conf.py and its static files, always this checkout's
STAGE = ROOT / '_site_src'   # src/: the staged pages; html/: Sphinx's output, moved to _site/ when complete


class DocsError(Exception): pass


def read_notebook(path: Path) -> nbformat.NotebookNode:
    "The notebook at `path`, checked against the notebook format; a failure names the notebook and its cell."
    try: nb = nbformat.read(path, as_version=4)
    except Exception as e: raise DocsError(f'{path.relative_to(ROOT)}: not a readable notebook: {e}') from e
    try: nbformat.validate(nb)
    except nbformat.ValidationError as e:
        # cells counted from 1, as in Sphinx's messages
        where = next((f'cell {p + 1}' for k, p in zip(e.absolute_path, list(e.absolute_path)[1:]) if k == 'cells'), 'its metadata')
        raise DocsError(f'{path.relative_to(ROOT)}: {where}: {e.message}') from e
    return nb


def write_notebook(nb, dest: Path):
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)


def md(text: str) -> nbformat.NotebookNode: return nbformat.v4.new_markdown_cell(text)


# -- 2. home page ------------------------------------------------------------------------------------------

def stage_index(library: list[str], experiments: list[str]):
    nb = read_notebook(ROOT / 'nbs' / 'index.ipynb')
    def toctree(caption, docs): return f'```{{toctree}}\n:hidden:\n:caption: {caption}\n\n' + '\n'.join(docs) + '\n```'
    nb.cells.append(md('\n\n'.join([toctree('Experiments', experiments), toctree('Library', library),
                                    toctree('Results', ['../figures/claims'])])))
    write_notebook(nb, STAGE / 'src' / 'nbs' / 'index.ipynb')


# -- 3. library notebooks ----------------------------------------------------------------------------------

DIRECTIVE = re.compile(r'^\s*#\|\s*(.*)$')


def directives(cell) -> list[str]: return [m[1].strip() for line in cell.source.splitlines() if (m := DIRECTIVE.match(line))]


def stage_library_notebook(path: Path) -> str:
    nb = read_notebook(path)
    module = next((d.split()[1] for c in nb.cells if c.cell_type == 'code' for d in directives(c)
                   if d.startswith('default_exp ')), None)
    if module is None: raise DocsError(f'{path.relative_to(ROOT)}: no `#| default_exp` cell, so no module to document')
    for cell in nb.cells:   # cells are tagged, not removed, so that Sphinx's cell numbers are the notebook's
        if cell.cell_type != 'code': continue
        found = directives(cell)
        cell.source = '\n'.join(l for l in cell.source.splitlines() if not DIRECTIVE.match(l)).strip('\n')
        if any(d.split()[0] in ('hide', 'default_exp') for d in found if d) or not (cell.source or cell.get('outputs')):
            cell.metadata.setdefault('tags', []).append('remove-cell')
    # autodoc writes reStructuredText, which MyST reads only inside an eval-rst block
    nb.cells.append(md(f'## API of `rlpaper.{module}`\n\nWhat the module exports: signatures and docstrings.\n\n'
                    f'```{{eval-rst}}\n.. automodule:: rlpaper.{module}\n```'))
    write_notebook(nb, STAGE / 'src' / 'nbs' / path.name)
    return path.stem


# -- 4. experiment notebooks -------------------------------------------------------------------------------

def claims_rows(exp: str) -> list[str]:
    "The header and the rows of `figures/claims.md`'s table that belong to experiment `exp` (e.g. 'E3')."
    lines = (ROOT / 'figures' / 'claims.md').read_text().splitlines() if (ROOT / 'figures' / 'claims.md').exists() else []
    table = [l for l in lines if l.startswith('|')]
    cells = [re.split(r'(?<!\\)\|', l) for l in table]    # ['', 'experiment', 'claim', ..., '']
    rows = [c for c in cells[2:] if c[1].strip() == exp]
    if not rows: return []
    # without the experiment column (the page is the experiment's); figure links are relative to figures/,
    # the page is in nbs/experiments/
    return ['|'.join(c[:1] + c[2:]) for c in cells[:2]] + [
        re.sub(r'\]\(([^)/]+\.png)\)', r'](../../figures/\1)', '|'.join(c[:1] + c[2:])) for c in rows]


def stage_experiment(path: Path) -> str:
    exp = path.name.split('_')[0]                      # 'e3'
    published = sorted((ROOT / 'figures' / 'notebooks').glob(f'{exp}_*.ipynb'))
    if published:
        nb = read_notebook(published[0])
        note = (f'*The executed report notebook `{published[0].relative_to(ROOT)}` (cpu scale), as '
                '`rlpaper reproduce --scale cpu` published it.*')
    else:
        nb = read_notebook(path)
        note = (f'*The executed notebook is not published yet (`rlpaper reproduce --scale cpu` writes '
                f'`figures/notebooks/{path.name}`): this page shows the notebook as written, followed by the '
                'figures and claims published in `figures/`.*')
        rows = claims_rows(exp.upper())
        # the figures the claims cite first, in their order, then the others; each links to itself full size
        cited = list(dict.fromkeys(re.findall(r'figures/([^)]+\.png)\)', '\n'.join(rows))))
        figures = sorted((ROOT / 'figures').glob(f'{exp}_*.png'), key=lambda f: (cited + [f.name]).index(f.name))
        if figures:
            nb.cells.append(md('## Published figures (cpu scale)\n\n' + '\n\n'.join(
                f'[![{f.stem}](../../figures/{f.name})](../../figures/{f.name})' for f in figures)))
        if rows:
            nb.cells.append(md('## Published claims (cpu scale)\n\nThe rows of [the claims table]'
                               '(../../figures/claims.md) for this experiment.\n\n' + '\n'.join(rows)))
    # the note ends the first cell, so that the cells keep their numbers in Sphinx's messages
    first = nb.cells[0] if nb.cells and nb.cells[0].cell_type == 'markdown' else None
    if first is not None: first.source = first.source.rstrip() + '\n\n' + note
    else: nb.cells.append(md(note))
    write_notebook(nb, STAGE / 'src' / 'nbs' / 'experiments' / path.name)
    return f'experiments/{path.stem}'


# -- 5. figures --------------------------------------------------------------------------------------------

def stage_figures():
    dest = STAGE / 'src' / 'figures'
    dest.mkdir(parents=True, exist_ok=True)
    for f in (ROOT / 'figures').glob('*.png'): shutil.copy2(f, dest / f.name)
    claims = ROOT / 'figures' / 'claims.md'
    text = claims.read_text() if claims.exists() else 'Not published yet: `rlpaper reproduce --scale cpu` writes it.\n'
    # its first line, the count of verdicts, is a heading too long for a title and the menu: a line under one
    first, _, rest = text.partition('\n')
    if first.startswith('# '): text = f'**{first[2:].strip()}**\n{rest}'
    (dest / 'claims.md').write_text('# Claims (cpu scale)\n\n' + text)


def stage() -> None:
    if STAGE.exists(): shutil.rmtree(STAGE)   # a page removed from nbs/ must not stay on the site
    library = [stage_library_notebook(p) for p in sorted((ROOT / 'nbs').glob('[0-9]*.ipynb'))]
    experiments = [stage_experiment(p) for p in sorted((ROOT / 'nbs' / 'experiments').glob('e[0-9]*_*.ipynb'))]
    stage_figures()
    stage_index(library, experiments)


# -- 6. Sphinx, then MathJax and the entry page ------------------------------------------------------------

def sphinx() -> None:
    # Sphinx writes into _site_src/html/, not into _site/ directly: myst-nb puts a folder of its own next to the
    # output folder (jupyter_execute/), which must not land in the repository; and a failed build leaves the
    # previous site in place. Warnings are errors (-W): a broken image, link or directive fails the build, and
    # --keep-going lists them all first. No colour (-N): FORCE_COLOR in CI would wrap file names in escape codes.
    src = STAGE / 'src'
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-E', '-q', '-W', '--keep-going', '-N', '-c', str(DOCS),
           '-D', 'root_doc=nbs/index', '-d', str(STAGE / 'doctrees'), str(src), str(STAGE / 'html')]
    r = subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True)
    report = (r.stdout + r.stderr).replace(str(src) + '/', '')   # name files by their path in the repository
    # myst-nb locates a message in a notebook as line 10000 * cell + line (cells counted from 1)
    report = re.sub(r'(\S+\.ipynb):(\d{5,})', lambda m: f'{m[1]}: cell {int(m[2]) // 10000}, line {int(m[2]) % 10000}', report)
    if report.strip(): print(report, file=sys.stderr)
    if r.returncode:
        failed = sorted(set(re.findall(r'^((?:nbs|figures)/\S+?\.(?:ipynb|md))', report, re.M)))
        raise DocsError(f'sphinx failed (exit {r.returncode})' + (f' in {", ".join(failed)}' if failed else ''))


def finish(out: Path) -> None:
    import jupyter_server_mathjax
    html = STAGE / 'html'
    mathjax = Path(jupyter_server_mathjax.__file__).parent / 'static'
    shutil.copytree(mathjax, html / '_static' / 'mathjax', dirs_exist_ok=True)
    (html / 'index.html').write_text('<!DOCTYPE html>\n<meta charset="utf-8">\n<title>rlpaper</title>\n'
                                    '<meta http-equiv="refresh" content="0; url=nbs/index.html">\n'
                                    '<a href="nbs/index.html">rlpaper docs</a>\n')
    if out.exists():
        if any(out.iterdir()) and not (out / 'objects.inv').exists():
            raise DocsError(f'{out} exists and is not a docs site: not replacing it')
        shutil.rmtree(out)
    shutil.move(html, out)


def main(argv=None) -> int:
    global ROOT, STAGE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', type=Path, default=None, help='where the site goes (default: _site/ of the root)')
    ap.add_argument('--root', type=Path, default=ROOT, help='the repository to build (default: this checkout)')
    args = ap.parse_args(argv)
    ROOT, STAGE = args.root.resolve(), args.root.resolve() / '_site_src'
    args.out = (args.out or ROOT / '_site').resolve()
    start = time.perf_counter()
    try:
        stage()
        sphinx()
        finish(args.out)
    except DocsError as e:
        print(f'docs: {e}', file=sys.stderr)
        return 1
    print(f'docs: built {args.out / "index.html"} in {time.perf_counter() - start:.1f} s')
    return 0


if __name__ == '__main__': sys.exit(main())
