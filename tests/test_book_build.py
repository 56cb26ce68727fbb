"""The whole book builds strictly from a clean directory, and strictness really bites.

``built_book`` (conftest.py) executes every chapter once per session; the tests here read what
that build wrote. The two mini-books at the end prove that a raising cell and a Sphinx warning
each fail a build with our configuration.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from tools.book import build_command

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.book, pytest.mark.slow, pytest.mark.xdist_group("book")]


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc["parts"]:
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


def test_every_page_is_built(built_book):
    for page in _toc_pages():
        assert (built_book / f"{page}.html").is_file(), page


def test_no_error_output_in_any_page(built_book):
    for page in _toc_pages():
        html = (built_book / f"{page}.html").read_text()
        assert "Traceback (most recent call last)" not in html, page
        assert 'class="output traceback' not in html, page


def test_execution_statistics_lists_every_chapter(built_book):
    html = (built_book / "chapters" / "execution_statistics.html").read_text()
    notebooks = [p for p in _toc_pages()
                 if (ROOT / f"{p}.md").read_text().startswith("---\njupytext:")]
    for page in notebooks:
        assert Path(page).name in html, f"{page} missing from the execution statistics"
    assert "✅" in html and "❌" not in html


def test_math_is_marked_for_the_bundled_mathjax(built_book):
    html = (built_book / "chapters" / "intro.html").read_text()
    assert "_static/mathjax/MathJax.js" in html
    assert (built_book / "_static" / "mathjax" / "MathJax.js").is_file()
    assert re.search(r'class="math notranslate nohighlight"', html)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.srcs, self.ids = [], [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.srcs.append(attrs["src"])


def test_no_broken_internal_link_or_missing_image(built_book):
    parsed = {}
    for page in built_book.rglob("*.html"):
        parser = _Links()
        parser.feed(page.read_text())
        parsed[page.resolve()] = parser
    broken = []
    for page, parser in parsed.items():
        for ref in parser.hrefs + parser.srcs:
            if re.match(r"^[a-z]+:", ref) or ref.startswith("//"):
                continue  # external (http:, mailto:, data:): not ours to check offline
            target, _, anchor = ref.partition("#")
            path = (page.parent / target).resolve() if target else page
            if not path.exists():
                broken.append(f"{page.name}: {ref} (no such file)")
            elif anchor and path.suffix == ".html" and anchor not in parsed[path].ids:
                broken.append(f"{page.name}: {ref} (no such anchor)")
    assert broken == []


def _mini_book(tmp_path: Path, cells: str, extra_md: str = "") -> Path:
    book = tmp_path / "mini"
    (book / "chapters").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    shutil.copy(ROOT / "references.bib", book / "references.bib")
    shutil.copytree(ROOT / "tools", book / "tools")
    (book / "_toc.yml").write_text("format: jb-book\nroot: chapters/intro\n")
    header = (ROOT / "chapters" / "intro.md").read_text().split("---\n")[1]
    (book / "chapters" / "intro.md").write_text(
        f"---\n{header}---\n\n# Mini\n\n{extra_md}\n\n```{{code-cell}} ipython3\n{cells}\n```\n")
    return book


def _build_mini(book: Path) -> subprocess.CompletedProcess:
    return subprocess.run(build_command(book, book), cwd=book, capture_output=True, text=True,
                          timeout=300)


def test_a_raising_cell_fails_the_build_with_its_traceback(tmp_path):
    result = _build_mini(_mini_book(tmp_path, 'raise ValueError("a deliberate failure")'))
    assert result.returncode != 0
    assert "a deliberate failure" in result.stdout + result.stderr


def test_a_sphinx_warning_fails_the_build(tmp_path):
    result = _build_mini(_mini_book(tmp_path, "1 + 1", extra_md="See {doc}`no_such_page`."))
    assert result.returncode != 0
    assert "no_such_page" in result.stdout + result.stderr


def _notebook_pages() -> list[str]:
    return [p for p in _toc_pages() if (ROOT / f"{p}.md").read_text().startswith("---\njupytext:")]


def test_every_chapter_launches_on_binder_and_downloads_as_ipynb(built_book):
    import jupytext
    import nbformat

    from tools.book import configured_repository

    slug = configured_repository().removeprefix("https://github.com/")
    for page in _notebook_pages():
        html = (built_book / f"{page}.html").read_text()
        assert f"mybinder.org/v2/gh/{slug}/main?urlpath=lab/tree/{page}.md" in html
        download = built_book / "_sources" / f"{page}.ipynb"
        assert f"_sources/{page}.ipynb" in html and download.is_file(), page
        # the download is the chapter as a notebook, ready to run: the same code cells
        notebook = nbformat.read(download, as_version=4)
        source = jupytext.read(ROOT / f"{page}.md")
        code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
        assert code == [cell.source for cell in source.cells if cell.cell_type == "code"], page
