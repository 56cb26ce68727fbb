"""One time step of every cell, as pure functions on tensors: the book's equations, line by line.

Each function takes a batch of inputs ``x_t`` ``(N, D)`` and the previous state (``h_prev``,
``c_prev``: ``(N, H)``) plus the weights in PyTorch's layout (``weight_ih`` ``(gH, D)``,
``weight_hh`` ``(gH, H)``, ``bias_ih``/``bias_hh`` ``(gH,)`` or ``None``; gate blocks stacked
i, f, g, o for the LSTM and r, z, n for the GRU) and returns the new state and a dict of the
step's gate activations, each ``(N, H)``. The modules in :mod:`lstm_lib.nn.cells` and
:mod:`lstm_lib.nn.layers` only call these functions.

The book's single bias ``b`` is ``bias_ih + bias_hh``; PyTorch keeps two for cuDNN compatibility.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

VARIANTS = ("NIG", "NFG", "NOG", "NIAF", "NOAF", "FGR")


def rnn_cell(x_t: Tensor, h_prev: Tensor, weight_ih: Tensor, weight_hh: Tensor,
             bias_ih: Tensor | None = None, bias_hh: Tensor | None = None,
             nonlinearity: str = "tanh") -> tuple[Tensor, dict[str, Tensor]]:
    """Elman step, h_t = tanh(W x_t + U h_{t-1} + b). Returns h_t (N, H) and {}."""
    a = F.linear(x_t, weight_ih, bias_ih) + F.linear(h_prev, weight_hh, bias_hh)  # (N, H)
    h_t = torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)
    return h_t, {}


def lstm_cell(x_t: Tensor, h_prev: Tensor, c_prev: Tensor, weight_ih: Tensor, weight_hh: Tensor,
              bias_ih: Tensor | None = None, bias_hh: Tensor | None = None,
              ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """LSTM step (Hochreiter & Schmidhuber 1997 with the forget gate of Gers et al. 2000).

    i_t = σ(W_i x_t + U_i h_{t-1} + b_i), f_t = σ(...), g_t = tanh(...), o_t = σ(...),
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t, h_t = o_t ⊙ tanh(c_t).
    Returns h_t, c_t (N, H) and the gates {i, f, g, o, c}.
    """
    a = F.linear(x_t, weight_ih, bias_ih) + F.linear(h_prev, weight_hh, bias_hh)  # (N, 4H)
    a_i, a_f, a_g, a_o = a.chunk(4, dim=-1)
    i_t, f_t, g_t, o_t = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c_t = f_t * c_prev + i_t * g_t
    h_t = o_t * torch.tanh(c_t)
    return h_t, c_t, {"i": i_t, "f": f_t, "g": g_t, "o": o_t, "c": c_t}


def peephole_lstm_cell(x_t: Tensor, h_prev: Tensor, c_prev: Tensor, weight_ih: Tensor,
                       weight_hh: Tensor, bias_ih: Tensor | None, bias_hh: Tensor | None,
                       p_i: Tensor, p_f: Tensor, p_o: Tensor,
                       ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """LSTM step with diagonal peepholes (Gers & Schmidhuber 2000); p_i, p_f, p_o are (H,).

    i_t and f_t see c_{t-1}; o_t sees the new c_t.
    """
    a = F.linear(x_t, weight_ih, bias_ih) + F.linear(h_prev, weight_hh, bias_hh)  # (N, 4H)
    a_i, a_f, a_g, a_o = a.chunk(4, dim=-1)
    i_t = torch.sigmoid(a_i + p_i * c_prev)
    f_t = torch.sigmoid(a_f + p_f * c_prev)
    g_t = torch.tanh(a_g)
    c_t = f_t * c_prev + i_t * g_t
    o_t = torch.sigmoid(a_o + p_o * c_t)
    h_t = o_t * torch.tanh(c_t)
    return h_t, c_t, {"i": i_t, "f": f_t, "g": g_t, "o": o_t, "c": c_t}


def cifg_cell(x_t: Tensor, h_prev: Tensor, c_prev: Tensor, weight_ih: Tensor, weight_hh: Tensor,
              bias_ih: Tensor | None = None, bias_hh: Tensor | None = None,
              ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """Coupled input-forget gate step: i_t = 1 − f_t. Weights hold three blocks f, g, o (3H)."""
    a = F.linear(x_t, weight_ih, bias_ih) + F.linear(h_prev, weight_hh, bias_hh)  # (N, 3H)
    a_f, a_g, a_o = a.chunk(3, dim=-1)
    f_t, g_t, o_t = torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    i_t = 1 - f_t
    c_t = f_t * c_prev + i_t * g_t
    h_t = o_t * torch.tanh(c_t)
    return h_t, c_t, {"i": i_t, "f": f_t, "g": g_t, "o": o_t, "c": c_t}


def gru_cell(x_t: Tensor, h_prev: Tensor, weight_ih: Tensor, weight_hh: Tensor,
             bias_ih: Tensor | None = None, bias_hh: Tensor | None = None,
             h_dropped: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """GRU step, PyTorch/cuDNN convention (reset gate applied after the matrix product).

    r_t = σ(W_r x_t + U_r h_{t-1} + b_r), z_t = σ(...),
    n_t = tanh(W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn)), h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}.
    ``h_dropped`` is h_{t-1} after recurrent dropout: it feeds U only (Gal & Ghahramani 2016),
    while the interpolation keeps the undropped h_{t-1}. Returns h_t (N, H) and {r, z, n}.
    """
    h_in = h_prev if h_dropped is None else h_dropped
    a_x = F.linear(x_t, weight_ih, bias_ih)  # (N, 3H)
    a_h = F.linear(h_in, weight_hh, bias_hh)  # (N, 3H)
    ax_r, ax_z, ax_n = a_x.chunk(3, dim=-1)
    ah_r, ah_z, ah_n = a_h.chunk(3, dim=-1)
    r_t = torch.sigmoid(ax_r + ah_r)
    z_t = torch.sigmoid(ax_z + ah_z)
    n_t = torch.tanh(ax_n + r_t * ah_n)
    h_t = (1 - z_t) * n_t + z_t * h_prev
    return h_t, {"r": r_t, "z": z_t, "n": n_t}


def lstm_variant_cell(x_t: Tensor, h_prev: Tensor, c_prev: Tensor, gates_prev: Tensor | None,
                      weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None,
                      bias_hh: Tensor | None, variant: str, peepholes: tuple | None = None,
                      weight_fgr: Tensor | None = None,
                      ) -> tuple[Tensor, Tensor, Tensor | None, dict[str, Tensor]]:
    """An LSTM step with one of Greff et al. (2017)'s ablations ("LSTM: A Search Space Odyssey").

    ``variant`` is one of
      * ``"NIG"``  no input gate:        i_t = 1
      * ``"NFG"``  no forget gate:       f_t = 1
      * ``"NOG"``  no output gate:       o_t = 1
      * ``"NIAF"`` no input activation:  g_t = W_g x_t + U_g h_{t-1} + b_g (no tanh)
      * ``"NOAF"`` no output activation: h_t = o_t ⊙ c_t
      * ``"FGR"``  full gate recurrence: the pre-activations of i, f, o also receive
        ``weight_fgr @ [i_{t-1}; f_{t-1}; o_{t-1}]`` with ``weight_fgr`` (3H, 3H) (rows and columns
        in blocks i, f, o: Greff's nine matrices R_{i←i}, R_{i←f}, ... in one); the previous gates
        ``gates_prev`` (N, 3H) start at zero.
    The weights keep the LSTM's four blocks i, f, g, o; a block a variant does not use
    (i for NIG, f for NFG, o for NOG) gets zero gradient. ``peepholes`` = (p_i, p_f, p_o) or None
    adds Gers & Schmidhuber's diagonal peepholes (Greff's "vanilla" LSTM has them).
    Returns h_t, c_t, the new gates_prev (N, 3H) for FGR (else None) and the gates dict.
    """
    a = F.linear(x_t, weight_ih, bias_ih) + F.linear(h_prev, weight_hh, bias_hh)  # (N, 4H)
    a_i, a_f, a_g, a_o = a.chunk(4, dim=-1)
    if variant == "FGR":
        r_i, r_f, r_o = F.linear(gates_prev, weight_fgr).chunk(3, dim=-1)  # each (N, H)
        a_i, a_f, a_o = a_i + r_i, a_f + r_f, a_o + r_o
    if peepholes is not None:
        p_i, p_f, p_o = peepholes
        a_i, a_f = a_i + p_i * c_prev, a_f + p_f * c_prev
    ones = torch.ones_like(c_prev)
    i_t = ones if variant == "NIG" else torch.sigmoid(a_i)
    f_t = ones if variant == "NFG" else torch.sigmoid(a_f)
    g_t = a_g if variant == "NIAF" else torch.tanh(a_g)
    c_t = f_t * c_prev + i_t * g_t
    if peepholes is not None:
        a_o = a_o + peepholes[2] * c_t
    o_t = ones if variant == "NOG" else torch.sigmoid(a_o)
    h_t = o_t * c_t if variant == "NOAF" else o_t * torch.tanh(c_t)
    gates_t = torch.cat([i_t, f_t, o_t], dim=-1) if variant == "FGR" else None  # (N, 3H)
    return h_t, c_t, gates_t, {"i": i_t, "f": f_t, "g": g_t, "o": o_t, "c": c_t}
