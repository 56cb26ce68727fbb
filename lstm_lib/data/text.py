"""A character corpus from the Python standard library, and batches for truncated BPTT.

The corpus is built from files already on every machine that runs the book, so it needs no
download. Its exact contents depend on the Python version (the standard library changes
between releases): ``PythonCorpus.python_version`` and ``PythonCorpus.sha256`` record which
text a result was obtained on.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstm_lib.data._checks import as_int_ids, check_bool, check_float, check_int
from lstm_lib.data.vocab import CharVocab

__all__ = ["BPTTBatches", "PythonCorpus", "bptt_batches", "python_source_corpus",
           "stdlib_source_files"]

# Directories whose files are not "the standard library's own source": installed packages
# and the very large, repetitive test suites.
_SKIP_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idle_test",
                        "__pycache__"})


def stdlib_source_files(root: str | os.PathLike | None = None) -> list[Path]:
    """All ``*.py`` files under the standard library, sorted by their path relative to it.

    ``root`` defaults to ``sysconfig.get_paths()["stdlib"]``. Directories named
    site-packages, dist-packages, test, tests, idle_test and __pycache__ are skipped, and so
    are the generated ``_sysconfigdata*.py`` files: they hold this machine's build variables
    and install paths, not code anybody wrote, and differ between machines with the same
    Python. The order is by POSIX relative path, so it is the same on every machine.
    """
    root = Path(root if root is not None else sysconfig.get_paths()["stdlib"])
    if not root.is_dir():
        raise FileNotFoundError(f"standard library directory not found: {root}")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
        found += [Path(dirpath, f) for f in filenames
                  if f.endswith(".py") and not f.startswith("_sysconfigdata")]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


@dataclass(frozen=True)
class PythonCorpus:
    """Output of :func:`python_source_corpus`.

    Attributes:
        text: the corpus, at most ``max_chars`` characters.
        vocab: a :class:`~lstm_lib.data.vocab.CharVocab` built on the training text; a
            character that appears only in validation encodes to its unknown id 0.
        train_ids, val_ids: (T_train,), (T_val,) int64; the first ``1 - val_fraction`` of
            the text and the rest (contiguous: validation is text the model has not read).
        files: the files used, relative POSIX paths, in order.
        python_version: e.g. "3.11.7"; sha256: hex digest of ``text`` (UTF-8).
    """

    text: str
    vocab: CharVocab
    train_ids: np.ndarray
    val_ids: np.ndarray
    files: list[str]
    python_version: str
    sha256: str


def python_source_corpus(max_chars: int = 1_000_000, *, val_fraction: float = 0.1,
                         root: str | os.PathLike | None = None) -> PythonCorpus:
    """A character-level corpus: the standard library's Python source, concatenated.

    Files from :func:`stdlib_source_files` are read as UTF-8 (undecodable bytes become
    U+FFFD, ``errors="replace"``), joined in sorted order with a blank line between files,
    and the result is cut to ``max_chars`` characters. No randomness: the same Python
    version always gives the same text (its hash is in the result), while other versions
    give a different text. About 12 MB of source is available in Python 3.11.

    Raises:
        ValueError: ``max_chars < 2`` or ``val_fraction`` not in (0, 1).
    """
    max_chars = check_int("max_chars", max_chars, 2)
    check_float("val_fraction", val_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    base = Path(root if root is not None else sysconfig.get_paths()["stdlib"])
    pieces, used, size = [], [], 0
    for path in stdlib_source_files(base):
        if size >= max_chars:
            break
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            piece = fh.read() + "\n\n"
        pieces.append(piece)
        used.append(path.relative_to(base).as_posix())
        size += len(piece)
    text = "".join(pieces)[:max_chars]
    n_val = max(1, int(round(val_fraction * len(text))))
    train_text, val_text = text[:-n_val], text[-n_val:]
    vocab = CharVocab(train_text)
    return PythonCorpus(text=text, vocab=vocab, train_ids=vocab.encode(train_text),
                        val_ids=vocab.encode(val_text), files=used,
                        python_version=platform.python_version(),
                        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())


class BPTTBatches:
    """Contiguous, stateful batches for truncated backpropagation through time.

    The id stream is cut into ``batch_size`` equal rows (the tail that does not fit is
    dropped), and the rows are read left to right ``seq_len`` columns at a time. Each batch
    is ``(x, y)``, both (batch_size, L) int64 with ``L = seq_len`` (the last batch may be
    shorter unless ``drop_last``), and ``y[:, t] = x[:, t + 1]``: the next character. Row
    ``b`` of batch ``k + 1`` continues row ``b`` of batch ``k`` exactly, so the hidden state
    at the end of one batch is the right initial state for the next (detach it between
    batches: that is the truncation).
    """

    def __init__(self, ids, batch_size: int, seq_len: int, *, drop_last: bool = False):
        ids = as_int_ids("ids", ids, ndim=None)
        if ids.ndim != 1:
            raise ValueError(f"ids must be 1-D (T,), got shape {ids.shape}")
        if (ids < 0).any():
            raise ValueError(f"ids must be >= 0 (token ids), got {ids.min()}")
        batch_size = check_int("batch_size", batch_size, 1)
        seq_len = check_int("seq_len", seq_len, 1)
        drop_last = check_bool("drop_last", drop_last)
        row_len = (len(ids) - 1) // batch_size                  # inputs per row
        if row_len < 1:
            raise ValueError(f"ids (length {len(ids)}) is too short for batch_size "
                             f"{batch_size}: need at least {batch_size + 1} ids")
        n = row_len * batch_size
        self.x = ids[:n].astype(np.int64).reshape(batch_size, row_len)       # (B, row_len)
        self.y = ids[1:n + 1].astype(np.int64).reshape(batch_size, row_len)  # shifted by one
        self.seq_len, self.drop_last = seq_len, drop_last

    def __len__(self) -> int:
        full, rest = divmod(self.x.shape[1], self.seq_len)
        return full + (0 if self.drop_last or rest == 0 else 1)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for k in range(len(self)):
            cols = slice(k * self.seq_len, (k + 1) * self.seq_len)
            yield self.x[:, cols], self.y[:, cols]


def bptt_batches(ids, batch_size: int, seq_len: int, *, drop_last: bool = False) -> BPTTBatches:
    """Batches for truncated BPTT over one id stream; see :class:`BPTTBatches`.

    Note the rows are offset by ``len(ids) // batch_size``, not consecutive: each row is its
    own long stream (the layout of Zaremba et al. 2014 and the PyTorch word-language-model
    example). Re-iterable; ``len()`` is the number of batches.
    """
    return BPTTBatches(ids, batch_size, seq_len, drop_last=drop_last)
