"""Publishing the book: the library reference, the repository URL in one place, the workflows.

* ``chapters/api/`` has one page per public module of ``lstm_lib`` (a new module without a page
  fails here), written by autodoc from the docstrings; ``tools/api_docs.py`` keeps the strict
  build green. ``test_api_pages_build_strictly`` builds just those pages (no chapter executed):
  run it after editing docstrings.
* The Binder, repository and issue buttons read one URL: ``$LSTM_BOOK_REPOSITORY``, else the
  GitHub remote ``origin``, else ``repository.url`` of ``_config.yml``.
* ``.github/workflows``: the book deployed to GitHub Pages on a push to main, with the executed
  notebooks (``make notebooks``) on the ``notebooks`` branch for Colab; the tests on pull requests.
"""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.api_docs import make_safe, public_candidates, rst_problems
from tools.book import (
    REPOSITORY_ENV,
    build_command,
    configured_repository,
    github_url,
    repository_url,
    write_build_config,
)

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "chapters" / "api"
PLACEHOLDER = "https://github.com/lstm-book/lstm-book"
NOT_DOCUMENTED = {"cli"}  # the command line: its interface is `--help` and the README


# ---------------------------------------------------------------- the library reference


def public_modules() -> list[str]:
    import lstm_lib

    return ["lstm_lib"] + sorted(
        f"lstm_lib.{m.name}" for m in pkgutil.iter_modules(lstm_lib.__path__)
        if not m.name.startswith("_") and m.name not in NOT_DOCUMENTED)


def _automodules(page: Path) -> list[str]:
    return re.findall(r"^\.\. automodule:: (\S+)", page.read_text(), re.M)


def _api_toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    (reference,) = [part for part in toc["parts"] if part["caption"] == "Reference"]
    (index,) = [c for c in reference["chapters"] if c["file"] == "chapters/api/index"]
    return [section["file"] for section in index["sections"]]


def test_every_public_module_has_an_api_page():
    documented = {m for page in API.glob("*.md") for m in _automodules(page)}
    missing = [m for m in public_modules() if m not in documented]
    assert missing == [], (
        f"no page in chapters/api/ documents {missing}: add chapters/api/<name>.md with "
        "'.. automodule:: lstm_lib.<name>' (copy train.md) and list it in _toc.yml")


def test_api_pages_are_listed_under_the_library_reference():
    pages = {f"chapters/api/{p.stem}" for p in API.glob("*.md")} - {"chapters/api/index"}
    listed = _api_toc_pages()
    assert sorted(listed) == sorted(pages)
    assert listed[:3] == ["chapters/api/lstm_lib", "chapters/api/reference", "chapters/api/nn"]


def test_each_api_page_has_a_label_and_the_module_as_title():
    for page in API.glob("*.md"):
        if page.stem == "index":
            continue
        text = page.read_text()
        module = "lstm_lib" if page.stem == "lstm_lib" else f"lstm_lib.{page.stem}"
        assert module in _automodules(page), page.name
        assert text.startswith(f"(api-{page.stem.replace('_', '-')})=\n# {module}\n"), page.name


def test_plain_text_idioms_become_safe_restructuredtext():
    lines = ["Relative error |a - n| / max(|a|, |n|), as torch's clip_grad_norm_.",
             "kind, readout, **kwargs: passed on; *before* clipping and **bold** stay.",
             "train: one of",
             "    * a pair ``(x, y)`` of arrays, ``|x|`` untouched in a literal;",
             "    * a callable",
             "val: after the list",
             "Equations::",
             "",
             "    |h_t| = **kwargs_",
             "back to text"]
    safe = make_safe(lines)
    assert safe[0] == r"Relative error \|a - n\| / max(\|a\|, \|n\|), as torch's clip_grad_norm\_."
    assert safe[1] == (r"kind, readout, \*\*kwargs: passed on; *before* clipping and **bold** "
                       "stay.")
    assert safe[2:8] == ["train: one of", "", lines[3], lines[4], "", "val: after the list"]
    assert "    |h_t| = **kwargs_" in safe  # literal blocks are left alone
    assert rst_problems("\n".join(lines)) != []
    assert rst_problems("\n".join(safe)) == []


def test_a_plain_text_table_is_shown_as_written():
    lines = ["Modules:", "    tasks       adding problem, copy memory,",
             "                temporal order", "    vocab       Vocab", "Text after."]
    assert rst_problems("\n".join(lines)) != []
    safe = make_safe(lines)
    assert safe[:3] == ["Modules::", "", lines[1]] and safe[-2:] == ["", "Text after."]
    assert rst_problems("\n".join(safe)) == []
    keys = ["Keys:", "    * a: one", "      continued", "    * b: two"]  # a list stays a list
    assert make_safe(keys)[0] == "Keys:"


def test_roles_and_directives_are_not_problems():
    assert rst_problems("See :func:`fit` and :class:`~lstm_lib.train.History`.\n\n"
                        ".. versionadded:: 0.1\n") == []
    assert rst_problems("text\n    unexpectedly indented\n  and back\n") != []


def test_references_are_retried_through_the_exporting_module():
    assert list(public_candidates("lstm_lib.reference._cell.Cell"))[:2] == [
        "lstm_lib.reference.Cell", "lstm_lib.Cell"]
    assert "lstm_lib.nn.LSTM.forward" in public_candidates("lstm_lib.nn.layers.LSTM.forward")


@pytest.mark.slow
@pytest.mark.book
def test_api_pages_build_strictly(tmp_path):
    """Only the reference pages (and the pages they link), strictly, no chapter executed."""
    fork = "https://github.com/a-fork/lstm-notes"
    config = yaml.safe_load(write_build_config(tmp_path, fork).read_text())
    config["execute"]["execute_notebooks"] = "off"
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    sections = [{"file": page} for page in _api_toc_pages()]
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": "chapters/api/index",
        "chapters": [{"file": "chapters/notation"}, {"file": "chapters/bibliography"}, *sections]}))
    command = build_command(tmp_path, ROOT, tmp_path / "_config.yml")
    command[command.index("build") + 1:command.index("build") + 1] = [
        "--toc", str(tmp_path / "_toc.yml")]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, "\n".join(
        line for line in log.splitlines() if "WARNING" in line or "ERROR" in line) or log[-3000:]
    html = (tmp_path / "_build" / "html" / "chapters" / "api" / "train.html").read_text()
    assert 'id="lstm_lib.train.fit"' in html
    assert 'href="#lstm_lib.train.History"' in html  # a type hint linked to its class
    assert f'href="{fork}"' in html and PLACEHOLDER not in html  # the repository button


# ---------------------------------------------------------------- one repository URL


@pytest.mark.parametrize("remote", [
    "https://github.com/someone/lstm-book", "https://github.com/someone/lstm-book.git",
    "https://x-access-token:secret@github.com/someone/lstm-book.git",
    "git@github.com:someone/lstm-book.git", "ssh://git@github.com/someone/lstm-book.git",
    "https://github.com/someone/lstm-book/"])
def test_github_remotes_become_the_repository_page(remote):
    assert github_url(remote) == "https://github.com/someone/lstm-book"


def test_repository_url_prefers_the_variable_then_a_github_origin_then_the_default():
    fork = "git@github.com:fork/book.git"
    assert repository_url({}, None, PLACEHOLDER) == PLACEHOLDER
    assert repository_url({}, fork, PLACEHOLDER) == "https://github.com/fork/book"
    assert repository_url({}, "https://gitlab.com/a/b.git", PLACEHOLDER) == PLACEHOLDER
    assert repository_url({}, "/srv/git/book.git", PLACEHOLDER) == PLACEHOLDER
    env = {REPOSITORY_ENV: "https://github.com/mine/notes.git"}
    assert repository_url(env, fork, PLACEHOLDER) == "https://github.com/mine/notes"
    assert repository_url({REPOSITORY_ENV: "  "}, fork, PLACEHOLDER) == "https://github.com/fork/book"
    with pytest.raises(ValueError, match=REPOSITORY_ENV):
        repository_url({REPOSITORY_ENV: "mine/notes"}, None, PLACEHOLDER)


def test_the_default_is_a_github_repository_in_config():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert github_url(config["repository"]["url"]) == config["repository"]["url"]
    assert configured_repository(ROOT, {REPOSITORY_ENV: "https://github.com/a/b"}) == (
        "https://github.com/a/b")


def test_the_build_reads_the_url_from_the_generated_config(tmp_path):
    from jupyter_book.config import get_final_config

    url = "https://github.com/a-fork/lstm-notes"
    path = write_build_config(tmp_path, url)
    assert path == tmp_path / "_build" / "config" / "_config.yml"
    ours = yaml.safe_load((ROOT / "_config.yml").read_text())
    generated = yaml.safe_load(path.read_text())
    assert generated["repository"]["url"] == url
    assert {k: v for k, v in generated.items() if k not in ("repository", "sphinx")} == {
        k: v for k, v in ours.items() if k not in ("repository", "sphinx")}
    for name, where in generated["sphinx"]["local_extensions"].items():
        assert (Path(where) / f"{name}.py").is_file(), name
    before = list(sys.path)
    try:
        config, _ = get_final_config(user_yaml=path, sourcedir=ROOT,
                                     cli_config={"latex_individualpages": False},
                                     validate=True, raise_on_invalid=True)
    finally:
        sys.path[:] = before
    theme = config["html_theme_options"]
    assert theme["repository_url"] == url
    assert theme["use_repository_button"] and theme["use_issues_button"]
    assert theme["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    command = build_command(tmp_path, ROOT, path)
    assert command[command.index("--config") + 1] == str(path)


def test_make_book_builds_with_the_generated_config(tmp_path, monkeypatch):
    import tools.book as book

    calls = []
    monkeypatch.setattr(book.subprocess, "call", lambda command, **kw: calls.append(command) or 1)
    monkeypatch.setenv(REPOSITORY_ENV, "https://github.com/a-fork/lstm-notes")
    assert book.build(tmp_path, jobs=1) == 1
    (command,) = calls
    config = Path(command[command.index("--config") + 1])
    assert yaml.safe_load(config.read_text())["repository"]["url"] == (
        "https://github.com/a-fork/lstm-notes")


def test_a_malformed_repository_variable_stops_make_book_before_it_executes(monkeypatch, capsys):
    import tools.book as book

    monkeypatch.setenv(REPOSITORY_ENV, "not a url")
    monkeypatch.setattr(book, "build", lambda *a, **kw: pytest.fail("build must not start"))
    assert book.main([]) == 2
    assert REPOSITORY_ENV in capsys.readouterr().err


# ---------------------------------------------------------------- reading comfort


def _css_rules(css: str) -> dict[str, str]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    return {selector.strip(): body for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css)
            for selector in selectors.split(",")}


def test_reading_css_is_on_every_page_and_says_what_it_should():
    from jupyter_book.config import get_final_config

    config, _ = get_final_config(user_yaml=ROOT / "_config.yml", sourcedir=ROOT,
                                 cli_config={"latex_individualpages": False})
    assert "_static" in config["html_static_path"]
    assert "reading.css" in config["html_css_files"]
    rules = _css_rules((ROOT / "_static" / "reading.css").read_text())
    assert "overflow-x: auto" in rules["div.MathJax_Display"]  # MathJax 2 display equations
    assert "overflow-x: auto" in rules["div.math"]
    assert "white-space: pre-wrap" in rules["div.cell_input pre"]
    assert "max-width: 100%" in rules["div.cell_output img"]


# ---------------------------------------------------------------- the workflows


def _workflow(name: str) -> dict:
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads a bare `on` as True
    return data


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _uses(workflow: dict) -> list[str]:
    return [step["uses"].split("@")[0] for step in _steps(workflow) if "uses" in step]


def test_book_workflow_builds_on_main_and_deploys_to_pages():
    flow = _workflow("book.yml")
    assert flow["on"]["push"]["branches"] == ["main"]
    assert flow["permissions"]["pages"] == "write" and flow["permissions"]["id-token"] == "write"
    assert flow["concurrency"]["group"]
    runs = [step["run"] for step in _steps(flow) if "run" in step]
    assert "make book" in runs
    assert {"actions/checkout", "actions/setup-python", "actions/cache",
            "actions/configure-pages", "actions/upload-pages-artifact",
            "actions/deploy-pages"} <= set(_uses(flow))
    (python,) = [s for s in _steps(flow) if s.get("uses", "").startswith("actions/setup-python")]
    assert python["with"]["python-version"] == "3.11"
    (upload,) = [s for s in _steps(flow) if "upload-pages-artifact" in s.get("uses", "")]
    assert upload["with"]["path"] == "_build/html"
    caches = [s["with"] for s in _steps(flow) if s.get("uses", "").startswith("actions/cache")]
    venv = [c for c in caches if c["path"] == ".venv"]
    assert venv and "hashFiles('requirements.txt', 'pyproject.toml')" in venv[0]["key"]
    assert any("_build/.jupyter_cache" in c["path"] for c in caches)
    # the execution cache is only kept with the fingerprint that tools/book.py checks
    assert any("_build/lstm_lib.sha256" in c["path"] for c in caches)
    deploy = flow["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"


def test_book_workflow_publishes_the_notebooks_where_the_colab_button_points():
    from tools.colab_button import NOTEBOOKS_BRANCH

    flow = _workflow("book.yml")
    build = flow["jobs"]["build"]["steps"]
    runs = [step.get("run") for step in build]
    assert runs.index("make notebooks") > runs.index("make book")  # it reads make book's cache
    # ... and replaces the site's .ipynb downloads, so it must run before the site is uploaded
    pages = [k for k, s in enumerate(build) if "upload-pages-artifact" in s.get("uses", "")]
    assert runs.index("make notebooks") < pages[0]
    (upload,) = [s for s in build if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["path"] == "_build/notebooks"
    job = flow["jobs"]["notebooks"]
    assert job["needs"] == "build" and job["permissions"] == {"contents": "write"}
    (download,) = [s for s in job["steps"] if "download-artifact" in s.get("uses", "")]
    assert download["with"]["name"] == upload["with"]["name"]
    (push,) = [s for s in job["steps"] if "git push" in s.get("run", "")]
    assert push["working-directory"] == download["with"]["path"]
    assert f"git init -q -b {NOTEBOOKS_BRANCH}" in push["run"]
    assert re.search(rf"git push --force \S+ {NOTEBOOKS_BRANCH}$", push["run"].strip())
    assert push["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    # only the publishing job may write to the repository
    assert flow["permissions"]["contents"] == "read" and "permissions" not in flow["jobs"]["build"]


def test_test_workflow_runs_ci_on_pull_requests():
    flow = _workflow("test.yml")
    assert "pull_request" in flow["on"]
    runs = [step["run"] for step in _steps(flow) if "run" in step]
    assert "bash .ci/run" in runs
    assert "make test" in (ROOT / ".ci" / "run").read_text()
