"""``python -m lstm_lib``: see :mod:`lstm_lib.cli` (``train`` and ``info``)."""

from __future__ import annotations

from lstm_lib.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
