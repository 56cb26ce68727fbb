"""``lstm_lib.nn`` (imported as ``lnn``): torch drop-ins for recurrent layers and cells.

Layers, same constructor, forward, outputs, parameter names and state_dict as torch.nn::

    lnn.RNN, lnn.LSTM, lnn.GRU             # drop-ins for torch.nn.RNN / LSTM / GRU
    lnn.PeepholeLSTM, lnn.CIFG             # lnn.LSTM's interface, other equations
    lnn.MinGRU, lnn.MinLSTM                # lnn.GRU's interface, gates from x_t only, scan=
    lnn.SLSTM                              # xLSTM's sLSTM, one head; state (h, c, n, m)

Cells, drop-ins for torch.nn.*Cell::

    lnn.RNNCell, lnn.LSTMCell, lnn.GRUCell, lnn.PeepholeLSTMCell, lnn.CIFGCell

Extras for the book, keyword-only so the torch behaviour is the default:

* ``layer(x, hx, return_gates=True) -> output, hidden, gates``; ``gates[layer]["f"]`` is (T, N, H)
  (see :meth:`lstm_lib.nn.layers._RNNBase.forward`); cells return ``(output, gates)``.
* ``lnn.LSTM(..., variant="NIG" | "NFG" | "NOG" | "NIAF" | "NOAF" | "FGR")``: Greff et al. 2017.
* ``input_dropout=``, ``recurrent_dropout=``: variational dropout (Gal & Ghahramani 2016).
* ``forget_bias=1.0``: the forget block of ``bias_ih`` set to 1, of ``bias_hh`` to 0.
* ``to_reference_params`` / ``from_reference_params``: to and from ``lstm_lib.reference`` cells.

The equations, one time step each, are in :mod:`lstm_lib.nn.functional`; the time loop of one
layer is :func:`lstm_lib.nn.loop.run_layer`. The layers take a fused fast path where it applies
(:mod:`lstm_lib.nn.fused`: the book's hand-derived BPTT as one autograd node per layer and
direction); ``lnn.fast_path(False)`` (a call or a context manager) or ``LSTM_LIB_FAST=0`` in the
environment turns it off, and ``lnn.fast_path_enabled()`` says whether it is on. The LSTM family's
fused time loops run in C++ where a compiler is at hand (:mod:`lstm_lib.nn.compiled`, built on
first use); ``lnn.use_compiled(False)`` or ``LSTM_LIB_COMPILED=0`` keeps them in Python, and
``lnn.compiled_available()`` says whether the C++ loops serve.

Bad input: the layers and cells behave exactly as torch.nn's (the same checks and exception
types, torch's messages or clearer ones that name the argument; no per-forward NaN scan);
lnn's own extras (``forget_bias=``, ``from_reference_params``) refuse non-finite values and
wrong shapes. Tested in ``tests/test_bad_input_nn.py`` and ``tests/test_nn_torch_port.py``.
"""

from lstm_lib.nn.cells import CIFGCell, GRUCell, LSTMCell, PeepholeLSTMCell, RNNCell

# the fast-path switches: public attributes, kept out of __all__ (the layers are the API)
from lstm_lib.nn.compiled import available as compiled_available  # noqa: F401
from lstm_lib.nn.compiled import use_compiled as use_compiled
from lstm_lib.nn.functional import VARIANTS
from lstm_lib.nn.fused import fast_path as fast_path
from lstm_lib.nn.fused import fast_path_enabled as fast_path_enabled
from lstm_lib.nn.layers import CIFG, GRU, LSTM, RNN, PeepholeLSTM
from lstm_lib.nn.minimal import MinGRU, MinLSTM
from lstm_lib.nn.reference_params import from_reference_params, to_reference_params
from lstm_lib.nn.slstm import SLSTM

__all__ = [
    "RNN", "LSTM", "GRU", "PeepholeLSTM", "CIFG", "MinGRU", "MinLSTM", "SLSTM",
    "RNNCell", "LSTMCell", "GRUCell", "PeepholeLSTMCell", "CIFGCell",
    "VARIANTS", "to_reference_params", "from_reference_params",
]
