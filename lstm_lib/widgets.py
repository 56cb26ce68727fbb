"""ipywidgets explorers for the chapters.

Each explorer wraps a pure, tested function from the library and redraws its figure when a
control moves. ``ipywidgets`` is imported inside the functions, so the rest of ``lstm_lib`` works
without it. On the static website a widget cannot run; chapters therefore first draw the default
view with the same plotting function, then create the explorer in a cell tagged
``remove-output`` that a reader runs in Jupyter.
"""

from __future__ import annotations
