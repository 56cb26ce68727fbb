"""Sphinx extension: typeset the book's math with a MathJax copy that ships with the site.

Sphinx loads MathJax from a CDN by default; then the site shows raw TeX offline, in a sandbox
with no internet (our build and browser tests) or behind a firewall. ``jupyter-server-mathjax``
(PyPI, pinned in requirements.txt) carries MathJax 2.7; this extension copies it into
``_static/mathjax`` and points ``mathjax_path`` at it. MyST marks the math it parsed with the
``math`` class and asks MathJax to process only those, so the v2 configuration below mirrors
what myst-parser writes for v3.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx

_CONFIG = "TeX-AMS-MML_HTMLorMML-full"
_TEX_FONT_VARIANTS = ("double-struck", "script", "bold-script", "fraktur", "bold-fraktur")


def _mathjax_dir() -> Path:
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).parent / "static"


def _configure(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    process = "tex2jax_process|mathjax_process|math|output_area"
    mj3 = app.config.mathjax3_config or {}
    process = mj3.get("options", {}).get("processHtmlClass", process)
    app.config.mathjax_path = f"mathjax/MathJax.js?config={_CONFIG}"
    app.config.mathjax2_config = {
        "tex2jax": {"processClass": process, "ignoreClass": "tex2jax_ignore|mathjax_ignore"},
        "messageStyle": "none",
        # The package ships only the STIX-Web web fonts (as Jupyter's classic notebook used
        # them); MathJax's default TeX fonts are absent and would end in "Math Processing Error".
        "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web",
                     "imageFont": None},
        # The fast preview draws formulas with MathJax's TeX fonts before the real typesetting,
        # and those fonts are not shipped either (404s for MathJax_AMS-Regular.otf).
        "fast-preview": {"disabled": True},
        "menuSettings": {"CHTMLpreview": False},
        # The hidden MathML that MathJax adds for screen readers (AssistiveMML) is styled by
        # the NativeMML output, whose @font-face rules for these variants point at TeX fonts
        # that are absent (404s for MathJax_AMS-Regular.otf on pages with a blackboard R).
        "NativeMML": {"styles": {f'[mathvariant="{variant}"]': {"font-family": "STIXGeneral, serif"}
                                 for variant in _TEX_FONT_VARIANTS}},
    }
    app.config.mathjax3_config = None  # that format is for MathJax 3; we ship 2.7


def _copy(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    if not (target / "MathJax.js").exists():
        shutil.copytree(_mathjax_dir(), target, dirs_exist_ok=True)


def setup(app: Sphinx) -> dict:
    # priority > 500: run after myst-parser's own builder-inited hook has set its classes
    app.connect("builder-inited", _configure, priority=900)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
