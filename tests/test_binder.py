"""Binder's environment (.binder/) agrees with the project's and sets JupyterLab up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            (spec,) = req.specifier  # every requirement is pinned with ==
            assert spec.operator == "==", line
            pins[req.name.lower()] = spec.version.split("+")[0]  # +cpu: the CPU wheel
    return pins


def test_binder_pins_are_the_projects():
    binder, project = _pins(ROOT / ".binder" / "requirements.txt"), _pins(ROOT / "requirements.txt")
    assert {"torch", "numpy", "jupytext", "ipywidgets", "jupyterlab"} <= set(binder)
    assert {name: binder[name] for name in binder} == {name: project[name] for name in binder}


def test_binder_uses_the_cpu_wheel_of_torch():
    text = (ROOT / ".binder" / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    assert "torch==" in text and "+cpu" in text


def test_post_build_installs_the_library_and_lab_settings():
    post = ROOT / ".binder" / "postBuild"
    assert os.access(post, os.X_OK)
    text = post.read_text()
    assert "pip install --no-deps -e ." in text and "tools/lab_settings.py" in text
    assert (ROOT / ".binder" / "runtime.txt").read_text().strip() == "python-3.11"


def test_lab_settings_make_markdown_open_as_notebook(tmp_path):
    target = tmp_path / "settings" / "overrides.json"
    target.parent.mkdir()
    target.write_text(json.dumps({"other-plugin": {"x": 1}}))
    subprocess.run([sys.executable, str(ROOT / "tools" / "lab_settings.py"), str(target)],
                   check=True, capture_output=True)
    settings = json.loads(target.read_text())
    viewers = settings["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers["markdown"] == "Jupytext Notebook" and viewers["myst"] == "Jupytext Notebook"
    assert settings["other-plugin"] == {"x": 1}, "existing settings must be kept"
