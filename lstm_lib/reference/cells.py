"""``make_cell``: build a reference cell by its kind's name."""

from __future__ import annotations

from lstm_lib.reference._cell import Cell
from lstm_lib.reference.gru import GRUCell
from lstm_lib.reference.lstm import CIFGCell, LSTMCell, PeepholeLSTMCell
from lstm_lib.reference.minimal import MinGRUCell, MinLSTMCell
from lstm_lib.reference.rnn import RNNCell
from lstm_lib.reference.slstm import SLSTMCell

CELL_KINDS: dict[str, type[Cell]] = {
    "rnn": RNNCell,
    "lstm": LSTMCell,
    "peephole": PeepholeLSTMCell,
    "cifg": CIFGCell,
    "gru": GRUCell,
    "mingru": MinGRUCell,
    "minlstm": MinLSTMCell,
    "slstm": SLSTMCell,
}


def make_cell(kind: str, input_size: int, hidden_size: int, rng=None, **options) -> Cell:
    """A reference cell of the given kind, initialised like torch (U(-1/sqrt(H), 1/sqrt(H))).

    Args:
        kind: ``"rnn"``, ``"lstm"``, ``"peephole"``, ``"cifg"`` or ``"gru"``.
        input_size: D. hidden_size: H.
        rng: a ``np.random.Generator``, a seed, or ``None`` (fresh entropy).
        **options: ``reset_after=True`` / ``False`` for ``"gru"`` only.

    Example::

        cell = make_cell("lstm", 3, 4, rng=0)
        hs, cache = cell.forward(xs)               # xs (T, N, 3) -> hs (T, N, 4)
        grads, dxs = cell.backward(dhs, cache)     # grads: dW, dU, db as params' keys
    """
    if not isinstance(kind, str) or kind not in CELL_KINDS:
        raise ValueError(f"unknown cell kind: expected one of {list(CELL_KINDS)}, got {kind!r}")
    cls = CELL_KINDS[kind]
    allowed = {"reset_after"} if cls is GRUCell else set()
    unknown = set(options) - allowed
    if unknown:
        raise TypeError(f"make_cell({kind!r}, ...) got unexpected options: expected "
                        f"{sorted(allowed) or 'none'}, got {sorted(unknown)}")
    return cls(input_size, hidden_size, rng, **options)
