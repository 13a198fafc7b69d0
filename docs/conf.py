# Sphinx settings of the docs site. Not run by hand: `make docs` (docs/build.py) stages the notebooks into
# _site_src/ and builds them into _site/ with this file as the configuration.
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # autodoc documents this checkout's rlpaper/, whatever is installed

project = 'rlpaper'
author = 'rlpaper developers'
copyright = '2026 onwards, rlpaper developers'

extensions = [
    'myst_nb',               # notebooks (and markdown) as pages, with their stored outputs
    'sphinx.ext.autodoc',    # the API of each module: signatures and docstrings
    'sphinx.ext.mathjax',    # $...$ in notebooks; MathJax itself is served from the site (see below)
]

# The library notebooks will hold the outputs of their demos and the published experiment notebooks hold
# their figures and claims tables: render what is stored, never execute a notebook while building.
nb_execution_mode = 'off'
nb_merge_streams = True
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence']
myst_heading_anchors = 3
myst_dmath_double_inline = True   # `$$...$$` inside a paragraph, as Jupyter renders it
myst_update_mathjax = False   # its settings are for MathJax 3; the site serves MathJax 2 (below)

# MathJax from the jupyter-server-mathjax package (PyPI, pinned), copied into _site/_static/mathjax/ by
# docs/build.py: the default would load it from a CDN, and the site must render math without a network.
mathjax_path = 'mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full'
mathjax2_config = {
    'tex2jax': {'inlineMath': [['\\(', '\\)']], 'displayMath': [['\\[', '\\]']], 'processEscapes': True},
    'messageStyle': 'none',
    # the package ships the STIX-Web fonts only (not MathJax's default TeX fonts); a long display equation is
    # broken where MathJax can, else it scrolls (docs/_static/rlpaper.css)
    'HTML-CSS': {'availableFonts': [], 'preferredFont': None, 'webFont': 'STIX-Web', 'imageFont': None,
                 'linebreaks': {'automatic': True}},
    'menuSettings': {'zoom': 'None'},
}

# nbdev docstrings write names in single backticks: show them as code, as Jupyter does.
default_role = 'literal'
autodoc_member_order = 'bysource'
autodoc_typehints = 'signature'
autodoc_default_options = {'members': True, 'show-inheritance': True}

html_theme = 'furo'
html_title = 'rlpaper'
html_static_path = ['_static']
html_css_files = ['rlpaper.css']
html_show_sourcelink = False
html_copy_source = False

exclude_patterns = ['**/.ipynb_checkpoints']
suppress_warnings = [
    'myst.header',        # notebooks start sections at any level (a '###' under a '#'), which reads fine
    'myst-nb.mime_type',  # an output in no format a page can show (a widget's state) is left out, not an error
]
