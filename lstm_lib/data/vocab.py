"""Token vocabularies: word-level ``Vocab`` and character-level ``CharVocab``.

Both map between symbols and integer ids (``stoi``/``itos``), encode to int64 numpy arrays and
decode back. Ids are stable: they depend only on the symbols given, never on hash order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from lstm_lib.data._checks import as_int_ids, check_bool, check_int

PAD = "<pad>"
UNK = "<unk>"


class Vocab:
    """A word vocabulary with fixed special tokens first.

    ``Vocab(tokens, specials=("<pad>", "<unk>"))`` gives ids ``0 .. len(specials)-1`` to the
    specials, then ids to ``tokens`` in the given order (duplicates and specials skipped).
    With the default specials, ``pad_id == 0`` (so zero padding is padding) and ``unk_id == 1``;
    unknown tokens encode to ``unk_id`` (or raise ``KeyError`` if the vocabulary has no
    ``"<unk>"``).

    Attributes:
        itos: list[str], id -> token.
        stoi: dict[str, int], token -> id.
    """

    def __init__(self, tokens: Iterable[str], specials: Sequence[str] = (PAD, UNK)):
        _not_a_str("tokens", tokens, "a list of tokens, e.g. ['hello', 'world']")
        _not_a_str("specials", specials, "a sequence of tokens, e.g. ('<pad>', '<unk>')")
        self.itos: list[str] = []
        self.stoi: dict[str, int] = {}
        for tok in [*specials, *tokens]:
            if not isinstance(tok, str):
                raise TypeError(f"tokens must be str, got {type(tok).__name__} ({tok!r})")
            if tok not in self.stoi:
                self.stoi[tok] = len(self.itos)
                self.itos.append(tok)
        self.specials = tuple(specials)

    @classmethod
    def build(cls, token_lists: Iterable[Iterable[str]], *, max_size: int | None = None,
              min_freq: int = 1, specials: Sequence[str] = (PAD, UNK)) -> Vocab:
        """Count tokens and keep the most frequent.

        Keeps tokens seen at least ``min_freq`` times, most frequent first, ties broken
        alphabetically (so the result does not depend on input order), at most ``max_size``
        tokens in all, specials included.

        ``token_lists`` holds *lists of tokens*, one per text (``[["hello", "world"], ...]``);
        a raw string where a token list belongs is a ``TypeError`` (counting its characters
        would silently build a character vocabulary: tokenise first, or use
        :class:`CharVocab` for characters).
        """
        min_freq = check_int("min_freq", min_freq, 1)
        if max_size is not None:
            max_size = check_int("max_size", max_size)
        _not_a_str("specials", specials, "a sequence of tokens, e.g. ('<pad>', '<unk>')")
        if max_size is not None and max_size < len(specials):
            raise ValueError(f"max_size must be >= len(specials) = {len(specials)}, "
                             f"got {max_size}")
        _not_a_str("token_lists", token_lists,
                   "an iterable of token lists, e.g. [['hello', 'world']]")
        counts = Counter()
        for k, toks in enumerate(token_lists):
            _not_a_str(f"token_lists[{k}]", toks,
                       "a list of tokens, e.g. ['hello', 'world']; tokenise the text first "
                       "(lstm_lib.data.tokenize), or use CharVocab for characters")
            toks = list(toks)
            for tok in toks:
                if not isinstance(tok, str):
                    raise TypeError(f"token_lists[{k}] must hold str tokens, got "
                                    f"{type(tok).__name__} ({tok!r})")
            counts.update(toks)
        for s in specials:
            counts.pop(s, None)
        kept = sorted((t for t, c in counts.items() if c >= min_freq),
                      key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max_size - len(specials)]
        return cls(kept, specials=specials)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.itos[:6])
        return f"Vocab(size={len(self)}, itos=[{head}{', ...' if len(self) > 6 else ''}])"

    @property
    def pad_id(self) -> int:
        """Id of ``"<pad>"``; ``KeyError`` if there is none."""
        return self.stoi[PAD]

    @property
    def unk_id(self) -> int:
        """Id of ``"<unk>"``; ``KeyError`` if there is none."""
        return self.stoi[UNK]

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Tokens -> ids, an int64 array of shape (len(tokens),).

        ``tokens`` is a list of tokens; a str is a ``TypeError`` (it would encode characters).
        """
        _not_a_str("tokens", tokens, "a list of tokens, e.g. ['hello', 'world']")
        unk = self.stoi.get(UNK)
        ids = []
        for tok in tokens:
            if not isinstance(tok, str):
                raise TypeError(f"tokens must hold str, got {type(tok).__name__} ({tok!r})")
            i = self.stoi.get(tok, unk)
            if i is None:
                raise KeyError(f"token {tok!r} is not in the vocabulary and it has no {UNK!r}")
            ids.append(i)
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: Iterable[int], *, skip_pad: bool = True) -> list[str]:
        """Ids -> tokens; padding dropped unless ``skip_pad=False``.

        Raises:
            IndexError: an id outside ``0 .. len(self) - 1`` (negative ids do not count from
                the end). TypeError: non-integer ids, or a non-bool ``skip_pad``.
        """
        skip_pad = check_bool("skip_pad", skip_pad)
        flat = _checked_ids(ids, len(self))
        pad = self.stoi.get(PAD)
        return [self.itos[i] for i in flat.tolist() if not (skip_pad and i == pad)]


class CharVocab:
    """A character vocabulary; id 0 is reserved for unknown characters.

    ``CharVocab(chars)`` sorts the distinct characters of ``chars`` and numbers them from 1.
    ``encode`` maps characters it does not know to 0; ``decode`` shows id 0 as ``unk``
    (U+FFFD, the replacement character, by default).
    """

    def __init__(self, chars: Iterable[str], unk: str = "\ufffd"):
        if not (isinstance(unk, str) and len(unk) == 1):
            raise TypeError(f"unk must be a single character, got {unk!r}")
        chars = set(chars)
        for c in chars:
            if not (isinstance(c, str) and len(c) == 1):
                raise TypeError(f"chars must be a str or an iterable of single characters, "
                                f"got an element {c!r}; use Vocab for words")
        distinct = sorted(chars - {unk})
        self.unk = unk
        self.itos: list[str] = [unk, *distinct]
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.itos)}
        # A lookup table over code points makes encoding a vectorised gather.
        top = max((ord(c) for c in distinct), default=0)
        self._table = np.zeros(top + 1, dtype=np.int64)
        for i, c in enumerate(distinct, start=1):
            self._table[ord(c)] = i

    @property
    def unk_id(self) -> int:
        return 0

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"CharVocab(size={len(self)})"

    def encode(self, text: str) -> np.ndarray:
        """Text -> ids, an int64 array of shape (len(text),); unknown characters -> 0."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        ids = np.zeros(codes.shape, dtype=np.int64)
        known = codes < len(self._table)
        ids[known] = self._table[codes[known]]
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text; id 0 becomes ``self.unk``.

        Raises:
            IndexError: an id outside ``0 .. len(self) - 1``. TypeError: non-integer ids.
        """
        return "".join(self.itos[i] for i in _checked_ids(ids, len(self)).tolist())


def _not_a_str(name: str, value, expected: str) -> None:
    if isinstance(value, str | bytes):
        raise TypeError(f"{name} must be {expected}, got the string {value[:40]!r}")


def _checked_ids(ids, size: int) -> np.ndarray:
    """``ids`` flattened to int64, every one in ``[0, size)``; ``IndexError`` names the first
    that is not."""
    if isinstance(ids, str | bytes):
        raise TypeError(f"ids must be integer ids, got the string {ids[:40]!r}")
    flat = as_int_ids("ids", ids, ndim=None).ravel()
    bad = (flat < 0) | (flat >= size)
    if bad.any():
        k = int(np.argmax(bad))
        raise IndexError(f"ids must be in [0, {size - 1}] (the vocabulary has {size} entries), "
                         f"got {flat[k]} at position {k}")
    return flat
