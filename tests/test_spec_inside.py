"""The spec lives inside the project: no tracked file points the reader to a document the repository does not
contain (the old SPEC.md and DESIGN.md were never part of it), and every experiment notebook states its formulas
and names each claim it declares in its own markdown."""
import io, json, re, subprocess, tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXT = re.compile(r'(\.(ipynb|py|md|yaml|yml|ini|cfg|toml)|(^|/)Makefile)$')
EXPERIMENTS = sorted((ROOT / 'nbs' / 'experiments').glob('e[0-9]*_*.ipynb'))


def tracked() -> list[str]:
    "The repository's tracked text files (paths relative to the root) that still exist in the work tree."
    try: out = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError): pytest.skip('not a git checkout: no list of tracked files')
    return [p for p in out.splitlines() if TEXT.search(p) and (ROOT / p).is_file()]


def python_prose(src: str, strings: bool = True) -> str:
    "The comments (and string literals) of Python source: where a code file can cite a document (names are code)."
    kinds = {tokenize.COMMENT} | ({tokenize.STRING, getattr(tokenize, 'FSTRING_MIDDLE', tokenize.STRING)} if strings else set())
    try: return '\n'.join(t.string for t in tokenize.generate_tokens(io.StringIO(src).readline) if t.type in kinds)
    except (tokenize.TokenError, SyntaxError, IndentationError):   # cell magics and the like: read it all
        return src


def prose(path: str, strings: bool = True) -> list[tuple[str, str]]:
    "(where, text) pieces of a tracked file in which it can refer to a document; `strings`: with Python's string literals."
    text = (ROOT / path).read_text(errors='replace')
    if path.endswith('.py'): return [(path, python_prose(text, strings))]
    if not path.endswith('.ipynb'): return [(path, text)]
    cells = json.loads(text)['cells']
    return [(f'{path} cell {i}', ''.join(c['source']) if c['cell_type'] != 'code' else python_prose(''.join(c['source']), strings))
            for i, c in enumerate(cells)]


# SPEC / DESIGN as a document: `SPEC.md`, "the project's SPEC", "SPEC E4", "its DESIGN notes"; not code names such
# as VIDEO_SPEC_KEYS (the lookarounds keep identifiers out), nor a Python variable called SPEC (prose only).
OLD_DOCS = re.compile(r'(?<![\w$])(SPEC|DESIGN)(?![\w])|\b(spec|design)\.md\b', re.IGNORECASE)
# A document a reader is sent to: a Markdown or reStructuredText file by name, in prose and in code comments
# (notebooks, figures and the like, and the files code writes or reads, are outputs and fixtures, not documents).
DOC_REF = re.compile(r'(?<![\w/.-])((?:\.\.?/)*(?:[\w-]+/)*[\w-]+\.(?:md|rst))\b')


def test_no_reference_to_a_document_outside_the_repository():
    files = tracked()
    names = {Path(p).name for p in files} | {p for p in files}
    bad = []
    for path in files:
        if path == 'tests/test_spec_inside.py': continue   # this file names what it forbids
        for where, text in prose(path):
            for m in OLD_DOCS.finditer(text):
                word = m.group(0)
                if word.isupper() or word.lower().endswith('.md'):   # the documents are spelt in capitals
                    if not (word.upper().endswith('.MD') and word.upper() in {n.upper() for n in names}):
                        bad.append(f'{where}: {text[max(0, m.start() - 40):m.end() + 40]!r}')
        for where, text in prose(path, strings=False):
            for m in DOC_REF.finditer(text):
                ref = m.group(1)
                if '{' in ref or '<' in ref: continue
                if ref not in names and Path(ref).name not in names and not (ROOT / Path(path).parent / ref).exists():
                    bad.append(f'{where}: refers to {ref}, which the repository does not contain')
    assert not bad, 'references to documents the repository does not contain:\n' + '\n'.join(bad)


def claim_names(code: str) -> list[str]:
    "The names of the `Claim(...)` declarations in `code` (an f-string name keeps its `{placeholders}`)."
    return re.findall(r"""\bClaim\(\s*f?(['"])(.+?)\1""", code)


def name_pattern(name: str) -> re.Pattern:
    "A claim name as the markdown may write it: in backticks, an f-string placeholder as any word or <placeholder>."
    parts = re.split(r'\{[^}]*\}', name)
    return re.compile('`' + r'(?:<\w+>|\{\w+\}|\w+)'.join(re.escape(p) for p in parts) + '`')


@pytest.mark.parametrize('nb', EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_states_its_formulas_and_claims(nb):
    cells = json.loads(nb.read_text())['cells']
    md = '\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'markdown')
    code = '\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'code')
    math = re.sub(r'`[^`\n]*`', '', md)   # a `$VARIABLE` in inline code is not a formula
    assert re.search(r'\$\$.+?\$\$|\$[^$\s][^$\n]*\$', math, re.DOTALL), f'{nb.name}: no formula ($...$) in its markdown'
    names = [n for _, n in claim_names(code)]
    assert names, f'{nb.name}: declares no Claim(...)'
    missing = [n for n in names if not name_pattern(n).search(md)]
    assert not missing, f'{nb.name}: its markdown does not name the claims {missing} (in backticks)'


def test_the_claim_parser():
    code = "Claim('fits', 'x', 'y')\nClaim(f'{name}_below_init', f'...')\n    Claim(\"a_b\", 'z')"
    assert [n for _, n in claim_names(code)] == ['fits', '{name}_below_init', 'a_b']
    assert name_pattern('{name}_below_init').search('the claims `mlp_random_below_init` and')
    assert name_pattern('{s}_wider_{c}').search('| `<s>_wider_<c>` |')
    assert not name_pattern('fits').search('it fits the labels')
    assert OLD_DOCS.search('see the SPEC.md') and OLD_DOCS.search("the project's SPEC;") and not OLD_DOCS.search('VIDEO_SPEC_KEYS')
    assert python_prose("SPEC = {'a': 1}  # see DESIGN\n") == "'a'\n# see DESIGN"
    assert python_prose("open('notes.md')  # NOTES.md\n", strings=False) == '# NOTES.md'
    assert [m.group(1) for m in DOC_REF.finditer('see ../figures/claims.md and data/README.md, not x.mdx')] == \
        ['../figures/claims.md', 'data/README.md']
