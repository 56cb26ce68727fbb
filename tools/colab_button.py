"""Sphinx extension: an "Open in Colab" launch button on every chapter page.

sphinx-book-theme's own Colab button opens the page's *source* from the book's branch
(``chapters/05_lstm_gates.md``), which Colab cannot read. Ours opens the executed notebook that
``make notebooks`` writes (``tools/notebooks.py``) and the deploy workflow publishes on the
``notebooks`` branch::

    https://colab.research.google.com/github/OWNER/NAME/blob/notebooks/05_lstm_gates.ipynb

OWNER/NAME come from ``repository.url``, the one repository setting that ``tools/book.py``
fills (``$LSTM_BOOK_REPOSITORY``, else the git remote). The button joins the theme's launch
menu (next to Binder) on every page that is a notebook; a repository that is not on GitHub
gets none, since Colab only opens notebooks from GitHub.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from sphinx.application import Sphinx

NOTEBOOKS_BRANCH = "notebooks"
COLAB = "https://colab.research.google.com"
_GITHUB_PAGE = re.compile(r"^https://github\.com/(?P<owner>[\w.-]+)/(?P<name>[\w.-]+?)/?$")


def notebook_name(pagename: str) -> str:
    """The published notebook of a page: ``chapters/05_lstm_gates`` -> ``05_lstm_gates.ipynb``."""
    return f"{PurePosixPath(pagename).name}.ipynb"


def colab_url(repository_url: str, pagename: str, branch: str = NOTEBOOKS_BRANCH) -> str | None:
    """Colab's address of the page's notebook on ``branch``; None if the repository is not on
    GitHub (``repository_url`` as ``tools/book.py`` writes it: ``https://github.com/OWNER/NAME``).
    """
    match = _GITHUB_PAGE.match(repository_url.strip())
    if match is None:
        return None
    return (f"{COLAB}/github/{match['owner']}/{match['name']}/blob/{branch}/"
            f"{notebook_name(pagename)}")


def _add_button(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if "kernelspec" not in app.env.metadata.get(pagename, {}):  # not a notebook page
        return
    url = colab_url(app.config.html_theme_options.get("repository_url", ""), pagename)
    buttons = context.get("header_buttons")
    if url is None or buttons is None:
        return
    button = {"type": "link", "text": "Colab", "tooltip": "Open in Colab (free GPU)",
              "icon": "_static/images/logo_colab.png", "url": url, "label": "colab-button"}
    groups = [b for b in buttons if b.get("label") == "launch-buttons"]
    if groups:
        groups[0]["buttons"].append(button)
    else:
        buttons.append({"type": "group", "tooltip": "Launch interactive content",
                        "icon": "fas fa-rocket", "buttons": [button], "label": "launch-buttons"})


def setup(app: Sphinx) -> dict:
    # after sphinx-book-theme's add_launch_buttons (priority 501) made the launch menu
    app.connect("html-page-context", _add_button, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
