"""numpy reference cells with hand-written backpropagation through time (float64).

Readable above all: every cell is a pair of step functions in the CS231n style, named by the
book's symbols, unrolled over time by :class:`Cell`. Chapters import from here only::

    from lstm_lib import reference as ref
    cell = ref.make_cell("lstm", input_size=3, hidden_size=4, rng=0)
    hs, cache = cell.forward(xs)                  # xs (T, N, D) -> hs (T, N, H): h_1 .. h_T
    cache.gates["f"], cache.cs                    # (T, N, H) forget gates, cell states
    grads, dxs = cell.backward(dhs, cache)        # full BPTT; grads has params' keys
    grads, dxs, (dh0, dc0) = cell.backward(dhs, cache, dstate_T=(dh_T, dc_T),
                                           truncate=5, return_dstate0=True)
    ref.gradcheck(cell, xs)                       # worst relative error, <~1e-8 when right

Bad input: every public function here rejects NaN/inf and any shape mismatch (no silent
broadcasting), the step functions included, with a ``ValueError`` (``TypeError`` for a wrong
type or dtype) that names the argument and the expected shape; ``sigmoid`` (elementwise math)
and ``relative_error`` (which measures broken gradients) are the two documented exceptions.

Equation labels in the docstrings: (R1)-(R4) in ``rnn.py``; (L1)-(L14), (P1)-(P3), (C1) in
``lstm.py``; (G1)-(G10) in ``gru.py``.
"""

from lstm_lib.reference._cell import Cell, ForwardCache
from lstm_lib.reference._common import sigmoid
from lstm_lib.reference.cells import CELL_KINDS, make_cell
from lstm_lib.reference.gradcheck import (
    GradcheckReport,
    gradcheck,
    gradcheck_report,
    relative_error,
)
from lstm_lib.reference.gru import (
    GRUCell,
    gru_cho_step_backward,
    gru_cho_step_forward,
    gru_step_backward,
    gru_step_forward,
)
from lstm_lib.reference.lstm import (
    CIFGCell,
    LSTMCell,
    PeepholeLSTMCell,
    cifg_step_backward,
    cifg_step_forward,
    lstm_backward,
    lstm_step_backward,
    lstm_step_forward,
    peephole_step_backward,
    peephole_step_forward,
)
from lstm_lib.reference.minimal import (
    MinGRUCell,
    MinLSTMCell,
    mingru_step_backward,
    mingru_step_forward,
    minlstm_step_backward,
    minlstm_step_forward,
)
from lstm_lib.reference.rnn import (
    RNNCell,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from lstm_lib.reference.slstm import (
    SLSTMCell,
    slstm_step_backward,
    slstm_step_forward,
    slstm_unstabilised_forward,
)

__all__ = [
    "CELL_KINDS",
    "CIFGCell",
    "Cell",
    "ForwardCache",
    "GRUCell",
    "GradcheckReport",
    "LSTMCell",
    "MinGRUCell",
    "MinLSTMCell",
    "PeepholeLSTMCell",
    "RNNCell",
    "SLSTMCell",
    "cifg_step_backward",
    "cifg_step_forward",
    "gradcheck",
    "gradcheck_report",
    "gru_cho_step_backward",
    "gru_cho_step_forward",
    "gru_step_backward",
    "gru_step_forward",
    "lstm_backward",
    "lstm_step_backward",
    "lstm_step_forward",
    "make_cell",
    "mingru_step_backward",
    "mingru_step_forward",
    "minlstm_step_backward",
    "minlstm_step_forward",
    "peephole_step_backward",
    "peephole_step_forward",
    "relative_error",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
    "sigmoid",
    "slstm_step_backward",
    "slstm_step_forward",
    "slstm_unstabilised_forward",
]
