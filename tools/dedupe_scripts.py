"""Sphinx extension: drop repeated inline scripts from each page.

sphinx-thebe 0.3.1 registers its inline configuration (``const THEBE_JS_URL = ...``) once per
``env-before-read-docs`` event, which Jupyter Book fires twice, so every page declared the same
``const`` twice and the browser reported "Identifier 'THEBE_JS_URL' has already been declared"
(found by tests/test_browser.py). Keeping the first of identical scripts fixes it.
"""

from __future__ import annotations

from sphinx.application import Sphinx


def _dedupe(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # the same inline script arrives once with filename None and once with "": compare
        # what the browser sees, the source file or the inline body
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", None) or "", tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: the builder keeps a reference to this very list


def setup(app: Sphinx) -> dict:
    # last, after sphinx-thebe, sphinx-togglebutton and sphinx.ext.mathjax added their scripts
    app.connect("html-page-context", _dedupe, priority=999)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
