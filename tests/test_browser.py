"""Open the built site in headless Chromium, as a reader would, on a desktop and on a phone.

Every page, at 1400 px: no JavaScript error, no failed request (the site must work offline, so
nothing may come from a CDN), every image loaded, MathJax typeset every formula without an
error; and the layout: the page does not scroll sideways, no element is wider than the text
column unless it sits in a scroll container (equations, outputs, tables) or is a wide figure
using the right margin, every display equation is fully visible or scrollable, and figures are
shown at three quarters of their size or more (10-pt figure text at least ~10 CSS px).

At 390 px (a phone) the same layout checks on a few representative pages; at 390, 700 and 900 px
the menu and page-contents buttons open their panels; on the desktop there is one search box;
search snippets show no TeX; a figure opens full size on a tap.

Needs Debian's ``chromium`` (``.ci/run`` installs it); without it the tests are skipped with a
message that says so. The site is served on 127.0.0.1 only. ``LSTM_BOOK_HTML=_build/html``
checks an existing build instead of building the book.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = [pytest.mark.book, pytest.mark.slow, pytest.mark.xdist_group("book")]

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--no-first-run", "--disable-component-update", "--disable-sync",
                  "--disable-quic"]
DESKTOP, PHONE = 1400, 390
# checked at phone width: the gates, two chapters of multi-panel figures, the widest
# equations (ch. 6's hand calculation) and an API page of typeset docstring equations
PHONE_PAGES = ["chapters/03_vanishing_exploding.html", "chapters/05_lstm_gates.html",
               "chapters/06_bptt_lstm.html", "chapters/10_which_variant.html",
               "chapters/api/reference.html"]
READABLE = 0.75  # a figure shown at this fraction of its size: 10-pt text is ~10 CSS px


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output readable
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # a browser closing early is no failure
        pass


@pytest.fixture(scope="module")
def html_root(request) -> Path:
    prebuilt = os.environ.get("LSTM_BOOK_HTML")
    return Path(prebuilt).resolve() if prebuilt else request.getfixturevalue("built_book")


@pytest.fixture(scope="module")
def site(html_root):
    handler = functools.partial(_QuietHandler, directory=str(html_root))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", html_root
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    if exe is None:
        pytest.skip("SKIPPED the browser test: Chromium is not installed "
                    "(Debian: apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS[1:])
        yield browser
        browser.close()


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

# Layout problems of the page as shown: sideways scrolling, elements wider than the text
# column outside a scroll container, display equations cut off, figures shrunk below READABLE.
LAYOUT_REPORT = """(readable) => {
    const problems = [];
    const viewport = document.documentElement.clientWidth;
    if (document.scrollingElement.scrollWidth > window.innerWidth) {
        problems.push(`the page scrolls sideways: ${document.scrollingElement.scrollWidth} px ` +
                      `wide in a ${window.innerWidth} px window`);
    }
    const article = document.querySelector('article.bd-article');
    if (!article) return problems;
    const column = article.getBoundingClientRect().right;
    const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
        (typeof el.className === 'string' && el.className ? '.' +
         el.className.trim().split(/\\s+/).join('.') : '');
    const memo = new Map();  // one style lookup per element, not one per descendant
    const scrolls = el => {
        if (!memo.has(el)) memo.set(el, /auto|scroll/.test(getComputedStyle(el).overflowX));
        return memo.get(el);
    };
    // units checked as a whole: their insides are MathJax's or the code highlighter's
    const unit = 'div.math, .MathJax_Display, .MathJax, .MathJax_Preview, mjx-container, ' +
                 'pre, script, style, .MJX_Assistive_MathML';
    const walker = document.createTreeWalker(article, NodeFilter.SHOW_ELEMENT, {
        acceptNode: el => el.matches(unit) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
    const seen = new Set();
    const check = (el, inside) => {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || box.height === 0) return;
        const wide = el.closest('div.cell_output.wide-figure');
        const right = wide ? viewport : column;  // a wide figure may use the margin
        if (box.right > right + 1 && !inside) {
            problems.push(`${name(el)} ends at ${Math.round(box.right)} px, past the ` +
                          `${wide ? 'window' : 'text column'} (${Math.round(right)} px)`);
        }
    };
    for (let el = walker.nextNode(); el; el = walker.nextNode()) {
        let inside = false;  // in a scroll container that itself fits (checked on its own)
        for (let p = el.parentElement; p && p !== article; p = p.parentElement) {
            if (scrolls(p)) { inside = true; break; }
        }
        check(el, inside);
    }
    for (const el of article.querySelectorAll('div.math, .MathJax_Display, pre')) {
        const inScroller = el.parentElement.closest('div.math, .MathJax_Display, pre, ' +
            'div.highlight, .pst-scrollable-table-container, div.cell_output');
        check(el, inScroller && scrolls(inScroller));
        if (el.scrollWidth > el.clientWidth + 1 && !scrolls(el) && !seen.has(el)) {
            seen.add(el);
            problems.push(`${name(el)} is cut off: ${el.scrollWidth} px of content in ` +
                          `${el.clientWidth} px, no scroll bar (${el.textContent.slice(0, 60)})`);
        }
    }
    for (const img of article.querySelectorAll('div.cell_output img')) {
        const shown = img.getBoundingClientRect().width;
        const size = parseFloat(img.style.width) || img.naturalWidth;
        if (shown > 0 && readable && shown < readable * size) {
            problems.push(`a ${Math.round(size)} px figure is shown ${Math.round(shown)} px ` +
                          `wide (${(shown / size).toFixed(2)} < ${readable})`);
        }
    }
    return problems;
}"""

VISIBLE_SEARCH_BOXES = """() => Array.from(document.querySelectorAll(
        'input[name="q"], .search-button-field, .search-button')).filter(el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && box.right > 0 && box.left < innerWidth &&
           getComputedStyle(el).visibility !== 'hidden';
}).length"""

PANEL_SHOWN = """(selector) => {
    const panel = document.querySelector(selector);
    if (!panel) return false;
    const box = panel.getBoundingClientRect();
    return getComputedStyle(panel).visibility !== 'hidden' && box.width > 100 &&
           box.left >= -1 && box.right <= innerWidth + 1;
}"""


def _pages(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html")
                  if not p.relative_to(root).as_posix().startswith(("_", "genindex", "search"))
                  and 'http-equiv="Refresh"' not in p.read_text())  # index.html redirects


def _open(browser, base: str, root: Path, page_path: str, width: int,
          errors: list | None = None, failed: list | None = None):
    page = browser.new_page(viewport={"width": width, "height": 900})
    if errors is not None:
        page.on("pageerror", lambda err: errors.append(str(err)))
    if failed is not None:  # the site must work offline: every asset must come from the site
        page.on("requestfailed", lambda req: failed.append(req.url))
        page.on("response", lambda res: failed.append(f"{res.url} ({res.status})")
                if res.status >= 400 else None)
    page.goto(f"{base}/{page_path}", wait_until="load")
    if "mathjax/MathJax.js" in (root / page_path.split("?")[0]).read_text():  # async: wait
        page.wait_for_function("() => window.MathJax && window.MathJax.Hub", timeout=20_000)
    return page


def test_every_page_renders_in_chromium_at_desktop_width(site, browser):
    base, root = site
    pages = _pages(root)
    assert pages, "the built site has no pages"
    problems = []
    for page_path in pages:
        errors, failed = [], []
        page = _open(browser, base, root, page_path, DESKTOP, errors, failed)
        mathjax = page.evaluate(WAIT_FOR_MATHJAX)
        report = page.evaluate(PAGE_REPORT)
        layout = page.evaluate(LAYOUT_REPORT, READABLE)
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
        problems += [f"{page_path} at {DESKTOP} px: {problem}" for problem in layout]
    assert problems == [], "\n".join(problems)


def test_representative_pages_fit_a_phone(site, browser):
    base, root = site
    problems = []
    for page_path in PHONE_PAGES:
        page = _open(browser, base, root, page_path, PHONE)
        page.evaluate(WAIT_FOR_MATHJAX)
        # on a phone figures fit the screen and open full size on a tap (tested below)
        problems += [f"{page_path} at {PHONE} px: {problem}"
                     for problem in page.evaluate(LAYOUT_REPORT, 0)]
        page.close()
    assert problems == [], "\n".join(problems)


def test_the_api_pages_typeset_the_docstring_equations(site, browser):
    base, root = site
    page = _open(browser, base, root, "chapters/api/reference.html", DESKTOP)
    page.evaluate(WAIT_FOR_MATHJAX)
    tags = page.evaluate("""() => Array.from(document.querySelectorAll('div.math'))
        .map(el => el.innerText).join(' ')""")
    page.close()
    for tag in ("(L1)", "(L7)", "(G1)", "(R1)"):  # \\tag{L1} typeset as an equation label
        assert tag in tags
    assert "σ(" not in tags and "⊙" in tags  # typeset (MathJax draws ⊙), not the plain text


@pytest.mark.parametrize("width", [PHONE, 700, 900])
def test_the_menu_and_the_page_contents_open_on_phones_and_tablets(site, browser, width):
    base, root = site
    page = _open(browser, base, root, "chapters/05_lstm_gates.html", width)
    # the theme moves a sidebar's contents into its dialog when the button is pressed
    for toggle, panel in [("primary-toggle", "dialog#pst-primary-sidebar-modal"),
                          ("secondary-toggle", "dialog#pst-secondary-sidebar-modal")]:
        assert not page.evaluate(PANEL_SHOWN, panel), f"{panel} is open before a tap"
        page.locator(f"button.{toggle}:visible").first.click()
        page.wait_for_timeout(300)
        assert page.evaluate(PANEL_SHOWN, panel), f"{toggle} did not open {panel} at {width} px"
        page.keyboard.press("Escape")
        page.wait_for_timeout(300)
        assert not page.evaluate(PANEL_SHOWN, panel), f"Escape did not close {panel}"
    page.close()


def test_one_search_box_on_the_desktop(site, browser):
    base, root = site
    page = _open(browser, base, root, "chapters/05_lstm_gates.html", DESKTOP)
    assert page.evaluate(VISIBLE_SEARCH_BOXES) == 1
    page.close()


def test_search_snippets_show_no_tex(site, browser):
    base, root = site
    page = _open(browser, base, root, "search.html?q=forget+gate+candidate", DESKTOP)
    page.wait_for_selector("#search-results li p.context", timeout=30_000)
    page.wait_for_timeout(1000)  # the rest of the snippets
    snippets = page.eval_on_selector_all("#search-results li p.context",
                                         "els => els.map(el => el.textContent)")
    page.close()
    assert snippets
    # TeX's delimiters and commands (the docstrings' plain-text h_{t-1} is not TeX markup)
    tex = [s for s in snippets if re.search(r"\\[(\[]|\$|\\[A-Za-z]+", s)]
    assert tex == [], tex[:3]
    assert any("σ" in s or "⊙" in s or "ₜ" in s for s in snippets)  # the formulas, as text


def test_a_figure_opens_full_size_on_a_phone(site, browser):
    base, root = site
    page = _open(browser, base, root, "chapters/03_vanishing_exploding.html", PHONE)
    figure = page.locator("div.cell_output img.figure-zoomable").first
    size = figure.evaluate("img => parseFloat(img.style.width) || img.naturalWidth")
    assert figure.bounding_box()["width"] < READABLE * size  # shrunk to fit the phone
    figure.scroll_into_view_if_needed()
    figure.click()
    dialog = page.locator("dialog.figure-zoom[open]")
    dialog.wait_for(timeout=5_000)
    assert dialog.locator("img").evaluate("img => img.getBoundingClientRect().width") >= size - 1
    assert dialog.evaluate("d => d.scrollWidth > d.clientWidth")  # pans sideways
    page.keyboard.press("Escape")
    assert page.locator("dialog.figure-zoom[open]").count() == 0
    page.close()
