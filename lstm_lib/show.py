"""Show library source next to the equations in a chapter (the library is the single source)."""

from __future__ import annotations

import inspect
from typing import Any


def show_source(obj: Any):
    """Return ``obj``'s source as an ``IPython.display.Code`` block, syntax-highlighted.

    A chapter calls ``show_source(lstm_step_forward)`` instead of retyping the function, so the
    code a reader sees is the code the tests check.
    """
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
