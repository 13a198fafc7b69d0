"""The docs site as a reader sees it: `make docs`'s build, then the home page, one API page and one experiment
page opened in headless Chromium (Debian's `chromium` and `chromium-driver`, driven by selenium without
downloading anything), served over HTTP from this machine as `python -m http.server -d _site` would.
Each page must have rendered (its title and a known heading), every image must have loaded, its math must be
typeset by the site's own MathJax, and nothing may come from outside the machine. A screenshot of each page
is written to _site/screenshots/ for a person to look at."""
import functools, http.server, os, shutil, subprocess, sys, threading, time
from pathlib import Path

import pytest

from conftest import ROOT

SITE = ROOT / '_site'
CHROMIUM, CHROMEDRIVER = shutil.which('chromium') or '/usr/bin/chromium', '/usr/bin/chromedriver'

# page, words its <title> holds, its first heading, and what else must be on it (a CSS selector)
PAGES = [
    ('nbs/index.html', 'rlpaper', 'rlpaper', 'a[href$="experiments/e3_transfer.html"]'),
    ('nbs/00_core.html', 'core', 'core', 'dl.py.function dt.sig'),
    ('nbs/experiments/e3_transfer.html', 'E3', 'E3. Positive and negative transfer', 'table'),
]


@pytest.fixture(scope='module')
def site():
    start = time.perf_counter()
    r = subprocess.run([sys.executable, ROOT / 'docs' / 'build.py', '--out', SITE], cwd=ROOT, text=True,
                       capture_output=True)
    took = time.perf_counter() - start
    print(f'\ndocs build: {took:.1f} s (exit {r.returncode})\n{r.stdout}{r.stderr}')
    assert r.returncode == 0, r.stdout + r.stderr
    return SITE


@pytest.fixture(scope='module')
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()


@pytest.fixture(scope='module')
def browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        reason = f'no headless browser: {", ".join(missing)} missing (apt-get install chromium chromium-driver)'
        print(reason)
        pytest.skip(reason)
    os.environ.setdefault('SE_OFFLINE', 'true')   # selenium must use Debian's driver, never download one
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1280,1000',
                '--hide-scrollbars', '--proxy-server=127.0.0.1:9'):   # a dead proxy (loopback bypasses it): any outside request fails
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_for(driver, script, timeout=30):
    "Poll a JavaScript expression until it is truthy; its last value."
    deadline = time.time() + timeout
    while not (value := driver.execute_script(f'return {script}')) and time.time() < deadline: time.sleep(0.2)
    return value


def screenshot(driver, dest: Path, max_height=12000):
    "The whole page (up to max_height pixels), not only the window."
    import base64
    height = min(driver.execute_script('return document.documentElement.scrollHeight'), max_height)
    shot = driver.execute_cdp_cmd('Page.captureScreenshot', {'format': 'png', 'captureBeyondViewport': True,
                                                             'clip': {'x': 0, 'y': 0, 'width': 1280, 'height': height, 'scale': 1}})
    dest.write_bytes(base64.b64decode(shot['data']))


@pytest.mark.parametrize('page,title,heading,selector', PAGES, ids=[p[0] for p in PAGES])
def test_page_renders_in_a_browser(site, server, browser, page, title, heading, selector):
    from selenium.webdriver.common.by import By
    browser.get(f'{server}/{page}')
    assert wait_for(browser, 'document.readyState === "complete"'), f'{page} did not finish loading'
    assert title in browser.title, f'{page}: title {browser.title!r}'
    h1 = browser.find_element(By.TAG_NAME, 'h1').text
    assert h1.startswith(heading), f'{page}: first heading {h1!r}, expected {heading!r}'
    assert browser.find_elements(By.CSS_SELECTOR, selector), f'{page}: nothing matches {selector!r}'

    wait_for(browser, 'Array.from(document.images).every(i => i.complete)')
    broken = browser.execute_script('return Array.from(document.images)'
                                    '.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)')
    assert not broken, f'{page}: {len(broken)} broken images: {broken}'

    if browser.find_elements(By.CSS_SELECTOR, '.math'):   # math on the page: typeset by the site's MathJax
        assert wait_for(browser, '!!(window.MathJax && window.MathJax.Hub)'), f'{page}: MathJax did not load'
        # a callback queued behind MathJax's first pass runs when the page's math is typeset and laid out
        browser.execute_script('MathJax.Hub.Queue(() => { window.mathDone = true })')
        assert wait_for(browser, 'window.mathDone === true', timeout=60), f'{page}: MathJax did not finish'
        typeset = browser.execute_script('return document.querySelectorAll(".MathJax, .MathJax_Display").length')
        assert typeset, f'{page}: its math was not typeset'
        assert 'Math Processing Error' not in browser.find_element(By.TAG_NAME, 'body').text, page

    outside = browser.execute_script('return performance.getEntriesByType("resource").map(e => e.name)'
                                     f'.filter(n => !n.startsWith("{server}"))')
    assert not outside, f'{page} asks for files outside the site: {outside}'

    shots = site / 'screenshots'
    shots.mkdir(exist_ok=True)
    dest = shots / (page.replace('/', '_').removesuffix('.html') + '.png')
    screenshot(browser, dest)
    print(f'screenshot: {dest}')


def tiny_repo(root: Path, broken_cell: str | None = None, unreadable: bool = False) -> Path:
    "A repository with a home page and one experiment notebook, broken as asked, to build with --root."
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
    (root / 'nbs' / 'experiments').mkdir(parents=True)
    (root / 'figures').mkdir()
    meta = {'language_info': {'name': 'python'}}
    nbformat.write(new_notebook(cells=[new_markdown_cell('# Home')], metadata=meta), root / 'nbs' / 'index.ipynb')
    exp = root / 'nbs' / 'experiments' / 'e0_tiny.ipynb'
    cells = [new_markdown_cell('# E0. Tiny'), new_code_cell('x = 1'), new_markdown_cell(broken_cell or 'Fine.')]
    nbformat.write(new_notebook(cells=cells, metadata=meta), exp)
    if unreadable: exp.write_text(exp.read_text()[:-40])   # cut short: not JSON any more
    return root


def build(root: Path):
    return subprocess.run([sys.executable, ROOT / 'docs' / 'build.py', '--root', root], text=True, capture_output=True)


def test_a_notebook_that_fails_to_render_is_named_with_its_cell(tmp_path):
    r = build(tiny_repo(tmp_path, broken_cell='Text.\n\n```{no_such_directive}\nbody\n```'))
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'nbs/experiments/e0_tiny.ipynb: cell 3, line' in r.stderr and 'no_such_directive' in r.stderr, r.stderr
    assert 'sphinx failed (exit 1) in nbs/experiments/e0_tiny.ipynb' in r.stderr, r.stderr
    assert not (tmp_path / '_site').exists()   # no half-built site
    r = build(tiny_repo(tmp_path / 'ok'))
    assert r.returncode == 0 and (tmp_path / 'ok' / '_site' / 'nbs' / 'index.html').exists(), r.stdout + r.stderr


def test_an_unreadable_notebook_is_named(tmp_path):
    r = build(tiny_repo(tmp_path, unreadable=True))
    assert r.returncode == 1 and 'docs: nbs/experiments/e0_tiny.ipynb: not a readable notebook' in r.stderr, r.stderr


def test_an_experiment_page_is_its_published_notebook_when_there_is_one(tmp_path):
    import nbformat
    root = tiny_repo(tmp_path)
    nb = nbformat.read(root / 'nbs' / 'experiments' / 'e0_tiny.ipynb', as_version=4)
    png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='
    nb.cells[1].outputs = [nbformat.v4.new_output('display_data', data={'image/png': png, 'text/plain': '<Figure>'})]
    (root / 'figures' / 'notebooks').mkdir()
    nbformat.write(nb, root / 'figures' / 'notebooks' / 'e0_tiny.ipynb')
    r = build(root)
    assert r.returncode == 0, r.stdout + r.stderr
    page = (root / '_site' / 'nbs' / 'experiments' / 'e0_tiny.html').read_text()
    assert 'figures/notebooks/e0_tiny.ipynb' in page and '<img' in page
