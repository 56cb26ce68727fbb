"""Make JupyterLab open the chapters (MyST markdown) as notebooks with one click.

Writes JupyterLab's settings overrides (``<venv>/share/jupyter/lab/settings/overrides.json``) so
that Jupytext's notebook view is the default viewer for ``.md`` files. ``make venv`` runs this
for the repository's virtual environment and ``.binder/postBuild`` for Binder's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OVERRIDES = {
    "@jupyterlab/docmanager-extension:plugin": {
        "defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}
    }
}


def write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    for plugin, settings in OVERRIDES.items():
        current.setdefault(plugin, {}).update(settings)
    path.write_text(json.dumps(current, indent=2) + "\n")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else (
        Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json")
    write(target)
    print(f"JupyterLab opens .md chapters as notebooks (settings in {target})")
