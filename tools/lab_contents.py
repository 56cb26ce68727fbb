"""JupyterLab opens a chapter with its check cells and solution code collapsed.

The book hides two kinds of code cells that JupyterLab would show in full: the checks of the
text's claims (tagged ``remove-cell``, each starting with a comment line that says what it checks)
and the code of a gated solution (between ``solution-start`` and ``solution-end``).
:class:`ChapterContentsManager` is Jupytext's contents manager with one addition: a notebook it
reads gets ``metadata.jupyter.source_hidden`` on those cells (and on ``hide-input`` cells), so
JupyterLab shows each as a collapsed input under its comment, one click to expand; saving takes
the flag off again, and a chapter whose cells the reader did not edit is not rewritten at all
(JupyterLab's autosave would otherwise give it Jupytext's header), so the chapter's text never
changes because it was opened or run.

``make lab`` and Binder's ``postBuild`` start JupyterLab with it (``tools/lab_settings.py``
writes the server setting); jupyterlab-myst renders the markdown (exercises, dropdown solutions,
admonitions, math) in the same session.
"""

from __future__ import annotations

import re

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupytext.async_contentsmanager import build_async_jupytext_contents_manager_class

HIDDEN_TAGS = {"remove-cell", "hide-input", "hide-cell", "remove-input"}
MARK = "lstm_book_collapsed"  # cell metadata: we set source_hidden, so we take it off on save


def cells_to_collapse(cells: list) -> list[int]:
    """Indices of the code cells shown collapsed: hidden checks, hide-input, solution code."""
    indices, in_solution = [], False
    for k, cell in enumerate(cells):
        if cell["cell_type"] == "markdown":
            for match in re.finditer(r"^:{3,}\{(solution-start|solution-end)\}", cell["source"],
                                     re.M):
                in_solution = match[1] == "solution-start"
        elif cell["cell_type"] == "code" and (
                in_solution or HIDDEN_TAGS & set(cell["metadata"].get("tags", []))):
            indices.append(k)
    return indices


def collapse(notebook: dict) -> dict:
    """Mark ``notebook``'s (a JSON model's content) cells of :func:`cells_to_collapse` hidden."""
    for k in cells_to_collapse(notebook["cells"]):
        metadata = notebook["cells"][k]["metadata"]
        jupyter = metadata.setdefault("jupyter", {})
        if "source_hidden" not in jupyter:
            jupyter["source_hidden"] = True
            metadata[MARK] = True
    return notebook


def uncollapse(notebook: dict) -> dict:
    """Undo :func:`collapse` (whether or not the reader expanded the cell since)."""
    for cell in notebook["cells"]:
        metadata = cell["metadata"]
        if metadata.pop(MARK, False):
            jupyter = metadata.get("jupyter", {})
            jupyter.pop("source_hidden", None)
            if not jupyter:
                metadata.pop("jupyter", None)
    return notebook


_Jupytext = build_async_jupytext_contents_manager_class(AsyncLargeFileManager)


class ChapterContentsManager(_Jupytext):
    """Jupytext's contents manager; notebooks arrive collapsed (:func:`collapse`)."""

    async def get(self, path, content=True, type=None, format=None, **kwargs):  # noqa: A002
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        if content and model.get("type") == "notebook" and model.get("content"):
            collapse(model["content"])
        return model

    async def save(self, model, path=""):
        if model.get("type") == "notebook" and model.get("content"):
            uncollapse(model["content"])
            if await self._unchanged(model["content"], path):
                # JupyterLab autosaves a chapter it merely opened (running it, choosing a
                # kernel); Jupytext would rewrite its header: leave the file as it is
                return await super().get(path, content=False)
        return await super().save(model, path)

    async def _unchanged(self, notebook: dict, path: str) -> bool:
        """Whether ``notebook`` has the cells (type, source, tags) of the text file ``path``."""
        if not path.endswith(".md") or not await self.file_exists(path):
            return False
        on_disk = (await super().get(path, content=True, type="notebook"))["content"]

        def cells(nb: dict) -> list:  # a source may arrive as a list of lines (nbformat JSON)
            return [(c["cell_type"], "".join(c["source"]), c["metadata"].get("tags", []))
                    for c in nb["cells"]]

        return cells(on_disk) == cells(notebook)
