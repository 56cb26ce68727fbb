"""IMDB movie reviews (Maas et al. 2011): download, extract, tokenise, pad.

The Large Movie Review Dataset v1.0 has 25,000 training and 25,000 test reviews, each labelled
positive (rating >= 7) or negative (rating <= 4), half of each. Maas, Daly, Pham, Huang, Ng &
Potts (2011), "Learning Word Vectors for Sentiment Analysis", ACL.

Nothing here runs while the book builds (the book builds offline and uses
:func:`lstm_lib.data.synthetic_reviews`). A reader opts in with :func:`imdb_dataset`, which
downloads the 84 MB archive once into the cache (see :mod:`lstm_lib.data.download`), checks
its SHA-256 and extracts it safely. Offline, place ``aclImdb_v1.tar.gz`` in the cache
directory by hand.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstm_lib.data._checks import as_int_ids, check_float, check_int
from lstm_lib.data.download import cache_dir, fetch, safe_extract
from lstm_lib.data.vocab import Vocab

__all__ = ["IMDB_SHA256", "IMDB_URL", "IMDBData", "download_imdb", "imdb_dataset",
           "pad_sequences", "read_imdb", "tokenize"]

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
#: SHA-256 of aclImdb_v1.tar.gz (84,125,825 bytes), as recorded independently by several
#: public loaders (e.g. Julia's MLDatasets, gomlx, Hugging Face's dataset info); not
#: re-computed here, since this machine is offline.
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
IMDB_ARCHIVE = "aclImdb_v1.tar.gz"


def download_imdb(*, directory: str | os.PathLike | None = None, url: str = IMDB_URL,
                  sha256: str = IMDB_SHA256, timeout: float = 60.0, opener=None) -> Path:
    """Download (once) and extract the archive; return the ``aclImdb`` directory.

    A second call finds the extracted directory and touches neither the network nor the
    archive. Extraction goes to a temporary directory that is renamed into place when
    complete, so a half-extracted tree is never mistaken for the data set; a corrupt,
    truncated or empty archive raises ``ValueError`` naming the file. ``url``,
    ``sha256`` and ``opener`` exist for mirrors and tests.
    """
    if directory is not None and not isinstance(directory, str | os.PathLike):
        raise TypeError(f"directory must be a path or None, got {type(directory).__name__}")
    directory = Path(directory) if directory is not None else cache_dir()
    root = directory / "aclImdb"
    if (root / "train").is_dir() and (root / "test").is_dir():
        return root
    archive = fetch(url, IMDB_ARCHIVE, sha256=sha256, directory=directory, timeout=timeout,
                    opener=opener)
    tmp = Path(tempfile.mkdtemp(prefix=".aclImdb.", dir=directory))
    try:
        safe_extract(archive, tmp)
        if not (tmp / "aclImdb").is_dir():
            raise ValueError(f"{archive} has no top-level 'aclImdb' directory")
        if root.exists():  # an incomplete earlier tree
            shutil.rmtree(root)
        os.replace(tmp / "aclImdb", root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _review_key(path: Path) -> tuple[int, str]:
    stem = path.stem.split("_")[0]        # "<id>_<rating>.txt"
    return (int(stem) if stem.isdigit() else -1, path.name)


def read_imdb(root: str | os.PathLike, split: str = "train") -> tuple[list[str], np.ndarray]:
    """Read ``root/<split>/{neg,pos}/*.txt`` into ``(texts, labels)``.

    Negative reviews first, then positive, each in the order of their numeric file id (so
    the order is the same everywhere; shuffle before training). ``labels`` is (N,) int64,
    0 = negative, 1 = positive. Unlabelled ``train/unsup`` reviews are not read.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not isinstance(root, str | os.PathLike):
        raise TypeError(f"root must be a path, got {type(root).__name__}")
    texts, labels = [], []
    for label, name in enumerate(("neg", "pos")):
        folder = Path(root) / split / name
        if not folder.is_dir():
            raise FileNotFoundError(f"missing directory {folder}")
        for path in sorted(folder.glob("*.txt"), key=_review_key):
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
            labels.append(label)
    return texts, np.asarray(labels, dtype=np.int64)


_BREAK = re.compile(r"<br\s*/?>", flags=re.IGNORECASE)
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*|[!?]")


def tokenize(text: str) -> list[str]:
    """Lowercase, turn ``<br />`` into a space, keep words (with inner apostrophes), digits,
    '!' and '?': ``"It's <br />GREAT!"`` -> ``["it's", "great", "!"]``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _TOKEN.findall(_BREAK.sub(" ", text).lower())


def pad_sequences(sequences: Iterable[Sequence[int]], max_len: int, *, pad_id: int = 0,
                  keep: str = "first", padding: str = "post") -> tuple[np.ndarray, np.ndarray]:
    """Pad or truncate id sequences to ``max_len``.

    ``keep="first"`` keeps a long sequence's first ``max_len`` ids, ``keep="last"`` its last
    (Keras' ``pad_sequences`` default, ``truncating="pre"``). ``padding="post"`` pads on the
    right, ``"pre"`` on the left (Keras' default), so that the last column holds every
    sequence's last real id.
    Returns ``ids`` (N, max_len) int64 and ``lengths`` (N,) int64, the number of real ids in
    each row (what ``torch.nn.utils.rnn.pack_padded_sequence`` needs; it rejects length 0).
    """
    max_len = check_int("max_len", max_len, 1)
    pad_id = check_int("pad_id", pad_id)
    if keep not in ("first", "last"):
        raise ValueError(f"keep must be 'first' or 'last', got {keep!r}")
    if padding not in ("post", "pre"):
        raise ValueError(f"padding must be 'post' or 'pre', got {padding!r}")
    if isinstance(sequences, str | bytes | np.ndarray) and np.ndim(sequences) < 2:
        raise TypeError(f"sequences must be an iterable of id sequences (e.g. a list of "
                        f"lists), got {type(sequences).__name__} {sequences!r:.40}")
    sequences = [as_int_ids(f"sequences[{k}]", s) for k, s in enumerate(sequences)]
    ids = np.full((len(sequences), max_len), pad_id, dtype=np.int64)
    lengths = np.zeros(len(sequences), dtype=np.int64)
    for row, seq in enumerate(sequences):
        seq = seq[:max_len] if keep == "first" else seq[max(len(seq) - max_len, 0):]
        if padding == "post":
            ids[row, : len(seq)] = seq
        elif len(seq):
            ids[row, -len(seq):] = seq
        lengths[row] = len(seq)
    return ids, lengths


@dataclass(frozen=True)
class IMDBData:
    """Output of :func:`imdb_dataset`. ``x_*`` (N, max_len) int64 ids, right-padded with
    ``vocab.pad_id``; ``len_*`` (N,) int64 lengths; ``y_*`` (N,) int64 (1 = positive)."""

    x_train: np.ndarray
    len_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    len_test: np.ndarray
    y_test: np.ndarray
    vocab: Vocab


def imdb_dataset(max_len: int = 256, *, max_size: int = 20_000, min_freq: int = 2,
                 keep: str = "first", directory: str | os.PathLike | None = None,
                 url: str = IMDB_URL, sha256: str = IMDB_SHA256, timeout: float = 60.0,
                 opener=None) -> IMDBData:
    """IMDB as padded word ids, ready for an embedding + LSTM classifier.

    Downloads on first use (see :func:`download_imdb`), tokenises with :func:`tokenize`,
    builds a :class:`Vocab` on the *training* reviews only (at most ``max_size`` entries,
    words seen at least ``min_freq`` times; others become ``<unk>``), and pads or truncates
    to ``max_len`` with :func:`pad_sequences`. Baseline: the classes are balanced, so a
    memoryless majority guess has accuracy 0.5.

    Every argument is checked before anything is downloaded.
    """
    max_len = check_int("max_len", max_len, 1)
    max_size = check_int("max_size", max_size, 2)     # room for <pad> and <unk>
    min_freq = check_int("min_freq", min_freq, 1)
    if keep not in ("first", "last"):
        raise ValueError(f"keep must be 'first' or 'last', got {keep!r}")
    check_float("timeout", timeout, low=0.0, low_open=True)
    root = download_imdb(directory=directory, url=url, sha256=sha256, timeout=timeout,
                         opener=opener)
    train_texts, y_train = read_imdb(root, "train")
    test_texts, y_test = read_imdb(root, "test")
    train_tokens = [tokenize(t) for t in train_texts]
    vocab = Vocab.build(train_tokens, max_size=max_size, min_freq=min_freq)
    x_train, len_train = pad_sequences((vocab.encode(t) for t in train_tokens), max_len,
                                       pad_id=vocab.pad_id, keep=keep)
    x_test, len_test = pad_sequences((vocab.encode(tokenize(t)) for t in test_texts), max_len,
                                     pad_id=vocab.pad_id, keep=keep)
    return IMDBData(x_train, len_train, y_train, x_test, len_test, y_test, vocab)
