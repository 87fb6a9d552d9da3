"""The documentation site in a real browser: built with tools/docs.sh, opened in headless Chromium
(tools/browser_test.py: rendered math, loaded figures, no broken internal link, a screenshot).

Skipped only where Chromium is not installed (Debian: `apt-get install -y chromium`). The site is built
first when `_site/` is missing or older than a notebook or the docs tooling."""

import subprocess
import sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / '_site'
sys.path.insert(0, str(ROOT / 'tools'))
import browser_test  # noqa: E402

needs_chromium = pytest.mark.skipif(
    browser_test.find_chromium() is None, reason='Chromium is not installed (apt-get install -y chromium)'
)


def _stale() -> bool:
    index = SITE / 'index.html'
    if not index.exists():
        return True
    sources = [*(ROOT / 'nbs').glob('*.ipynb'), *(ROOT / 'docs').rglob('*'), ROOT / 'tools' / 'docs.py']
    return max(p.stat().st_mtime for p in sources if p.is_file()) > index.stat().st_mtime


@pytest.fixture(scope='module')
def site():
    if _stale():
        subprocess.run([sys.executable, str(ROOT / 'tools' / 'docs.py')], check=True, cwd=ROOT)
    return SITE


@needs_chromium
def test_site_in_browser(site):
    fails = browser_test.run(site, ('index.html', '23_distribution_matching.html', '90_references.html'))
    assert not fails, '\n'.join(fails)
    assert (site / 'screenshot.png').stat().st_size > 10_000  # a page, not a blank image
