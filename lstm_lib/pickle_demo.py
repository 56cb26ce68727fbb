"""A harmless demonstration that loading a pickled checkpoint can run code.

A ``.pt`` file written by ``torch.save`` is a zip archive holding a *pickle*. Unpickling calls
whatever function the file names: an object's ``__reduce__`` returns ``(function, args)``, and
the loader calls ``function(*args)`` to rebuild it. :func:`save_code_running_checkpoint` writes
a "checkpoint" whose loading calls ``print(message)``; a real attack would name ``os.system``.
``torch.load(path, weights_only=False)`` runs it; ``weights_only=True`` (the default since
PyTorch 2.6, and what :func:`lstm_lib.train.load_checkpoint` uses) refuses the file.
"""

from __future__ import annotations

import os

import torch

__all__ = ["NotAWeight", "save_code_running_checkpoint"]


class NotAWeight:
    """Unpickles by calling ``print(message)``: the whole trick is ``__reduce__``."""

    def __init__(self, message: str):
        self.message = message

    def __reduce__(self):
        return (print, (self.message,))


def save_code_running_checkpoint(path: str | os.PathLike, message: str) -> str:
    """Write a file that looks like an ``lstm_lib`` checkpoint and prints ``message`` on load."""
    if not isinstance(message, str):
        raise TypeError(f"message must be a str, got {type(message).__name__}")
    torch.save({"format": "lstm_lib.checkpoint/1", "model": NotAWeight(message)}, path)
    return os.fspath(path)
