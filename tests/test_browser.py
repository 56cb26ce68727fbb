"""Open every page of the built site in headless Chromium, as a reader would.

Checks, per page: no JavaScript error, no failed request (the site must work offline, so nothing
may come from a CDN), every image loaded, MathJax typeset every formula without an error. Needs
Debian's ``chromium`` (``.ci/run`` installs it); without it the test is skipped with a message
that says so. The site is served on 127.0.0.1 only.
"""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = [pytest.mark.book, pytest.mark.slow, pytest.mark.xdist_group("book")]

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--no-first-run", "--disable-component-update", "--disable-sync",
                  "--disable-quic"]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output readable
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # a browser closing early is no failure
        pass


@pytest.fixture(scope="module")
def site(built_book):
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", built_book
    server.shutdown()
    server.server_close()


WAIT_FOR_MATHJAX = """() => new Promise(resolve => {
    if (!window.MathJax || !MathJax.Hub) { resolve('no mathjax'); return; }
    MathJax.Hub.Queue(() => resolve('done'));
})"""

PAGE_REPORT = """() => ({
    images: Array.from(document.images).map(i => [i.getAttribute('src'),
                                                    i.complete && i.naturalWidth > 0]),
    formulas: document.querySelectorAll('.math').length,
    typeset: document.querySelectorAll('.MathJax_CHTML, .MathJax_SVG, .MathJax').length,
    mathErrors: document.body.innerText.split('Math Processing Error').length - 1
                + document.querySelectorAll('.MathJax_Error, [data-mjx-error]').length,
    errorOutputs: document.querySelectorAll('.output.error, .output.traceback').length,
})"""


def test_every_page_renders_in_chromium(site):
    exe = _chromium()
    if exe is None:
        pytest.skip("SKIPPED the browser test: Chromium is not installed "
                    "(Debian: apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    base, root = site
    pages = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html")
                   if not p.relative_to(root).as_posix().startswith(("_", "genindex", "search"))
                   and 'http-equiv="Refresh"' not in p.read_text())  # index.html redirects
    assert pages, "the built site has no pages"
    problems = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS[1:])
        for page_path in pages:
            page = browser.new_page()
            errors, failed = [], []
            page.on("pageerror", lambda err, errors=errors: errors.append(str(err)))
            # the site must work offline: every asset it asks for must come from the site itself
            page.on("requestfailed", lambda req, failed=failed: failed.append(req.url))
            page.on("response", lambda res, failed=failed:
                    failed.append(f"{res.url} ({res.status})") if res.status >= 400 else None)
            page.goto(f"{base}/{page_path}", wait_until="load")
            if "mathjax/MathJax.js" in (root / page_path).read_text():  # loads async: wait
                page.wait_for_function("() => window.MathJax && window.MathJax.Hub",
                                       timeout=20_000)
            mathjax = page.evaluate(WAIT_FOR_MATHJAX)
            report = page.evaluate(PAGE_REPORT)
            page.close()
            bad_images = [src for src, ok in report["images"] if not ok]
            if errors:
                problems.append(f"{page_path}: JavaScript errors {errors}")
            failed = [url for url in failed if not url.startswith(("about:", "data:"))]
            if failed:
                problems.append(f"{page_path}: requests failed {failed}")
            if bad_images:
                problems.append(f"{page_path}: images not loaded {bad_images}")
            if report["formulas"] and (mathjax != "done" or report["typeset"] == 0):
                problems.append(f"{page_path}: {report['formulas']} formulas, none typeset "
                                f"(MathJax: {mathjax})")
            if report["mathErrors"]:
                problems.append(f"{page_path}: {report['mathErrors']} MathJax errors")
            if report["errorOutputs"]:
                problems.append(f"{page_path}: {report['errorOutputs']} error outputs")
        browser.close()
    assert problems == [], "\n".join(problems)
