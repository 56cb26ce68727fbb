"""Write the executed chapters as plain Jupyter notebooks: ``make notebooks``.

``python tools/notebooks.py [--out DIR] [--cache DIR]`` writes one ``.ipynb`` per chapter (every
page of ``_toc.yml`` that is a MyST notebook) into ``_build/notebooks/``, for Colab (the deploy
workflow publishes them on the ``notebooks`` branch, and each page's "Colab" button opens its
notebook there, see ``tools/colab_button.py``) and for readers who download a chapter:

* **Outputs included**: code cells carry the outputs of ``make book``'s execution, read from
  Jupyter Book's cache (``_build/.jupyter_cache``). A chapter that is not in the cache, or a cache
  made from another version of the library, stops with a message to run ``make book`` first.
* **A first cell that installs the library**: ``import lstm_lib``, and where that fails (Colab,
  a downloaded copy) ``%pip install`` of the repository, whose URL is the one setting
  ``tools/book.py`` uses (:func:`tools.book.configured_repository`); then it prints the device
  that ``lstm_lib.default_device()`` picked, so Colab's GPU is used. The notebook asks Colab for
  a GPU runtime (``metadata.accelerator``).
* **Hidden checks removed**: cells tagged ``remove-cell`` (the book's checks of its own claims)
  are dropped, except one that defines a name a later cell reads: that one stays, collapsed.
  ``hide-input``/``remove-input`` cells and the code of a solution are collapsed
  (``metadata.jupyter.source_hidden``); ``remove-output`` cells lose their outputs.
* **The site's downloads**: where ``make book`` built the site, its ".ipynb" download of each
  chapter (``_build/html/_sources/``) is replaced by the same notebook.
* **MyST made plain**: markdown cells are rewritten (:class:`MarkdownConverter`) so that plain
  Jupyter and Colab show them readably: exercises become headings ("Exercise 5.1"), dropdown
  solutions ``<details>`` blocks, admonitions quotes, ``{cite:t}`key``` "Author (year)",
  ``{ref}``, ``{doc}`` and ``{eq}`` the title or number they point at, ``(label)=`` lines go, and
  labelled equations get the book's number as a ``\\tag``.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `tools.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.colab_button import notebook_name

ROOT = Path(__file__).resolve().parents[1]
INSTALL_TAG = "install-lstm-lib"

# ------------------------------------------------------------------ what the chapters define


@dataclass
class BookIndex:
    """What a chapter's references resolve to, gathered from every page of the book.

    ``titles``: label or page name -> title ("Exercise 5.1" for an exercise);
    ``equations``: equation label -> number ("2.3"); ``citations``: bibtex key -> (authors, year).
    """

    titles: dict[str, str] = field(default_factory=dict)
    equations: dict[str, str] = field(default_factory=dict)
    citations: dict[str, tuple[str, str]] = field(default_factory=dict)


def chapter_number(path: Path) -> str | None:
    """``05_lstm_gates.md`` -> ``"5"``; None for an unnumbered page (``intro.md``)."""
    match = re.match(r"(\d+)_", path.name)
    return str(int(match[1])) if match else None


_LABEL = re.compile(r"^\((?P<label>[^()\s]+)\)=\s*$")
_HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")
_EQ_LABEL = re.compile(r"\$\$\s*\((?P<label>[\w:.-]+)\)")
_EXERCISE = re.compile(r"^:{3,}\{(?:exercise|exercise-start)\}")
_OPTION_LABEL = re.compile(r"^:label:\s*(?P<label>\S+)")


def index_page(path: Path, index: BookIndex) -> None:
    """Add ``path``'s labels, headings, equations and exercises to ``index``."""
    number = chapter_number(path)
    prefix = f"{number}." if number else ""
    lines = path.read_text(encoding="utf-8").splitlines()
    headings = [m["title"] for m in map(_HEADING.match, lines) if m]
    if headings:
        index.titles.setdefault(path.stem, headings[0])
    equations = exercises = 0
    for k, line in enumerate(lines):
        if (label := _LABEL.match(line)) and k + 1 < len(lines):
            heading = _HEADING.match(lines[k + 1])
            index.titles[label["label"]] = heading["title"] if heading else label["label"]
        for match in _EQ_LABEL.finditer(line):
            equations += 1
            index.equations[match["label"]] = f"{prefix}{equations}"
        if _EXERCISE.match(line):
            exercises += 1
            for option in lines[k + 1:k + 4]:
                if label := _OPTION_LABEL.match(option):
                    index.titles[label["label"]] = f"Exercise {prefix}{exercises}"


def read_citations(bibfile: Path) -> dict[str, tuple[str, str]]:
    """bibtex key -> ("Hochreiter and Schmidhuber", "1997"), "Greff et al." for three or more."""
    from pybtex.database import parse_file

    def last(person) -> str:
        names = person.last_names or person.first_names or [str(person)]
        return " ".join(names).replace("{", "").replace("}", "")

    result = {}
    for key, entry in parse_file(str(bibfile)).entries.items():
        people = [last(p) for p in entry.persons.get("author", entry.persons.get("editor", []))]
        if not people:
            authors = entry.fields.get("organization", entry.fields.get("title", key))
        elif len(people) == 1:
            authors = people[0]
        elif len(people) == 2:
            authors = " and ".join(people)
        else:
            authors = f"{people[0]} et al."
        result[key] = (authors.replace("{", "").replace("}", ""), entry.fields.get("year", "n.d."))
    return result


def index_book(pages: list[Path], bibfile: Path | None) -> BookIndex:
    """The :class:`BookIndex` of ``pages`` and the bibliography ``bibfile`` (if any)."""
    index = BookIndex()
    for page in pages:
        index_page(page, index)
    if bibfile is not None and bibfile.exists():
        index.citations = read_citations(bibfile)
    return index


# ------------------------------------------------------------------ MyST -> plain markdown

_ROLE = re.compile(r"\{(?P<role>[\w:+-]+)\}`(?P<content>[^`]*)`")
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<marks>`{3,}|~{3,})(?P<info>.*)$")
_COLON_OPEN = re.compile(r"^(?P<colons>:{3,})\{(?P<name>[\w:-]+)\}\s*(?P<argument>.*)$")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention", "danger",
               "error", "seealso"}


class MarkdownConverter:
    """Rewrites one chapter's markdown cells, in order, into markdown plain Jupyter renders.

    It remembers whether a gated solution (``solution-start`` ... ``solution-end``, spanning
    code cells) is open: :attr:`in_solution`.
    """

    def __init__(self, index: BookIndex) -> None:
        self.index = index
        self.in_solution = False

    # roles ---------------------------------------------------------------------------
    def _cite(self, keys: str, textual: bool) -> str:
        parts = []
        for key in (k.strip() for k in keys.split(",") if k.strip()):
            authors, year = self.index.citations.get(key, (key, ""))
            parts.append(f"{authors} ({year})" if textual else f"{authors}, {year}".rstrip(", "))
        return "; ".join(parts) if textual else f"({'; '.join(parts)})"

    def _role(self, match: re.Match) -> str:
        role, content = match["role"], match["content"]
        explicit = re.match(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", content, re.S)
        text, target = (explicit["text"], explicit["target"]) if explicit else (None, content)
        if role in ("cite:p", "cite:ps", "cite"):
            return self._cite(target, textual=False)
        if role in ("cite:t", "cite:ts"):
            return self._cite(target, textual=True)
        if role in ("eq", "numref"):
            number = self.index.equations.get(target)
            return text or (f"({number})" if number else f"({target})")
        if role in ("ref", "doc", "term"):
            if text:
                return text
            key = target.split("/")[-1].removesuffix(".md")
            return f"*{self.index.titles.get(key, key)}*"
        if role.startswith("py:") or role in ("func", "class", "meth", "mod", "attr", "data",
                                              "obj", "exc"):
            shown = text or (target.lstrip("~").split(".")[-1] if target.startswith("~")
                             else target)
            return f"`{shown}`"
        if role in ("math",):
            return f"${content}$"
        return text or content

    def _inline(self, line: str) -> str:
        """Roles replaced outside code spans."""
        pieces = re.split(r"(`+[^`]*`+)", line)
        out, k = [], 0
        # a role is `{name}` followed by a code span: rejoin them before substituting
        while k < len(pieces):
            piece = pieces[k]
            if k + 1 < len(pieces) and re.search(r"\{[\w:+-]+\}$", piece):
                combined = _ROLE.sub(self._role, piece + pieces[k + 1])
                out.append(combined)
                k += 2
                continue
            out.append(piece if piece.startswith("`") else _ROLE.sub(self._role, piece))
            k += 1
        return "".join(out)

    # blocks --------------------------------------------------------------------------
    def _equation(self, body: str, label: str | None) -> str:
        number = self.index.equations.get(label) if label else None
        tag = f" \\tag{{{number}}}" if number else ""
        return f"$${body.rstrip()}{tag}\n$$"

    def _directive(self, name: str, argument: str, options: dict[str, str],
                   body: list[str]) -> list[str]:
        inner = self.convert_lines(body)
        label = options.get("label")
        dropdown = "dropdown" in options.get("class", "").split()
        if name in ("exercise", "exercise-start"):
            title = self.index.titles.get(label, "Exercise") if label else "Exercise"
            return [f"#### {title}" + (f" ({argument})" if argument else ""), "", *inner]
        if name in ("exercise-end", "solution-end"):
            if name == "solution-end":
                self.in_solution = False
            return []
        if name in ("solution", "solution-start"):
            exercise = self.index.titles.get(argument.strip(), "the exercise")
            summary = f"Solution to {exercise}"
            if name == "solution-start":
                self.in_solution = True
                return [f"#### {summary}"]
            if dropdown:
                return [f"<details><summary>{summary}</summary>", "", *inner, "", "</details>"]
            return [f"#### {summary}", "", *inner]
        if name in ("math",):
            return self._equation("\n".join(body), label).splitlines()
        if name in ("bibliography", "tableofcontents", "nb-exec-table"):
            return []
        if name in ("code", "code-block", "code-cell"):
            return [f"```{argument.split()[0] if argument else ''}", *body, "```"]
        title = argument if name == "admonition" else (name.capitalize() if name in ADMONITIONS
                                                        else argument)
        if dropdown:
            return [f"<details><summary>{title or 'Details'}</summary>", "", *inner, "",
                    "</details>"]
        if name == "admonition" or name in ADMONITIONS:
            quoted = [f"**{title}**", "", *inner] if title else inner
            return [f"> {line}".rstrip() for line in quoted]
        return ([f"**{title}**", ""] if title else []) + inner

    @staticmethod
    def _options(lines: list[str], start: int) -> tuple[dict[str, str], int]:
        options, k = {}, start
        if k < len(lines) and lines[k].strip() == "---":  # a YAML block of options
            end = next((j for j in range(k + 1, len(lines)) if lines[j].strip() == "---"), k)
            import yaml

            options = {str(a): str(b) for a, b in (yaml.safe_load(
                "\n".join(lines[k + 1:end])) or {}).items()}
            return options, end + 1
        while k < len(lines) and (option := _OPTION.match(lines[k])):
            options[option["key"]] = option["value"].strip()
            k += 1
        return options, k

    def convert_lines(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        text: list[str] = []  # plain lines, converted together: a role may span a line break

        def flush() -> None:
            if text:
                out.extend(self._inline("\n".join(text)).split("\n"))
                text.clear()

        k = 0
        while k < len(lines):
            line = lines[k]
            if not (_LABEL.match(line) or _COLON_OPEN.match(line) or _FENCE.match(line)
                    or line.strip().startswith("$$")):
                text.append(line)
                k += 1
                continue
            flush()
            if _LABEL.match(line):
                k += 1
                continue
            if colon := _COLON_OPEN.match(line):
                options, j = self._options(lines, k + 1)
                body, depth, fence = [], len(colon["colons"]), None
                while j < len(lines):
                    if fence is None and re.match(rf"^:{{{depth},}}\s*$", lines[j]):
                        break
                    if m := _FENCE.match(lines[j]):
                        fence = (None if fence and m["marks"].startswith(fence)
                                 and not m["info"].strip() else fence or m["marks"])
                    body.append(lines[j])
                    j += 1
                out += self._directive(colon["name"], colon["argument"].strip(), options, body)
                k = j + 1
                continue
            if fence := _FENCE.match(line):
                marks, info = fence["marks"], fence["info"].strip()
                end = next((j for j in range(k + 1, len(lines))
                            if lines[j].strip().startswith(marks)
                            and not lines[j].strip()[len(marks):].strip()), len(lines))
                body = lines[k + 1:end]
                directive = re.match(r"^\{(?P<name>[\w:-]+)\}\s*(?P<argument>.*)$", info)
                if directive:
                    options, start = self._options(body, 0)
                    out += self._directive(directive["name"], directive["argument"].strip(),
                                           options, body[start:])
                else:
                    out += [line, *body, lines[end] if end < len(lines) else marks]
                k = end + 1
                continue
            if line.strip().startswith("$$"):  # display math, maybe with a label after it
                end = k if line.strip() != "$$" and line.strip().endswith("$$") and len(
                    line.strip()) > 2 else next((j for j in range(k + 1, len(lines))
                                                 if "$$" in lines[j]), None)
                if end is not None:
                    block = "\n".join(lines[k:end + 1])
                    match = re.match(r"^\s*\$\$(?P<body>.*)\$\$\s*(?:\((?P<label>[^()\s]+)\))?"
                                     r"\s*$", block, re.S)
                    if match:
                        out += self._equation(match["body"], match["label"]).splitlines()
                        k = end + 1
                        continue
            text.append(line)
            k += 1
        flush()
        return out

    def convert(self, text: str) -> str:
        """One markdown cell's text, MyST made plain."""
        lines = self.convert_lines(text.splitlines())
        result = "\n".join(lines).strip("\n")
        return re.sub(r"\n{3,}", "\n\n", result)


# ------------------------------------------------------------------ cells


def install_cell_source(repository: str, branch: str) -> str:
    """The notebook's first cell: lstm_lib from the repository if it is not importable."""
    return (
        "# Setup (Colab, or a downloaded copy): install lstm_lib, the book's library, if it is\n"
        "# missing, and show where it computes. In Colab choose Runtime > Change runtime type >\n"
        "# GPU first: lstm_lib.default_device() then picks CUDA.\n"
        "try:\n"
        "    import lstm_lib\n"
        "except ImportError:\n"
        f'    %pip install --quiet "lstm_lib[widgets,study] @ git+{repository}@{branch}"\n'
        "    import lstm_lib\n"
        'print("lstm_lib computes on", lstm_lib.default_device())'
    )


def _stored_names(source: str) -> set[str]:
    try:
        tree = ast.parse(re.sub(r"^\s*[%!].*$", "", source, flags=re.M))
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _loaded_names(source: str) -> set[str]:
    try:
        tree = ast.parse(re.sub(r"^\s*[%!].*$", "", source, flags=re.M))
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def needed_hidden_cells(cells: list) -> set[int]:
    """Indices of ``remove-cell`` code cells that define a name a later kept cell reads first."""
    defined: dict[str, int] = {}  # name -> the removed cell that last defined it
    needed = set()
    for k, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        stored = _stored_names(cell.source)
        if "remove-cell" in cell.metadata.get("tags", []):
            defined.update(dict.fromkeys(stored, k))
            continue
        needed |= {defined[n] for n in _loaded_names(cell.source) - stored if n in defined}
        for name in stored:
            defined.pop(name, None)
    return needed


def _hide_source(cell) -> None:
    cell.metadata.setdefault("jupyter", {})["source_hidden"] = True


def convert_notebook(nb, index: BookIndex, install_source: str):
    """The executed chapter ``nb`` (nbformat v4) as a notebook for Colab and downloads."""
    import nbformat

    nb = copy.deepcopy(nb)
    converter = MarkdownConverter(index)
    keep_hidden = needed_hidden_cells(nb.cells)
    cells = []
    for k, cell in enumerate(nb.cells):
        tags = set(cell.metadata.get("tags", []))
        if "remove-cell" in tags and k not in keep_hidden:
            continue
        if cell.cell_type == "markdown":
            cell.source = converter.convert(cell.source)
            if not cell.source.strip():
                continue
        elif cell.cell_type == "code":
            if k in keep_hidden or tags & {"hide-input", "remove-input", "hide-cell"} or (
                    converter.in_solution):
                _hide_source(cell)
            if tags & {"hide-output", "hide-cell"}:
                cell.metadata.setdefault("jupyter", {})["outputs_hidden"] = True
            if "remove-output" in tags:
                cell.outputs = []
        cells.append(cell)
    install = nbformat.v4.new_code_cell(install_source, metadata={"tags": [INSTALL_TAG]})
    nb.cells = [install, *cells]
    nb.metadata = {key: value for key, value in nb.metadata.items()
                   if key in ("kernelspec", "language_info")}
    nb.metadata.setdefault("kernelspec", {"display_name": "Python 3", "language": "python",
                                          "name": "python3"})
    nb.metadata["accelerator"] = "GPU"  # Colab opens it on a GPU runtime
    nb.metadata["colab"] = {"provenance": []}
    nb.nbformat, nb.nbformat_minor = 4, 5
    for cell in nb.cells:  # fresh ids, as nbformat 4.5 wants
        cell.id = nbformat.corpus.words.generate_corpus_id()
    nbformat.validate(nb)
    return nb


# ------------------------------------------------------------------ the cache and the files


class NotExecutedError(RuntimeError):
    """A chapter has no executed version in the cache."""


def cached_notebook(path: Path, cache_path: Path):
    """``path``'s notebook with the outputs that ``make book`` stored in ``cache_path``."""
    from jupyter_cache import get_cache

    from tools.preexecute import read_notebook

    notebook = read_notebook(path)
    if not (cache_path / "global.db").exists():
        raise NotExecutedError(f"no Jupyter cache at {cache_path}: run `make book` first")
    try:
        _, merged = get_cache(str(cache_path)).merge_match_into_notebook(notebook)
    except KeyError:
        raise NotExecutedError(f"{path.name} is not in the Jupyter cache {cache_path} (it changed "
                               "since the last build): run `make book` first") from None
    return merged


def write_notebooks(out: Path, cache_path: Path, repository: str, branch: str,
                    root: Path = ROOT, check_fingerprint: bool = True) -> list[Path]:
    """Write every chapter's notebook into ``out``; returns the paths, in reading order.

    Raises NotExecutedError, naming every chapter missing from ``cache_path`` (or a cache built
    from another library version when ``check_fingerprint``), before anything is written.
    """
    import nbformat

    from tools.book import FINGERPRINT_NAME, fingerprint
    from tools.preexecute import notebook_chapters

    if not (cache_path / "global.db").exists():
        raise NotExecutedError(f"no Jupyter cache at {cache_path}: run `make book` first")
    if check_fingerprint:
        stamp = cache_path.parent / FINGERPRINT_NAME
        if not stamp.exists() or stamp.read_text().strip() != fingerprint(root):
            raise NotExecutedError(f"the cache {cache_path} was not made by `make book` from this "
                                   "lstm_lib, tools/ and _config.yml: run `make book` first")
    chapters = notebook_chapters(root)
    names = [notebook_name(str(p.relative_to(root).with_suffix(""))) for p in chapters]
    if len(set(names)) != len(names):
        raise ValueError(f"two chapters would share a notebook name: {sorted(names)}")
    executed, missing = [], []
    for path in chapters:
        try:
            executed.append(cached_notebook(path, cache_path))
        except NotExecutedError as error:
            missing.append((path, error))
    if missing:
        listed = ", ".join(p.name for p, _ in missing)
        raise NotExecutedError(f"{len(missing)} chapter(s) not executed in {cache_path}: {listed}."
                               " Run `make book` first (it fills the cache), then "
                               "`make notebooks`.")
    index = index_book(sorted((root / "chapters").glob("*.md")), root / "references.bib")
    install = install_cell_source(repository, branch)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, notebook in zip(names, executed, strict=True):
        target = out / name
        nbformat.write(convert_notebook(notebook, index, install), str(target))
        written.append(target)
    return written


def update_site_downloads(out: Path, html: Path, root: Path = ROOT) -> list[Path]:
    """Make the built site's ".ipynb" download of each chapter the notebook in ``out``.

    sphinx-book-theme offers ``html/_sources/<page>.ipynb``, the executed notebook as MyST-NB
    wrote it: no install cell, raw MyST. Each one that exists is replaced; returns those paths.
    """
    import shutil

    from tools.preexecute import notebook_chapters

    replaced = []
    for chapter in notebook_chapters(root):
        page = chapter.relative_to(root).with_suffix("")
        source, target = out / notebook_name(str(page)), html / "_sources" / f"{page}.ipynb"
        if source.exists() and target.exists():
            shutil.copyfile(source, target)
            replaced.append(target)
    return replaced


def main(argv: list[str] | None = None) -> int:
    import yaml

    from tools.book import configured_repository

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "notebooks")
    parser.add_argument("--cache", type=Path, default=ROOT / "_build" / ".jupyter_cache",
                        help="Jupyter Book's execution cache (default: make book's)")
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html",
                        help="the built site, whose .ipynb downloads are replaced (if it exists)")
    args = parser.parse_args(argv)
    try:
        repository = configured_repository(ROOT)
        branch = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["branch"]
        written = write_notebooks(args.out, args.cache, repository, branch)
    except (NotExecutedError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    print(f"{len(written)} notebooks in {args.out}; their first cell installs lstm_lib from "
          f"{repository}")
    replaced = update_site_downloads(args.out, args.html)
    if replaced:
        print(f"the site's .ipynb downloads ({len(replaced)}) are these notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
