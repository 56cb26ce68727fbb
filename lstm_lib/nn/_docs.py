"""Docstring templates of the layers and cells: one text for the blocks they share.

``tests/test_nn_layers.py`` checks the documented parameter shapes against the real ones.
"""

from __future__ import annotations

from lstm_lib.nn._kinds import KINDS

ATTRIBUTES = """
    Attributes:
        weight_ih_l[k]: shape ({g}*hidden_size, input_size) for k = 0, otherwise
            ({g}*hidden_size, num_directions*hidden_size). The input weights W of layer k,
            gate blocks stacked ({blocks}).
        weight_hh_l[k]: shape ({g}*hidden_size, hidden_size). The recurrent weights U.
        bias_ih_l[k]: shape ({g}*hidden_size). Input bias; the book's b is bias_ih + bias_hh.
        bias_hh_l[k]: shape ({g}*hidden_size). Recurrent bias.{extra}

    Parameters of the reverse direction carry the suffix ``_reverse`` (``weight_ih_l0_reverse``).
    All are initialised from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as in torch.
"""

PEEPHOLE_ATTRS = """
        peephole_i_l[k]: shape (hidden_size). Diagonal peephole p_i from c_{t-1} to i_t.
        peephole_f_l[k]: shape (hidden_size). Diagonal peephole p_f from c_{t-1} to f_t.
        peephole_o_l[k]: shape (hidden_size). Diagonal peephole p_o from c_t to o_t."""

FGR_ATTRS = """
        weight_fgr_l[k]: shape (3*hidden_size, 3*hidden_size). Only with variant="FGR":
            recurrence from the previous gates [i; f; o] to the pre-activations of i, f, o."""

ARGS = """
    Args:
        input_size: D, the number of features of x_t.
        hidden_size: H, the number of features of h_t.
        num_layers: number of stacked layers; layer k > 0 reads layer k-1's output. Default 1.{nl}
        bias: if False, no bias_ih / bias_hh. Default True.
        batch_first: if True, input and output are (N, T, ·) instead of (T, N, ·); not h_n/c_n.
        dropout: torch's dropout on the output of every layer but the last, in training only.
        bidirectional: if True, a second layer runs backwards in time; outputs are concatenated
            [forward, reverse] on the last dimension. Default False.
        device, dtype: where and in what float type the parameters live.
        input_dropout: (keyword) variational dropout probability in [0, 1) on each layer's input,
            one mask per sequence, layer and direction, reused at every step (training only).
        recurrent_dropout: (keyword) the same on h_{{t-1}} where it enters U (weight_hh).{kw}
"""

VARIANT_KW = """
        variant: (keyword) None or one of Greff et al. (2017)'s ablations: "NIG" (i_t = 1),
            "NFG" (f_t = 1), "NOG" (o_t = 1), "NIAF" (g_t without tanh), "NOAF"
            (h_t = o_t ⊙ c_t), "FGR" (gates also receive the previous gates through
            weight_fgr_l[k]); see lstm_lib.nn.functional.lstm_variant_cell. The weights keep four
            blocks; the unused block gets zero gradient. Default None (the plain cell)."""

FORGET_KW = """
        forget_bias: (keyword) None (torch's init) or a float b_f: after the uniform init, the
            forget block of bias_ih_l[k] is set to b_f and that of bias_hh_l[k] to 0, so the
            book's b_f = bias_ih + bias_hh equals b_f (Gers et al. 2000; Jozefowicz et al. 2015
            recommend 1.0). Needs bias=True. reset_parameters() applies it again."""

IO = """
    Inputs: input, {hx_name}
        * **input**: (T, N, D), (N, T, D) with batch_first, (T, D) unbatched, or a
          :class:`~torch.nn.utils.rnn.PackedSequence`.
        * **{hx_name}**: {hx_desc} each (num_layers*num_directions, N, H), or
          (num_layers*num_directions, H) for unbatched input. Default zeros.
        * **lengths**: (keyword) (N,) valid lengths of a padded batched input, or None.
        * **return_gates**: (keyword) also return the recorded gates. Default False.

    As in torch, NaN and inf in the input are not rejected: they propagate to the outputs.

    Outputs: output, {hn_name}[, gates]
        * **output**: (T, N, num_directions*H) (batch_first: (N, T, ·); unbatched: (T, ·)): h_t
          of the last layer at every t; a PackedSequence if the input was one.
        * **{hn_name}**: the final states, shaped as the initial ones; for the reverse direction
          the state after its last step, which is time 0.
        * **gates**: only with return_gates=True; see :meth:`_RNNBase.forward`.
"""


def layer_doc(summary: str, equations: str, kind: str, nl: str = "", kw: str = "",
              extra: str = "") -> str:
    k = KINDS[kind]
    blocks = "|".join(f"W_{b}" for b in k.blocks) if k.num_chunks > 1 else "W"
    g = k.num_chunks if k.num_chunks > 1 else ""
    g_attr = ATTRIBUTES.replace("{g}*", f"{g}*" if g else "")
    if k.has_cell:
        io = IO.format(hx_name="(h_0, c_0)", hx_desc="h_0 and c_0,", hn_name="(h_n, c_n)")
    else:
        io = IO.format(hx_name="h_0", hx_desc="h_0", hn_name="h_n")
    return (summary + "\n\n" + equations + ARGS.format(nl=nl, kw=kw) + io
            + g_attr.format(blocks=blocks, extra=extra))


CELL_ATTRS = """
    Attributes:
        weight_ih: shape ({g}*hidden_size, input_size). Input weights W, blocks ({blocks}).
        weight_hh: shape ({g}*hidden_size, hidden_size). Recurrent weights U.
        bias_ih: shape ({g}*hidden_size). Input bias; the book's b is bias_ih + bias_hh.
        bias_hh: shape ({g}*hidden_size). Recurrent bias.{extra}

    All are initialised from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as in torch.
"""


def cell_doc(summary: str, kind: str, io: str, extra: str = "") -> str:
    k = KINDS[kind]
    blocks = "|".join(f"W_{b}" for b in k.blocks) if k.num_chunks > 1 else "W"
    g = k.num_chunks if k.num_chunks > 1 else ""
    attrs = CELL_ATTRS.replace("{g}*", f"{g}*" if g else "")
    return summary + "\n" + io + attrs.format(blocks=blocks, extra=extra)


IO_H = """
    Args:
        input_size: D. hidden_size: H. bias: if False, no bias_ih / bias_hh.{nl}
        device, dtype: where and in what float type the parameters live.

    Inputs: input, h_0
        * **input**: (N, D) or (D,) unbatched.  **h_0**: (N, H) or (H,); default zeros.
        * **return_gates**: (keyword) also return the gates {gates}, each (N, H) (or (H,)).

    Outputs: h_1[, gates]
        * **h_1**: (N, H) or (H,), the next hidden state.
"""

IO_HC = """
    Args:
        input_size: D. hidden_size: H. bias: if False, no bias_ih / bias_hh.{kw}
        device, dtype: where and in what float type the parameters live.

    Inputs: input, (h_0, c_0)
        * **input**: (N, D) or (D,) unbatched.  **h_0**, **c_0**: (N, H) or (H,); default zeros.
          With variant="FGR" a third tensor, the previous gates [i; f; o] (N, 3H), may follow.
        * **return_gates**: (keyword) also return the gates i, f, g, o and c, each (N, H).

    Outputs: (h_1, c_1)[, gates]
        * **h_1**, **c_1**: (N, H) or (H,); with variant="FGR" also the gates (N, 3H).
"""

LSTM_CELL_KW = """
        variant: (keyword) None or "NIG" "NFG" "NOG" "NIAF" "NOAF" "FGR", as in lnn.LSTM.
        forget_bias: (keyword) None or b_f: the forget block of bias_ih is set to b_f and that
            of bias_hh to 0 after the uniform init."""
