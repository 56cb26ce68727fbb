"""Set up JupyterLab: ``python tools/lab_settings.py [OVERRIDES] [--server-config F]``.

* Writes JupyterLab's settings overrides (default
  ``<venv>/share/jupyter/lab/settings/overrides.json``) so that Jupytext's notebook view is the
  default viewer for ``.md`` files: a chapter opens as a notebook with one click, and
  jupyterlab-myst renders its MyST markdown (exercises, solutions in collapsed dropdowns,
  admonitions, math).
* With ``--server-config PATH``, also writes a Jupyter server configuration file that makes
  :class:`tools.lab_contents.ChapterContentsManager` the contents manager, so that check cells
  and solution code open collapsed. ``make lab`` passes it to ``jupyter lab --config``;
  ``.binder/postBuild`` writes it as Binder's ``~/.jupyter/jupyter_server_config.py``.

``make venv`` runs this for the repository's virtual environment, ``make lab`` and Binder's
``postBuild`` before starting JupyterLab.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTENTS_MANAGER = "tools.lab_contents.ChapterContentsManager"
OVERRIDES = {
    "@jupyterlab/docmanager-extension:plugin": {
        "defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}
    }
}


def write(path: Path) -> None:
    """Merge :data:`OVERRIDES` into the JSON settings file ``path`` (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    for plugin, settings in OVERRIDES.items():
        current.setdefault(plugin, {}).update(settings)
    path.write_text(json.dumps(current, indent=2) + "\n")


def server_config(root: Path = ROOT) -> str:
    """A ``jupyter_server_config.py`` that serves notebooks through ``ChapterContentsManager``."""
    return ("# Written by tools/lab_settings.py: the book's chapters open with their check cells\n"
            "# and solution code collapsed (tools/lab_contents.py).\n"
            "import sys\n\n"
            f"sys.path.insert(0, {str(root)!r})  # makes `tools` importable\n"
            f"c.ServerApp.contents_manager_class = {CONTENTS_MANAGER!r}  # noqa: F821\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="?", type=Path,
                        default=Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings"
                        / "overrides.json", help="JupyterLab's settings overrides file")
    parser.add_argument("--server-config", type=Path, default=None,
                        help="also write this Jupyter server configuration file")
    args = parser.parse_args(argv)
    write(args.overrides)
    print(f"JupyterLab opens .md chapters as notebooks (settings in {args.overrides})")
    if args.server_config is not None:
        args.server_config.parent.mkdir(parents=True, exist_ok=True)
        args.server_config.write_text(server_config())
        print(f"check cells open collapsed (server configuration in {args.server_config})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
