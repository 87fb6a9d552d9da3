#!/usr/bin/env python
"""Open the built documentation site in headless Chromium and check what a reader sees.

The site (`tools/docs.sh`, default `_site/`) is served on 127.0.0.1; Debian's `chromium` opens the index page
and a method page and is driven through the Chrome DevTools protocol over `--remote-debugging-pipe` (the
standard library only: no selenium, no websocket package). On every opened page:

- the math is rendered: MathJax has finished, every math element holds MathJax output (`mjx-container`) and no
  raw `$$` is left in the text outside code;
- local images have loaded (`naturalWidth > 0`), and the pages together show at least one loaded figure;
- every internal link resolves: the target page is served (no 404) and its `#fragment` is an id on it;
- a screenshot of each page is saved into the site folder (`screenshot.png` for the index page,
  `screenshot-<page>.png` for the others).

Install Chromium with `apt-get install -y chromium` (Debian). Usage:
`python tools/browser_test.py [--site _site] [--pages index.html 23_distribution_matching.html]`; exit code 0
when every check passes.
"""

from __future__ import annotations
import argparse
import base64
import functools
import html.parser
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ('index.html', '23_distribution_matching.html')
FLAGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
    '--hide-scrollbars',
    '--window-size=1280,1000',
    '--remote-debugging-pipe',
]


def find_chromium() -> str | None:
    "Debian's `chromium` (or another Chrome on PATH; $CHROMIUM overrides)."
    if os.environ.get('CHROMIUM'):
        return os.environ['CHROMIUM']
    for name in ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'):
        if shutil.which(name):
            return shutil.which(name)
    return None


# ---------------------------------------------------------------- a local server for the site


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(site: Path) -> tuple[ThreadingHTTPServer, str]:
    "Serve `site` on 127.0.0.1 (a free port) in a daemon thread; returns the server and its base URL."
    srv = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f'http://127.0.0.1:{srv.server_address[1]}/'


# ---------------------------------------------------------------- the DevTools protocol over a pipe


class Chromium:
    "Headless Chromium driven over `--remote-debugging-pipe` (JSON messages separated by NUL bytes)."

    def __init__(self, exe: str, timeout: float = 60.0):
        self.timeout, self.id, self.buf, self.events = timeout, 0, b'', []
        self.tmp = tempfile.mkdtemp(prefix='dc-chromium-')
        to_chrome_r, self.w = os.pipe()
        self.r, from_chrome_w = os.pipe()

        def fds():  # the child reads commands on fd 3 and writes replies on fd 4
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.log = open(Path(self.tmp) / 'chromium.log', 'wb')
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f'--user-data-dir={self.tmp}', 'about:blank'],
            preexec_fn=fds,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)

    def _read(self, deadline: float) -> dict:
        while b'\0' not in self.buf:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise TimeoutError('no answer from Chromium')
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError(f'Chromium closed the pipe; its log ends with:\n{self.log_tail()}')
            self.buf += chunk
        msg, _, self.buf = self.buf.partition(b'\0')
        return json.loads(msg)

    def log_tail(self) -> str:
        self.log.flush()
        return (Path(self.tmp) / 'chromium.log').read_text(errors='replace')[-2000:]

    def send(self, method: str, session: str | None = None, **params) -> dict:
        "Send one command and wait for its result (events that arrive meanwhile are kept)."
        self.id += 1
        msg = {'id': self.id, 'method': method, 'params': params}
        if session:
            msg['sessionId'] = session
        try:
            os.write(self.w, json.dumps(msg).encode() + b'\0')
        except BrokenPipeError:
            raise RuntimeError(f'Chromium is not running; its log ends with:\n{self.log_tail()}') from None
        deadline = time.time() + self.timeout
        while True:
            m = self._read(deadline)
            if m.get('id') == self.id:
                if 'error' in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get('result', {})
            self.events.append(m)

    def wait_event(self, method: str, session: str | None = None) -> dict:
        deadline = time.time() + self.timeout
        while True:
            for i, m in enumerate(self.events):
                if m.get('method') == method and (session is None or m.get('sessionId') == session):
                    return self.events.pop(i)
            self.events.append(self._read(deadline))

    def page(self) -> str:
        "A new tab; returns its session id."
        tid = self.send('Target.createTarget', url='about:blank')['targetId']
        s = self.send('Target.attachToTarget', targetId=tid, flatten=True)['sessionId']
        self.send('Page.enable', s)
        self.send('Runtime.enable', s)
        self.send('Emulation.setDeviceMetricsOverride', s, width=1280, height=1000, deviceScaleFactor=1, mobile=False)
        return s

    def goto(self, s: str, url: str):
        self.events = [m for m in self.events if m.get('sessionId') != s]
        self.send('Page.navigate', s, url=url)
        self.wait_event('Page.loadEventFired', s)

    def js(self, s: str, expr: str, await_promise: bool = False):
        r = self.send('Runtime.evaluate', s, expression=expr, returnByValue=True, awaitPromise=await_promise)
        if 'exceptionDetails' in r:
            raise RuntimeError(f"JavaScript error: {r['exceptionDetails']}")
        return r['result'].get('value')

    def screenshot(self, s: str, path: Path):
        path.write_bytes(base64.b64decode(self.send('Page.captureScreenshot', s, format='png')['data']))

    def close(self):
        try:
            self.send('Browser.close')
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for fd in (self.r, self.w):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- the checks

# waits for MathJax (if the page loads it) and describes the page
_REPORT = r"""
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const imgs = [...document.images].filter(i => i.src.startsWith(location.origin));
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container').forEach(e => e.remove());
  const maths = [...document.querySelectorAll('.math')];
  return {
    title: document.title,
    mathjax: !!(window.MathJax && MathJax.version), mathjax_version: window.MathJax && MathJax.version,
    mjx: document.querySelectorAll('mjx-container').length, math_count: maths.length,
    math_unrendered: maths.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80)),
    raw_dollars: (clone.innerText.match(/.{0,40}\$\$.{0,40}/g) || []).slice(0, 5),
    images: imgs.map(i => ({src: i.src, w: i.naturalWidth, ok: i.complete && i.naturalWidth > 0})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  };
})()
"""


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ('id', 'name') and v:
                self.ids.add(v)


def check_links(links: set[str], base: str) -> tuple[list[str], int]:
    "Fetch every same-origin link: the page must be served and its fragment must be an id on it."
    bad, pages, checked = [], {}, 0
    for url in sorted(links):
        if not url.startswith(base):
            continue
        path, _, frag = url.partition('#')
        if path not in pages:
            try:
                with urllib.request.urlopen(path, timeout=30) as r:
                    body = r.read()
                ids = _Ids()
                if path.endswith(('.html', '/')):
                    ids.feed(body.decode('utf-8', 'replace'))
                pages[path] = ids.ids
            except urllib.error.HTTPError as e:
                pages[path] = e.code
        checked += 1
        got = pages[path]
        if isinstance(got, int):
            bad.append(f'{url}: HTTP {got}')
        elif frag and urllib.parse.unquote(frag) not in got:
            bad.append(f'{url}: no element with id "{frag}"')
    return bad, checked


def run(site: Path, pages=PAGES, exe: str | None = None, verbose: bool = True) -> list[str]:
    "Open `pages` of the built `site`; returns the failures (empty when every check passes)."
    exe = exe or find_chromium()
    if exe is None:
        raise FileNotFoundError('no Chromium on PATH (Debian: apt-get install -y chromium)')
    if not (site / 'index.html').exists():
        raise FileNotFoundError(f'{site / "index.html"} not found: build the site with tools/docs.sh')
    say = print if verbose else (lambda *a, **k: None)
    srv, base = serve(site)
    browser = Chromium(exe)
    fails, links, loaded = [], set(), 0
    try:
        s = browser.page()
        for name in pages:
            browser.goto(s, base + name)
            rep = browser.js(s, _REPORT, await_promise=True)
            shot = site / ('screenshot.png' if name == 'index.html' else f'screenshot-{Path(name).stem}.png')
            browser.screenshot(s, shot)
            ok_imgs = [i for i in rep['images'] if i['ok']]
            loaded += len(ok_imgs)
            say(
                f"{name}: '{rep['title']}', MathJax {rep.get('mathjax_version') or '-'}, "
                f"{rep['mjx']} formulas rendered, "
                f"{len(ok_imgs)}/{len(rep['images'])} local images loaded, {len(rep['links'])} links; screenshot {shot}"
            )
            if rep['title'].startswith('404') or 'Error response' in rep['title']:
                fails.append(f'{name}: not served ({rep["title"]})')
            if rep['math_count'] and not rep['mathjax']:
                fails.append(f'{name}: MathJax did not load')
            if rep['math_unrendered']:
                fails.append(f"{name}: math left unrendered: {rep['math_unrendered'][:3]}")
            if rep['raw_dollars']:
                fails.append(f"{name}: raw $$ in the text: {rep['raw_dollars']}")
            if name != 'index.html' and not rep['mjx']:
                fails.append(f'{name}: no rendered math on a method page')
            for i in rep['images']:
                if not i['ok']:
                    fails.append(f"{name}: image did not load: {i['src']}")
            links |= {u for u in rep['links'] if u.startswith(base)}
        if not loaded:
            fails.append('no figure loaded on the opened pages')
        bad, n = check_links(links, base)
        say(f'{n} internal links checked, {len(bad)} broken')
        fails += bad
    finally:
        browser.close()
        srv.shutdown()
    return fails


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--site', default=str(ROOT / '_site'), help='the built site (default: _site)')
    ap.add_argument('--pages', nargs='+', default=list(PAGES), help='pages to open (default: %(default)s)')
    a = ap.parse_args()
    fails = run(Path(a.site).resolve(), a.pages)
    for f in fails:
        print('FAIL:', f)
    print('browser test:', 'passed' if not fails else f'{len(fails)} failures')
    sys.exit(1 if fails else 0)
