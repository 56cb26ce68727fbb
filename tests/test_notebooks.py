"""``make notebooks`` (tools/notebooks.py) and the Colab button (tools/colab_button.py).

The notebooks are made from Jupyter Book's execution cache. These tests build a two-chapter
book in ``tmp_path`` and store its "executed" notebooks in a real jupyter-cache the way
``tools/preexecute.py`` does (with made-up outputs, so no kernel starts); the MyST conversion is
also run over every real chapter.
"""

from __future__ import annotations

import copy
import io
import re
import sys
from contextlib import redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import yaml

from tools.book import FINGERPRINT_NAME, REPOSITORY_ENV, configured_repository, fingerprint
from tools.colab_button import NOTEBOOKS_BRANCH, _add_button, colab_url, notebook_name
from tools.notebooks import (
    INSTALL_TAG,
    BookIndex,
    MarkdownConverter,
    NotExecutedError,
    index_book,
    install_cell_source,
    main,
    needed_hidden_cells,
    write_notebooks,
)
from tools.preexecute import notebook_chapters, read_notebook

ROOT = Path(__file__).resolve().parents[1]
REPO = "https://github.com/a-fork/lstm-notes"
HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""
CHAPTER = HEADER + r"""
(ch-one)=
# The first chapter

:::{admonition} Prerequisites
:class: note
* {ref}`ch-intro`, and {cite:p}`smith2020`.
:::

As {cite:t}`smith2020,doe1999` showed,

$$
h_t = \tanh(a_t)
$$ (eq-one)

and {eq}`eq-one` with {py:func}`~lstm_lib.train.fit` holds.

```{code-cell} ipython3
x = 1
print(x)
```

```{code-cell} ipython3
:tags: [remove-cell]

# The text's claim, checked.
assert x == 1
```

```{code-cell} ipython3
:tags: [remove-cell]

# A hidden cell that a visible one needs.
needed = 2
```

```{code-cell} ipython3
:tags: [hide-input]

print(needed + x)
```

:::{exercise}
:label: ex-one

Compute $x$.
:::

:::{solution} ex-one
:class: dropdown

It is {math}`1`.
:::

:::{solution-start} ex-one
:class: dropdown
:::

```{code-cell} ipython3
solution = x
```

:::{solution-end}
:::

See {ref}`the exercise <ex-one>`.
"""
INTRO = HEADER + """
(ch-intro)=
# Introduction

```{code-cell} ipython3
print("hello")
```
"""
BIB = """@article{smith2020, author = {Smith, Ann and Jones, Bo and Lee, Cy}, title = {T},
  journal = {J}, year = {2020}}
@book{doe1999, author = {Doe, Jane}, title = {B}, publisher = {P}, year = {1999}}
"""


def _output(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _book(root: Path) -> Path:
    (root / "chapters").mkdir(parents=True)
    (root / "chapters" / "intro.md").write_text(INTRO)
    (root / "chapters" / "01_one.md").write_text(CHAPTER)
    (root / "chapters" / "notes.md").write_text("# Not a notebook\n")
    (root / "references.bib").write_text(BIB)
    (root / "requirements.txt").write_text("numpy\n")
    (root / "_config.yml").write_text("title: fixture\n")
    (root / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": "chapters/intro",
        "parts": [{"caption": "One", "chapters": [{"file": "chapters/01_one"},
                                                  {"file": "chapters/notes"}]}]}))
    return root


def _cache(root: Path, *, skip: str | None = None) -> Path:
    """Store each chapter with one output per code cell, as tools/preexecute.py stores them."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    path = root / "_build" / ".jupyter_cache"
    cache = get_cache(str(path))
    for chapter in notebook_chapters(root):
        if chapter.name == skip:
            continue
        notebook = read_notebook(chapter)
        for k, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                cell.outputs = [_output(f"output of cell {k}\n")]
        record = cache.add_nb_to_project(str(chapter), read_data={"type": "plugin",
                                                                   "name": "myst_nb_md"})
        cache.cache_notebook_bundle(CacheBundleIn(notebook, record.uri), check_validity=False,
                                    overwrite=True)
    (root / "_build" / FINGERPRINT_NAME).write_text(fingerprint(root) + "\n")
    return path


@pytest.fixture
def built(tmp_path):
    root = _book(tmp_path / "book")
    cache = _cache(root)
    out = tmp_path / "notebooks"
    paths = write_notebooks(out, cache, REPO, "main", root=root)
    return SimpleNamespace(root=root, cache=cache, out=out, paths=paths,
                           one=nbformat.read(out / "01_one.ipynb", as_version=4))


def _code(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


# ------------------------------------------------------------------ make notebooks


def test_one_valid_notebook_per_chapter_in_reading_order(built):
    assert [p.name for p in built.paths] == ["intro.ipynb", "01_one.ipynb"]
    assert sorted(p.name for p in built.out.iterdir()) == ["01_one.ipynb", "intro.ipynb"]
    for path in built.paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["kernelspec"]["name"] == "python3"
        assert nb.metadata["accelerator"] == "GPU"  # Colab opens it on a GPU runtime
        assert "jupytext" not in nb.metadata


def test_the_first_cell_installs_the_library_from_the_repository(built):
    for path in built.paths:
        first = nbformat.read(path, as_version=4).cells[0]
        assert first.cell_type == "code" and first.metadata["tags"] == [INSTALL_TAG]
        assert first.source == install_cell_source(REPO, "main")
        assert f"git+{REPO}@main" in first.source and "default_device()" in first.source


def test_outputs_come_from_the_cache(built):
    code = [c for c in built.one.cells if c.cell_type == "code"][1:]
    assert code[0].source == "x = 1\nprint(x)"
    assert all(re.fullmatch(r"output of cell \d+\n", c.outputs[0].text) for c in code)


def test_hidden_checks_are_removed_unless_a_visible_cell_needs_them(built):
    sources = _code(built.one)
    assert not any("The text's claim, checked" in s for s in sources)
    (kept,) = [c for c in built.one.cells if "needed = 2" in c.source]
    assert kept.source.startswith("# A hidden cell")  # labelled by its comment ...
    assert kept.metadata["jupyter"]["source_hidden"] is True  # ... and collapsed
    (shown,) = [c for c in built.one.cells if "print(needed + x)" in c.source]
    assert shown.metadata["jupyter"]["source_hidden"] is True  # hide-input
    (solution,) = [c for c in built.one.cells if c.source == "solution = x"]
    assert solution.metadata["jupyter"]["source_hidden"] is True  # inside solution-start/end
    (plain,) = [c for c in built.one.cells if c.source == "x = 1\nprint(x)"]
    assert "jupyter" not in plain.metadata


def test_markdown_cells_are_plain(built):
    text = "\n".join(c.source for c in built.one.cells if c.cell_type == "markdown")
    assert "(ch-one)=" not in text and ":::" not in text and "{cite" not in text
    assert "> **Prerequisites**" in text and "*Introduction*" in text
    assert "(Smith et al., 2020)" in text and "Smith et al. (2020); Doe (1999) showed" in text
    assert r"\tag{1.1}" in text and "and (1.1) with `fit` holds" in text
    assert "#### Exercise 1.1" in text
    assert "<details><summary>Solution to Exercise 1.1</summary>" in text
    assert "It is $1$." in text and "#### Solution to Exercise 1.1" in text
    assert "See the exercise." in text


def test_the_sites_ipynb_downloads_become_the_notebooks(built, tmp_path):
    from tools.notebooks import update_site_downloads

    sources = tmp_path / "html" / "_sources" / "chapters"
    sources.mkdir(parents=True)
    (sources / "01_one.ipynb").write_text("{}")
    (sources / "01_one.md").write_text(CHAPTER)
    assert update_site_downloads(built.out, tmp_path / "html", built.root) == [
        sources / "01_one.ipynb"]  # intro has no download in this site: none is made
    assert (sources / "01_one.ipynb").read_bytes() == (built.out / "01_one.ipynb").read_bytes()
    assert (sources / "01_one.md").read_text() == CHAPTER
    assert not (sources / "intro.ipynb").exists()


def test_a_chapter_missing_from_the_cache_names_it_and_says_to_run_make_book(tmp_path):
    root = _book(tmp_path / "book")
    cache = _cache(root, skip="01_one.md")
    with pytest.raises(NotExecutedError, match=r"01_one\.md.*make book"):
        write_notebooks(tmp_path / "out", cache, REPO, "main", root=root)
    assert not (tmp_path / "out").exists()  # nothing half-written
    # a code cell changed since the build (the cache's key is the code, not the prose)
    (root / "chapters" / "intro.md").write_text(INTRO.replace('"hello"', '"changed"'))
    with pytest.raises(NotExecutedError, match=r"2 chapter\(s\).*intro\.md"):
        write_notebooks(tmp_path / "out", cache, REPO, "main", root=root)


def test_a_cache_from_another_library_version_is_refused(tmp_path):
    root = _book(tmp_path / "book")
    cache = _cache(root)
    (root / "requirements.txt").write_text("numpy\ntorch\n")
    with pytest.raises(NotExecutedError, match="make book"):
        write_notebooks(tmp_path / "out", cache, REPO, "main", root=root)
    assert write_notebooks(tmp_path / "out", cache, REPO, "main", root=root,
                           check_fingerprint=False)


def test_make_notebooks_without_a_build_exits_2_with_the_advice(tmp_path, capsys):
    assert main(["--cache", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "make book" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_makefile_has_the_notebooks_target():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^notebooks: \$\(STAMP\)\n\t\$\(BIN\)/python tools/notebooks\.py$",
                     makefile, re.M)
    assert "notebooks" in re.search(r"^\.PHONY:.*$", makefile, re.M)[0]


# ------------------------------------------------------------------ the install cell


def _run_install_cell(source: str, monkeypatch, *, installed: bool) -> tuple[str, list]:
    """Run the cell as IPython would (magics transformed); records %pip instead of installing."""
    from IPython.core.inputtransformer2 import TransformerManager

    import lstm_lib

    calls = []

    def run_line_magic(name, line):
        calls.append((name, line))
        sys.modules["lstm_lib"] = lstm_lib  # "installed"

    if not installed:
        monkeypatch.setitem(sys.modules, "lstm_lib", None)  # import lstm_lib raises ImportError
    code = TransformerManager().transform_cell(source)
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(code, "<install cell>", "exec"),
             {"get_ipython": lambda: SimpleNamespace(run_line_magic=run_line_magic)})
    return out.getvalue(), calls


def test_the_install_cell_only_installs_when_the_library_is_missing(monkeypatch):
    import lstm_lib

    monkeypatch.setenv("LSTM_LIB_DEVICE", "cpu")
    source = install_cell_source(REPO, "main")
    printed, calls = _run_install_cell(source, monkeypatch, installed=True)
    assert calls == [] and printed == f"lstm_lib computes on {lstm_lib.default_device()}\n"
    printed, calls = _run_install_cell(source, monkeypatch, installed=False)
    assert calls == [("pip", f'install --quiet "lstm_lib[widgets,study] @ git+{REPO}@main"')]
    assert printed == "lstm_lib computes on cpu\n"


# ------------------------------------------------------------------ MyST made plain


def _converter() -> MarkdownConverter:
    return MarkdownConverter(BookIndex(
        titles={"ch-x": "Chapter X", "ex-a": "Exercise 2.1", "notation": "Notation"},
        equations={"eq-a": "2.3"}, citations={"k1": ("Gers et al.", "2000")}))


@pytest.mark.parametrize("myst, plain", [
    ("{cite:p}`k1`", "(Gers et al., 2000)"),
    ("{cite:t}`k1`", "Gers et al. (2000)"),
    ("{cite:p}`nobody`", "(nobody)"),
    ("see {ref}`ch-x` and {doc}`notation`", "see *Chapter X* and *Notation*"),
    ("see {ref}`that one <ch-x>`", "see that one"),
    ("{ref}`implementing\nit <ex-a>` below", "implementing\nit below"),
    ("by {eq}`eq-a`.", "by (2.3)."),
    ("{py:class}`lstm_lib.nn.LSTM` and {func}`~lstm_lib.train.fit`",
     "`lstm_lib.nn.LSTM` and `fit`"),
    ("`{ref}` in code stays", "`{ref}` in code stays"),
    ("(sec-a)=\n## A section", "## A section"),
    ("$$\nx = 1\n$$ (eq-a)", "$$\nx = 1 \\tag{2.3}\n$$"),
    ("$$x$$", "$$x\n$$"),
    ("```{math}\n:label: eq-a\ny\n```", "$$y \\tag{2.3}\n$$"),
    (":::{exercise}\n:label: ex-a\nDo it.\n:::", "#### Exercise 2.1\n\nDo it."),
    (":::{solution} ex-a\n:class: dropdown\nDone.\n:::",
     "<details><summary>Solution to Exercise 2.1</summary>\n\nDone.\n\n</details>"),
    (":::{admonition} Goals\n:class: tip\n* one\n:::", "> **Goals**\n>\n> * one"),
    (":::{warning}\nCareful.\n:::", "> **Warning**\n>\n> Careful."),
    ("```python\n{ref}`kept`\n:::\n```", "```python\n{ref}`kept`\n:::\n```"),
    (":::{solution} ex-a\n:class: dropdown\n```python\n:::\n```\n:::\nafter",
     "<details><summary>Solution to Exercise 2.1</summary>\n\n```python\n:::\n```\n\n"
     "</details>\nafter"),
    ("```{bibliography}\n```", ""),
])
def test_myst_becomes_plain_markdown(myst, plain):
    assert _converter().convert(myst) == plain


def test_a_gated_solution_collapses_the_code_cells_until_its_end():
    converter = _converter()
    assert converter.convert(":::{solution-start} ex-a\n:class: dropdown\n:::\n\nText") == (
        "#### Solution to Exercise 2.1\n\nText")
    assert converter.in_solution
    assert converter.convert(":::{solution-end}\n:::\n\nOn.") == "On."
    assert not converter.in_solution


def test_needed_hidden_cells_are_the_ones_a_later_visible_cell_reads():
    cell = nbformat.v4.new_code_cell
    cells = [cell("a = 1"), cell("b = a\nunused = 0", metadata={"tags": ["remove-cell"]}),
             cell("c = 3", metadata={"tags": ["remove-cell"]}), cell("c = 4\nprint(b, c)"),
             cell("assert b == 1", metadata={"tags": ["remove-cell"]})]
    assert needed_hidden_cells(cells) == {1}


def test_every_real_chapter_converts_to_plain_markdown():
    chapters = notebook_chapters(ROOT)
    index = index_book(sorted((ROOT / "chapters").glob("*.md")), ROOT / "references.bib")
    assert index.equations and index.citations
    for chapter in chapters:
        converter = MarkdownConverter(index)
        for cell in read_notebook(chapter).cells:
            if cell.cell_type != "markdown":
                continue
            text = converter.convert(cell.source)
            outside_code = re.sub(r"```.*?```|`[^`]*`", "", text, flags=re.S)
            leftover = re.findall(r"\{[\w:-]+\}`|^:::|^\([\w-]+\)=$|^:\w+:", outside_code, re.M)
            assert leftover == [], (chapter.name, leftover, text[:300])
            unresolved = re.findall(r"\((?:eq|ch|sec|ex)-[\w-]+\)|\*(?:ch|sec|ex)-[\w-]+\*", text)
            assert unresolved == [], (chapter.name, unresolved)
        assert not converter.in_solution, f"{chapter.name}: a solution-start without its end"


def test_every_chapter_has_its_own_notebook_name():
    names = [notebook_name(str(p.relative_to(ROOT).with_suffix("")))
             for p in notebook_chapters(ROOT)]
    assert len(names) == len(set(names)) and "05_lstm_gates.ipynb" in names


# ------------------------------------------------------------------ the Colab button


def test_the_colab_url_is_built_from_the_repository_setting(monkeypatch):
    monkeypatch.setenv(REPOSITORY_ENV, "git@github.com:a-fork/lstm-notes.git")
    url = colab_url(configured_repository(ROOT), "chapters/05_lstm_gates")
    assert url == ("https://colab.research.google.com/github/a-fork/lstm-notes/blob/"
                   f"{NOTEBOOKS_BRANCH}/05_lstm_gates.ipynb")
    assert colab_url("https://gitlab.com/a/b", "chapters/05_lstm_gates") is None


def _page(metadata: dict, buttons: list, repository: str = REPO):
    app = SimpleNamespace(env=SimpleNamespace(metadata={"chapters/05_lstm_gates": metadata}),
                          config=SimpleNamespace(html_theme_options={"repository_url": repository}))
    context = {"header_buttons": buttons}
    _add_button(app, "chapters/05_lstm_gates", "page.html", context, None)
    return context["header_buttons"]


def test_the_colab_button_joins_the_launch_menu_of_notebook_pages():
    binder = {"type": "link", "text": "Binder", "url": "https://mybinder.org/v2/gh/x/y/main"}
    (group,) = _page({"kernelspec": {}}, [{"label": "launch-buttons", "type": "group",
                                           "buttons": [binder]}])
    assert [b["text"] for b in group["buttons"]] == ["Binder", "Colab"]
    assert group["buttons"][1]["url"] == colab_url(REPO, "chapters/05_lstm_gates")
    (group,) = _page({"kernelspec": {}}, [])  # no Binder: a launch menu of its own
    assert group["label"] == "launch-buttons" and group["buttons"][0]["text"] == "Colab"
    assert _page({}, []) == []  # not a notebook
    assert _page({"kernelspec": {}}, [], "https://gitlab.com/a/b") == []


def test_the_book_loads_the_colab_button():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["sphinx"]["local_extensions"]["colab_button"] == "tools"
    assert (ROOT / "tools" / "colab_button.py").is_file()


# ------------------------------------------------------------------ JupyterLab


def test_lab_collapses_checks_and_solution_code_and_saves_the_chapter_unchanged(tmp_path):
    import asyncio

    from tools.lab_contents import MARK, ChapterContentsManager

    (tmp_path / "01_one.md").write_text(CHAPTER)
    before = read_notebook(tmp_path / "01_one.md").cells
    manager = ChapterContentsManager(root_dir=str(tmp_path))
    model = asyncio.run(manager.get("01_one.md"))
    assert model["type"] == "notebook"
    hidden = [c["source"].splitlines()[0] for c in model["content"]["cells"]
              if c["metadata"].get("jupyter", {}).get("source_hidden")]
    assert hidden == ["# The text's claim, checked.", "# A hidden cell that a visible one needs.",
                      "print(needed + x)", "solution = x"]
    # opened, run with another kernel, autosaved: the chapter is not rewritten
    model["content"]["metadata"]["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
    for cell in model["content"]["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [_output("ran\n")], 1
    asyncio.run(manager.save(copy.deepcopy(model), "01_one.md"))
    assert (tmp_path / "01_one.md").read_text() == CHAPTER
    # edited: saved through Jupytext, without the collapse flags
    model["content"]["cells"][-1]["source"] += "\nMore."
    asyncio.run(manager.save(model, "01_one.md"))
    saved = (tmp_path / "01_one.md").read_text()
    assert "See {ref}`the exercise <ex-one>`.\nMore." in saved
    assert "source_hidden" not in saved and MARK not in saved
    assert saved.count(":tags: [remove-cell]") == 2
    after = read_notebook(tmp_path / "01_one.md").cells
    assert [(c.source, c.metadata) for c in after[:-1]] == [
        (c.source, c.metadata) for c in before[:-1]]


def test_collapse_leaves_a_readers_own_choice_alone():
    from tools.lab_contents import collapse, uncollapse

    cells = [nbformat.v4.new_code_cell("# check\nassert True", metadata={"tags": ["remove-cell"]}),
             nbformat.v4.new_code_cell("# check", metadata={"tags": ["remove-cell"],
                                                            "jupyter": {"source_hidden": False}}),
             nbformat.v4.new_code_cell("x = 1")]
    notebook = {"cells": cells}
    original = copy.deepcopy(notebook)
    collapse(notebook)
    assert [c["metadata"].get("jupyter") for c in cells] == [
        {"source_hidden": True}, {"source_hidden": False}, None]
    cells[0]["metadata"]["jupyter"]["source_hidden"] = False  # the reader expanded it
    assert uncollapse(notebook) == original


def test_every_real_check_cell_opens_collapsed_with_its_comment_showing():
    from tools.lab_contents import cells_to_collapse

    for chapter in notebook_chapters(ROOT):
        cells = read_notebook(chapter).cells
        collapsed = cells_to_collapse(cells)
        checks = [k for k, c in enumerate(cells)
                  if "remove-cell" in c.metadata.get("tags", []) and c.cell_type == "code"]
        assert set(checks) <= set(collapsed), chapter.name
        # a collapsed cell shows its first line: it says what the hidden code is
        for k in checks:
            assert cells[k].source.lstrip().startswith("#"), (chapter.name, cells[k].source[:80])


def test_make_lab_and_binder_start_jupyterlab_with_the_collapsing_contents_manager(tmp_path):
    from traitlets.config import Config
    from traitlets.utils.importstring import import_item

    from tools.lab_contents import ChapterContentsManager
    from tools.lab_settings import main as lab_settings

    config_path = tmp_path / "jupyter_server_config.py"
    assert lab_settings([str(tmp_path / "overrides.json"), "--server-config",
                         str(config_path)]) == 0
    c = Config()
    before = list(sys.path)
    try:
        exec(compile(config_path.read_text(), str(config_path), "exec"), {"c": c})
        assert sys.path[0] == str(ROOT)
    finally:
        sys.path[:] = before
    assert import_item(c.ServerApp.contents_manager_class) is ChapterContentsManager
    makefile = (ROOT / "Makefile").read_text()
    (lab,) = re.findall(r"^lab: .*\n((?:\t.*\n)+)", makefile, re.M)
    written = re.search(r"lab_settings\.py \S+ --server-config (\S+)", lab)[1]
    assert f"jupyter lab --config={written} chapters/" in lab
    post = (ROOT / ".binder" / "postBuild").read_text()
    assert ('tools/lab_settings.py --server-config "${HOME}/.jupyter/jupyter_server_config.py"'
            in post)
