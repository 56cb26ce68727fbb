"""The book's configuration says what we think it says.

Jupyter Book 1.x ignores a misspelled key in ``_config.yml`` without a word (``execute:
timout: 300`` would leave the 30 s default in force), so these tests compare every key with the
list of keys Jupyter Book knows and read the effective Sphinx configuration back.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# Sections whose keys are passed through to Sphinx or MyST and so are not in Jupyter Book's list.
PASS_THROUGH = {("sphinx", "config"), ("sphinx", "local_extensions"), ("parse",)}


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _unknown_keys(ours: dict, known: dict, prefix: tuple = ()) -> list[str]:
    unknown = []
    for key, value in ours.items():
        path = (*prefix, key)
        if path[:1] in PASS_THROUGH or path[:2] in PASS_THROUGH:
            continue
        if key not in known:
            unknown.append(".".join(path))
        elif isinstance(value, dict) and isinstance(known[key], dict):
            unknown += _unknown_keys(value, known[key], path)
    return unknown


def test_every_config_key_is_known_to_jupyter_book():
    import jupyter_book

    known = _load(Path(jupyter_book.__file__).parent / "default_config.yml")
    known["bibtex_bibfiles"] = None  # documented top-level key, absent from the defaults file
    assert _unknown_keys(_load(ROOT / "_config.yml"), known) == []


def test_unknown_key_detector_catches_a_typo():
    known = {"execute": {"timeout": 30}}
    assert _unknown_keys({"execute": {"timout": 300}}, known) == ["execute.timout"]


@pytest.fixture(scope="module")
def sphinx_config() -> dict:
    from jupyter_book.config import get_final_config

    config, _ = get_final_config(user_yaml=ROOT / "_config.yml", sourcedir=ROOT,
                                 cli_config={"latex_individualpages": False},
                                 validate=True, raise_on_invalid=True)
    return config


def test_effective_execution_settings(sphinx_config):
    assert sphinx_config["nb_execution_mode"] == "cache"
    assert sphinx_config["nb_execution_timeout"] == 300
    assert sphinx_config["nb_execution_allow_errors"] is False
    assert sphinx_config["nb_execution_raise_on_error"] is True
    assert sphinx_config["nb_execution_show_tb"] is True


def test_effective_extensions_and_bibliography(sphinx_config):
    for ext in ("myst_nb", "sphinxcontrib.bibtex", "sphinx_exercise", "offline_mathjax"):
        assert ext in sphinx_config["extensions"], ext
    assert sphinx_config["bibtex_bibfiles"] == ["references.bib"]
    assert {"dollarmath", "amsmath", "colon_fence"} <= set(sphinx_config["myst_enable_extensions"])


def _toc_files() -> list[str]:
    """Every page in _toc.yml, sections (the library reference's pages) included."""
    toc = _load(ROOT / "_toc.yml")

    def pages(entries: list[dict]) -> list[str]:
        return [name for entry in entries
                for name in [entry["file"], *pages(entry.get("sections", []))]]

    return [toc["root"], *pages([c for part in toc.get("parts", []) for c in part["chapters"]])]


def test_toc_and_chapters_agree():
    listed = _toc_files()
    assert len(listed) == len(set(listed)), "a page is listed twice in _toc.yml"
    on_disk = {str(p.relative_to(ROOT).with_suffix("")) for p in (ROOT / "chapters").rglob("*.md")}
    assert set(listed) == on_disk, "every chapter must be in _toc.yml and every entry must exist"


def _notebook_chapters() -> list[Path]:
    return [ROOT / f"{name}.md" for name in _toc_files()
            if (ROOT / f"{name}.md").read_text().startswith("---\njupytext:")]


@pytest.mark.parametrize("path", _notebook_chapters(), ids=lambda p: p.stem)
def test_chapter_is_a_myst_notebook_that_imports_lstm_lib(path):
    notebook = jupytext.read(path)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{path.name} has no code cell"
    assert any(re.search(r"^\s*(import lstm_lib|from lstm_lib\b)", src, re.M) for src in code), (
        f"{path.name} must import lstm_lib: chapters use the library, never a copy of it")


def test_library_change_invalidates_the_execution_cache(tmp_path):
    from tools.book import FINGERPRINT_NAME, fingerprint, invalidate_stale_cache

    root = tmp_path / "repo"
    (root / "lstm_lib").mkdir(parents=True)
    (root / "lstm_lib" / "cell.py").write_text("x = 1\n")
    (root / "requirements.txt").write_text("numpy\n")
    (root / "_config.yml").write_text("title: t\n")
    (root / "tools").mkdir()
    (root / "tools" / "ext.py").write_text("y = 1\n")
    cache = root / "_build" / ".jupyter_cache"

    def fresh_build():
        cache.mkdir(parents=True)
        (root / "_build" / FINGERPRINT_NAME).write_text(fingerprint(root))

    fresh_build()
    assert invalidate_stale_cache(root, root) is False and cache.exists()
    (root / "lstm_lib" / "cell.py").write_text("x = 2\n")
    assert invalidate_stale_cache(root, root) is True and not (root / "_build").exists()
    fresh_build()
    (root / "tools" / "ext.py").write_text("y = 2\n")
    assert invalidate_stale_cache(root, root) is True and not (root / "_build").exists()


@pytest.mark.parametrize("path", _notebook_chapters(), ids=lambda p: p.stem)
def test_parallel_preexecution_uses_myst_nbs_cache_keys(path, tmp_path, sphinx_config):
    """tools/preexecute.py must read a chapter exactly as MyST-NB does: with another cache key,
    Jupyter Book would silently execute every chapter a second time, one after another."""
    from jupyter_cache import get_cache
    from myst_nb.core.config import NbParserConfig
    from myst_nb.core.read import create_nb_reader
    from myst_parser.config.main import MdParserConfig

    from tools.preexecute import read_notebook

    text = path.read_text()
    md_config = MdParserConfig(enable_extensions=set(sphinx_config["myst_enable_extensions"]))
    reader = create_nb_reader(str(path), md_config, NbParserConfig(), text)
    cache = get_cache(str(tmp_path / "cache"))
    _, ours = cache.create_hashed_notebook(read_notebook(path))
    _, theirs = cache.create_hashed_notebook(reader.read(text))
    assert ours == theirs


def test_book_kernels_draw_high_dpi_figures(tmp_path, monkeypatch):
    import base64
    import struct

    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    from tools.preexecute import kernel_profile

    monkeypatch.setenv("IPYTHONDIR", str(kernel_profile(tmp_path / "ipython")))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\nplt.figure(figsize=(4, 2), dpi=100)\nplt.plot([0, 1])\n"
        "plt.show()")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    result = single_nb_execution(nb, cwd=str(tmp_path), timeout=120, allow_errors=False)
    assert result.err is None, result.exc_string
    (out,) = [o for o in nb.cells[0].outputs if "image/png" in o.get("data", {})]
    png = base64.b64decode(out["data"]["image/png"])
    pixel_width = struct.unpack(">I", png[16:20])[0]    # IHDR width
    shown_width = out["metadata"]["image/png"]["width"]
    assert pixel_width >= 1.9 * shown_width, (pixel_width, shown_width)
