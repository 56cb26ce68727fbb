"""The fast path: one layer and one direction over the whole sequence as one autograd node.

The generic loop (:func:`lstm_lib.nn.loop.run_layer`) builds an autograd graph of a dozen small
ops per time step; its backward then walks that graph. Here the book's hand-derived BPTT
(:mod:`lstm_lib.reference`: eqs. (R1)-(R4), (L1)-(L11), (P1)-(P3), (C1), (G1)-(G10)) is written
once more, in torch, as a :class:`torch.autograd.Function` per cell family:

* forward: the input projection of all T steps in one matrix product, ``x (T·N, D) @ W^T``; per
  step one ``h_{t-1} @ U^T`` and the gate arithmetic, written into preallocated buffers; the
  activations (gates, c_t, h_t) are saved instead of a per-step graph;
* backward: per step only the recurrence, dh_{t-1} = U^T da_t (+ the cell path dc_{t-1}), with
  the derivatives σ' = s(1 - s), tanh' = 1 - tanh² taken from the saved activations while they
  are in cache (whole-sequence temporaries for them cost more memory traffic than they save);
  the weight gradients are a few big products at the end: dW = Σ_t da_t^T x_t as one
  ``(gH, T·N) @ (T·N, D)`` product, dU likewise with h_{t-1}.

Pure torch ops, so it runs on any device. The layers use it automatically when it applies
(:func:`applies`) and a gradient is needed (without one, :mod:`lstm_lib.nn.inference`
serves): no gate recording, no Greff variant other than NIG, NFG, NOG, NIAF, NOAF and FGR, no
``lengths``/PackedSequence, no autocast, no empty batch; variational recurrent dropout masks are
supported. Otherwise they keep the
generic loop. Turn it off with ``lnn.fast_path(False)`` (a call, or a context
manager) or with the environment variable ``LSTM_LIB_FAST=0`` (read at import).

Higher-order gradients are exact, as through torch.nn. The hand-written backward is for the
ordinary case, a first-order backward; when the backward itself is to be differentiated
(``create_graph=True``: a gradient penalty, Hessian-vector products, ``gradgradcheck``) or is
vmapped (``autograd.grad(..., is_grads_batched=True)``), it recomputes the layer through the
generic loop from the saved inputs and returns ``autograd.grad`` of that graph instead
(:func:`_backward_by_loop`): the book's BPTT keeps training fast, autograd keeps the rest exact.
Under a ``torch.func`` transform or forward-mode AD the layers take the generic loop from the
start (:func:`applies`).
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from lstm_lib.nn import compiled, loop
from lstm_lib.nn._kinds import KINDS, make_step

_enabled = os.environ.get("LSTM_LIB_FAST", "1").strip().lower() not in ("0", "false", "no", "off")

SUPPORTED = ("RNN", "LSTM", "GRU", "PeepholeLSTM", "CIFG")
# Greff's ablations of lnn.LSTM that fix a gate at 1: that gate's block index (not of the
# PeepholeLSTM: there the generic loop leaves the gate's peephole unused, with no gradient)
CONSTANT_GATES = {"NIG": 0, "NFG": 1, "NOG": 3}
# Greff's ablations that drop a nonlinearity, of lnn.LSTM and lnn.PeepholeLSTM: a flag of the
# LSTM loops (NIAF: g_t = a_g, so tanh' becomes 1; NOAF: h_t = o_t ⊙ c_t, so tanh(c_t) becomes c_t)
NO_ACTIVATION = ("NIAF", "NOAF")
# Greff's variants of lnn.LSTM and lnn.PeepholeLSTM that are flags of LSTMFunction's loops: the
# two above and FGR (full gate recurrence: R [i; f; o]_{t-1} enters the gates' pre-activations)
LOOP_VARIANTS = (*NO_ACTIVATION, "FGR")
_FLAGS = {"CIFG": 1, "PeepholeLSTM": 2, "NIAF": 4, "NOAF": 8, "FGR": 16}  # the loops' flags


class fast_path:  # noqa: N801 - used like a function, as torch.set_grad_enabled
    """Turn the fused fast path on or off: ``lnn.fast_path(False)`` sets it for the process;
    ``with lnn.fast_path(False): ...`` sets it for the block and restores the previous setting.

    The environment variable ``LSTM_LIB_FAST=0`` sets the initial value (default on).
    """

    def __init__(self, enabled: bool) -> None:
        global _enabled
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled must be a bool, got {enabled!r}")
        self.prev = _enabled
        _enabled = enabled

    def __enter__(self) -> fast_path:
        return self

    def __exit__(self, *exc) -> None:
        global _enabled
        _enabled = self.prev


def fast_path_enabled() -> bool:
    """Whether layers may take the fast path (see :class:`fast_path`)."""
    return _enabled


def applies(mode: str, variant: str | None, x: Tensor, *, lengths: Tensor | None,
            record: bool) -> bool:
    """Whether :func:`run_layer` serves this call; otherwise the generic loop does."""
    constant_gate = mode == "LSTM" and variant in CONSTANT_GATES
    loop_variant = mode in ("LSTM", "PeepholeLSTM") and variant in LOOP_VARIANTS
    return (_enabled and mode in SUPPORTED and (variant is None or constant_gate or loop_variant)
            and lengths is None
            and not record and x.dim() == 3 and x.size(0) > 0 and x.size(1) > 0
            and not _autocast_enabled(x.device.type) and not _transformed())


def _transformed() -> bool:
    """Whether a ``torch.func`` transform (vmap, grad, jacrev, ...) or forward-mode AD is active:
    the Functions here define neither a vmap rule nor a jvp, the generic loop's ops do."""
    return (torch._C._functorch.maybe_current_level() is not None
            or torch.autograd.forward_ad._current_level >= 0)


def _autocast_enabled(device_type: str) -> bool:
    """Under autocast the generic loop runs (its ops are autocast's to cast; ``out=`` ops are
    not). Devices autocast does not know (``meta``) have no autocast."""
    try:
        return torch.is_autocast_enabled(device_type)
    except RuntimeError:
        return False


def run_layer(mode: str, x: Tensor, state0: tuple[Tensor, ...], p: dict, *,
              reverse: bool = False, h_mask: Tensor | None = None, nonlinearity: str = "tanh",
              variant: str | None = None) -> tuple[Tensor, tuple[Tensor, ...], dict]:
    """:func:`lstm_lib.nn.loop.run_layer` for the cases :func:`applies` accepts.

    Same arguments and results: ``x`` (T, N, D) -> output (T, N, H), final state tuple, ``{}``.
    ``variant`` is None, one of ``CONSTANT_GATES`` (see ``_constant_gate``) or of
    ``LOOP_VARIANTS`` (a flag of :class:`LSTMFunction`); for ``"FGR"`` the state is
    (h, c, gates_prev) with gates_prev (N, 3H) in blocks i, f, o, and ``p["weight_fgr"]`` is R.
    """
    if reverse:
        x = x.flip(0)
    if variant in CONSTANT_GATES:
        p = _constant_gate(p, variant, state0[0].size(-1))
    W, U, b_ih, b_hh = p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"]
    if mode == "RNN":
        out, h_n = RNNFunction.apply(x, state0[0], W, U, b_ih, b_hh, h_mask,
                                     nonlinearity == "relu")
        state = (h_n,)
    elif mode == "GRU":
        out, h_n = GRUFunction.apply(x, state0[0], W, U, b_ih, b_hh, h_mask)
        state = (h_n,)
    else:
        peep = ((p["peephole_i"], p["peephole_f"], p["peephole_o"]) if mode == "PeepholeLSTM"
                else (None, None, None))
        fgr = ((p["weight_fgr"], state0[2]) if variant == "FGR" else (None, None))
        out, *state = LSTMFunction.apply(mode, variant if variant in LOOP_VARIANTS else None,
                                         x, state0[0], state0[1], W, U, b_ih, b_hh, *peep,
                                         h_mask, *fgr)
        state = tuple(state)  # (h_T, c_T), and gates_T for FGR
    if reverse:
        out = out.flip(0)
    return out, state, {}


# ---- helpers ---------------------------------------------------------------------------------
def _constant_gate(p: dict, variant: str, H: int) -> dict:
    """Greff's NIG, NFG, NOG (i_t, f_t or o_t = 1) as the LSTM's equations and BPTT: the
    gate's block of W, U, b_hh is multiplied by 0 and its bias set to +inf, so its
    pre-activation is +inf for any finite input and σ(+inf) = 1 exactly; in the backward its
    σ' = s(1 - s) = 0, so the block's gradient is exactly zero, as the generic loop gives it.
    The products with 0 keep autograd's path from the copies back to the parameters."""
    k = CONSTANT_GATES[variant]
    W = p["weight_ih"]
    keep = W.new_ones(4 * H)
    keep[k * H:(k + 1) * H] = 0.0
    inf = W.new_zeros(4 * H)
    inf[k * H:(k + 1) * H] = float("inf")
    b_ih, b_hh = p["bias_ih"], p["bias_hh"]
    return {**p, "weight_ih": W * keep[:, None], "weight_hh": p["weight_hh"] * keep[:, None],
            "bias_ih": inf if b_ih is None else b_ih * keep + inf,
            "bias_hh": None if b_hh is None else b_hh * keep}


def _input_projection(x: Tensor, W: Tensor, b: Tensor | None) -> Tensor:
    """W x_t + b for all t at once: (T, N, D) -> (T, N, gH), one matrix product."""
    T, N, D = x.shape
    x2 = x.reshape(T * N, D)
    out = torch.mm(x2, W.t()) if b is None else torch.addmm(b, x2, W.t())
    return out.view(T, N, -1)


def _sum_bias(b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor | None:
    """The book's single b = bias_ih + bias_hh (either may be absent)."""
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


def _recurrent_grad(da: Tensor, h0: Tensor, Y: Tensor, h_mask: Tensor | None) -> Tensor:
    """dU = Σ_t da_t^T h_{t-1} (h_{t-1} after the recurrent dropout mask), as big products.

    da (T, N, gH); h0 (N, H); Y (T, N, H) holds h_1 .. h_T, so h_{t-1} is h0 then Y[:-1]: two
    products instead of a concatenated copy of the states.
    """
    T, N, gH = da.shape
    if h_mask is not None:
        h_prev = torch.cat([h0.unsqueeze(0), Y[:-1]]) * h_mask  # (T, N, H)
        return (h_prev.reshape(T * N, -1).t() @ da.reshape(T * N, gH)).t()
    dU = (h0.t() @ da[0]).t()  # (gH, H)
    if T > 1:
        dU = dU.addmm_(da[1:].reshape(-1, gH).t(), Y[:-1].reshape(-1, Y.size(-1)))
    return dU


def _weight_grads(ctx, da: Tensor, x: Tensor, h0: Tensor, Y: Tensor, W: Tensor,
                  h_mask: Tensor | None, ix: int, iw: int, da_h: Tensor | None = None):
    """(L10), (L11) for all t at once: dx_t = W^T da_t, dW = Σ_t da_t x_t^T,
    dU = Σ_t da_t h_{t-1}^T, db = Σ da: a few big products instead of T small ones.

    ``da`` (T, N, gH) is the gradient on the input pre-activations, ``da_h`` on the recurrent
    ones (equal to ``da`` except in the GRU). ``ix`` and ``iw`` are the indices of ``x`` and
    ``W`` in forward's arguments; U, b_ih, b_hh follow W.
    """
    T, N, D = x.shape
    gH = da.size(-1)
    da_h = da if da_h is None else da_h
    da2 = da.reshape(T * N, gH)
    need = ctx.needs_input_grad
    dx = (da2 @ W).view(T, N, D) if need[ix] else None
    dW = (x.reshape(T * N, D).t() @ da2).t() if need[iw] else None  # the fast form for small D
    dU = _recurrent_grad(da_h, h0, Y, h_mask) if need[iw + 1] else None
    db_ih = da2.sum(0) if need[iw + 2] else None
    db_hh = da_h.reshape(T * N, gH).sum(0) if need[iw + 3] else None
    return dx, dW, dU, db_ih, db_hh


# ---- backward through the generic loop: double backward and batched gradients ----------------
def _backward_needs_graph(grads) -> bool:
    """Whether this backward must be differentiable or vmappable, so that the hand-written one
    (in-place ``out=`` arithmetic on saved activations, no graph) cannot serve: grad mode is on
    inside a backward only under ``create_graph=True``; batched incoming gradients come from
    ``is_grads_batched=True`` or ``torch.func``."""
    return torch.is_grad_enabled() or any(g is not None and _batched(g) for g in grads)


def _batched(t: Tensor) -> bool:
    """A tensor seen per sample inside a vmap (``is_grads_batched`` still uses the legacy one)."""
    f = torch._C._functorch
    return f.is_functorch_wrapped_tensor(t) or f.is_legacy_batchedtensor(t)


def _backward_by_loop(ctx, recompute, args: tuple, grads: tuple) -> tuple:
    """The backward of a Function here as ``autograd.grad`` through the generic loop.

    ``recompute(*args)`` runs the layer through :func:`lstm_lib.nn.loop.run_layer` (the same
    equations, op by op) and returns the Function's outputs; ``args`` are the forward's arguments
    (the saved input tensors, in order), ``grads`` the incoming output gradients. Under
    ``create_graph=True`` the recomputation starts from the inputs themselves, each behind its
    own ``view_as`` (an input passed twice, ``hx=(h, h)``, must not count twice), so the
    returned gradients carry their graph back to the inputs and the second derivative is exact.
    Otherwise it starts from detached copies (batched ``grads`` pass straight through).
    """
    create_graph = torch.is_grad_enabled()
    needs = ctx.needs_input_grad
    with torch.enable_grad():
        if create_graph:
            ins = [a.view_as(a) if need else a for a, need in zip(args, needs, strict=True)]
        else:
            ins = [a.detach().requires_grad_() if need else a
                   for a, need in zip(args, needs, strict=True)]
        outs = recompute(*ins)
    pairs = [(o, g) for o, g in zip(outs, grads, strict=True) if o.requires_grad]
    wrt = [a for a, need in zip(ins, needs, strict=True) if need]
    got = iter(torch.autograd.grad([o for o, _ in pairs], wrt, [g for _, g in pairs],
                                   create_graph=create_graph, allow_unused=True))
    return tuple(next(got) if need else None for need in needs)


def _loop_params(W, U, b_ih, b_hh, p_i=None, p_f=None, p_o=None, R=None) -> dict:
    """The parameter dict of :func:`lstm_lib.nn.loop.run_layer` (short names)."""
    return {"weight_ih": W, "weight_hh": U, "bias_ih": b_ih, "bias_hh": b_hh,
            "peephole_i": p_i, "peephole_f": p_f, "peephole_o": p_o, "weight_fgr": R}


def _recompute_rnn(x, h0, W, U, b_ih, b_hh, h_mask, relu):
    step = make_step(KINDS["RNN"], None, "relu" if relu else "tanh")
    out, (h_n,), _ = loop.run_layer(step, x, (h0,), _loop_params(W, U, b_ih, b_hh),
                                    h_mask=h_mask)
    return out, h_n


def _recompute_lstm(mode, variant, x, h0, c0, W, U, b_ih, b_hh, p_i, p_f, p_o, h_mask,
                    R=None, q0=None):
    """LSTMFunction's outputs through the generic loop: out, h_T, c_T (and gates_T for FGR,
    whose state carries the third element gates_prev, q0 here)."""
    state0 = (h0, c0) if variant != "FGR" else (h0, c0, q0)
    out, state, _ = loop.run_layer(make_step(KINDS[mode], variant), x, state0,
                                   _loop_params(W, U, b_ih, b_hh, p_i, p_f, p_o, R),
                                   h_mask=h_mask)
    return (out, *state)


def _recompute_gru(x, h0, W, U, b_ih, b_hh, h_mask):
    out, (h_n,), _ = loop.run_layer(make_step(KINDS["GRU"]), x, (h0,),
                                    _loop_params(W, U, b_ih, b_hh), h_mask=h_mask)
    return out, h_n


# ---- the vanilla RNN -------------------------------------------------------------------------
class RNNFunction(torch.autograd.Function):
    """Elman RNN over a sequence, eq. (R1) forward and (R2)-(R4) backward.

    ``apply(x, h0, W, U, b_ih, b_hh, h_mask, relu)``: x (T, N, D), h0 (N, H), W (H, D),
    U (H, H), b_ih, b_hh (H,) or None, h_mask (N, H) or None (recurrent dropout on h_{t-1} where
    it meets U), relu: bool. Returns output (T, N, H) and h_T (N, H).
    """

    @staticmethod
    def forward(ctx, x, h0, W, U, b_ih, b_hh, h_mask, relu):
        T = x.size(0)
        Y = _input_projection(x, W, _sum_bias(b_ih, b_hh))  # (T, N, H), W x_t + b, then h_t
        U_t = U.t()
        h = h0
        for t in range(T):  # (R1), in place on the projection
            h_in = h if h_mask is None else h * h_mask
            y = Y[t].addmm_(h_in, U_t)
            h = y.relu_() if relu else y.tanh_()
        ctx.relu = relu
        ctx.save_for_backward(x, h0, W, U, b_ih, b_hh, h_mask, Y)
        return Y, h.clone()

    @staticmethod
    def backward(ctx, dY, dh_T):
        x, h0, W, U, b_ih, b_hh, h_mask, Y = ctx.saved_tensors
        if _backward_needs_graph((dY, dh_T)):
            return _backward_by_loop(ctx, _recompute_rnn,
                                     (x, h0, W, U, b_ih, b_hh, h_mask, ctx.relu), (dY, dh_T))
        T = Y.size(0)
        one = Y.new_ones(())
        da = torch.empty_like(Y)  # (T, N, H)
        dh = dY[T - 1] + dh_T
        for t in range(T - 1, -1, -1):
            if ctx.relu:
                torch.mul(dh, Y[t] > 0, out=da[t])  # (R2) with relu' = [a > 0]
            else:
                torch.addcmul(one, Y[t], Y[t], value=-1, out=da[t]).mul_(dh)  # (R2)
            rec = da[t] @ U  # (R3): U^T da, in rows
            if h_mask is not None:
                rec = rec.mul_(h_mask)
            dh = rec.add_(dY[t - 1]) if t > 0 else rec
        dx, dW, dU, db_ih, db_hh = _weight_grads(ctx, da, x, h0, Y, W, h_mask, ix=0, iw=2)
        return dx, dh, dW, dU, db_ih, db_hh, None, None


# ---- the LSTM family: LSTM, peephole LSTM, CIFG ---------------------------------------------
def _o_first(t: Tensor | None, H: int) -> Tensor | None:
    """Move the last gate block (o) to the front: i, f, g, o -> o, i, f, g (f, g, o -> o, f, g).

    Then the sigmoid blocks are contiguous, and so are the blocks whose gradient comes from
    dc_t; one op covers each. Cheap: it copies weights, never activations.
    """
    return None if t is None else torch.cat([t[-H:], t[:-H]])


def _o_last(t: Tensor | None, H: int) -> Tensor | None:
    """The inverse of :func:`_o_first`, for the gradients."""
    return None if t is None else torch.cat([t[H:], t[:H]])


def _o_first_cols(t: Tensor | None, H: int) -> Tensor | None:
    """:func:`_o_first` on the last dimension: columns i, f, o -> o, i, f (FGR's gate vectors)."""
    return None if t is None else torch.cat([t[..., -H:], t[..., :-H]], -1)


def _o_last_cols(t: Tensor | None, H: int) -> Tensor | None:
    """The inverse of :func:`_o_first_cols`."""
    return None if t is None else torch.cat([t[..., H:], t[..., :H]], -1)


def _gate_recurrent_grad(da_s: Tensor, q0: Tensor, Q: Tensor) -> Tensor:
    """FGR's dR = Σ_t da_{s,t}^T q_{t-1}, as big products (like :func:`_recurrent_grad`).

    da_s (T, N, 3H) the gradient on the sigmoid pre-activations, q0 (N, 3H) the initial gates,
    Q (T, N, 3H) the gates q_1 .. q_T (all in blocks o, i, f). Returns (3H, 3H), rows the gate
    whose pre-activation receives R q_{t-1}, columns the gate of q_{t-1}.
    """
    T, N, H3 = da_s.shape
    dR = da_s[0].t() @ q0  # (3H, 3H)
    if T > 1:
        dR = dR.addmm_(da_s[1:].reshape(-1, H3).t(), Q[:-1].reshape(-1, H3))
    return dR


class LSTMFunction(torch.autograd.Function):
    r"""LSTM, peephole LSTM or CIFG over a sequence, the book's equations and hand-derived BPTT.

    ``apply(mode, variant, x, h0, c0, W, U, b_ih, b_hh, p_i, p_f, p_o, h_mask[, R, q0])`` with mode
    ``"LSTM"`` (eqs. (L1)-(L6) forward, (L7)-(L11) backward), ``"PeepholeLSTM"`` ((P1)-(P3) and
    the peephole backward of ``peephole_step_backward``) or ``"CIFG"`` ((C1) and
    ``cifg_step_backward``); ``variant`` None, ``"NIAF"`` (g_t = a_g: in the backward
    tanh'(a_g) becomes 1), ``"NOAF"`` (h_t = o_t ⊙ c_t: tanh(c_t) becomes c_t and its
    derivative 1) or ``"FGR"`` (below), of the LSTM or the peephole LSTM. Shapes: x (T, N, D);
    h0, c0 (N, H); W (gH, D); U (gH, H); b_ih, b_hh (gH,) or None; p_i, p_f, p_o (H,) for the
    peephole LSTM, else None; h_mask (N, H) or None; R (3H, 3H) and q0 (N, 3H) for FGR, else
    None. Gate blocks i, f, g, o (g = 4), or f, g, o for the CIFG (g = 3); inside, the o block
    is moved to the front (:func:`_o_first`). Returns output (T, N, H), h_T and c_T (N, H), and
    for FGR also the last gates q_T (N, 3H).

    **FGR** (Greff et al. 2017, full gate recurrence). With q_t = [i_t; f_t; o_t] (N, 3H), the
    gates' activations, and R = ``weight_fgr`` (3H, 3H, blocks i, f, o both ways), the
    pre-activations of i, f, o receive R q_{t-1} before the nonlinearities (and the peepholes,
    as they are):

        [a_i; a_f; a_o]_t += R q_{t-1},  q_0 = ``q0`` (zero in the layers).

    Backward: q_{t-1} now also reaches step t through R, so the gradient on the activations of
    step t-1 gets dq_{t-1} = R^T [da_i; da_f; da_o]_t (rows: ``da_s @ R``), which enters before
    σ' like the other paths to the gates:

        da_o = σ'(a_o) ⊙ (dh_t ⊙ tanh(c_t) + dq_o)
        dc_t = dc_{t+1} ⊙ f_{t+1} [+ peepholes] + dh_t ⊙ o_t ⊙ (1 - tanh²(c_t)) [+ da_o ⊙ p_o]
        da_i = σ'(a_i) ⊙ (dc_t ⊙ g_t + dq_i),  da_f = σ'(a_f) ⊙ (dc_t ⊙ c_{t-1} + dq_f)

    (with peepholes the path from c_t through o_t uses the full da_o, dq_o included); da_g and
    dc_{t-1} are unchanged. dq at the end is the gradient of q0 (and the incoming gradient of
    q_T starts it). The weight gradient is one big product at the end,
    dR = Σ_t da_{s,t}^T q_{t-1} (:func:`_gate_recurrent_grad`).

    The two time loops run in C++ (:mod:`lstm_lib.nn.compiled`: for float32/float64 on the CPU
    one vectorised element pass per step, the same equations to rounding; otherwise the Python
    loops' ATen calls in the same order, the same bits) where that kernel is built, else in
    Python (:func:`_lstm_forward_loop`, :func:`_lstm_backward_loop`).
    """

    @staticmethod
    def forward(ctx, mode, variant, x, h0, c0, W, U, b_ih, b_hh, p_i, p_f, p_o, h_mask, R=None,
                q0=None):
        H = h0.size(-1)
        flags = _FLAGS.get(mode, 0) | _FLAGS.get(variant, 0)
        fgr = variant == "FGR"
        # (T, N, gH), blocks o, (i,) f, g: W x_t + b for all t, then per step the pre-activations,
        # then (in place) the gate activations
        G = _input_projection(x, _o_first(W, H), _o_first(_sum_bias(b_ih, b_hh), H))
        U_t = _o_first(U, H).t()
        p_if = torch.stack([p_i, p_f]) if p_i is not None else None  # (2, H)
        # FGR inside: R and q in blocks o, i, f, so that q_t is G[t]'s first 3H columns
        R_t = _o_first_cols(_o_first(R, H), H).t() if fgr else None  # (3H, 3H)
        q0_p = _o_first_cols(q0, H) if fgr else None  # (N, 3H)
        loop_forward = (compiled.lstm_forward if compiled.available(x.device)
                        else _lstm_forward_loop)
        C, TC, Y = loop_forward(G, h0, c0, U_t, p_if, p_o, h_mask, R_t, q0_p, flags)
        ctx.mode, ctx.variant, ctx.flags = mode, variant, flags
        ctx.save_for_backward(x, h0, c0, W, U, b_ih, b_hh, p_i, p_f, p_o, h_mask, R, q0,
                              G, C, TC, Y)
        if fgr:
            return Y, Y[-1].clone(), C[-1].clone(), _o_last_cols(G[-1, :, :3 * H], H)
        return Y, Y[-1].clone(), C[-1].clone()

    @staticmethod
    def backward(ctx, dY, dh_T, dc_T, dq_T=None):
        (x, h0, c0, W, U, b_ih, b_hh, p_i, p_f, p_o, h_mask, R, q0,
         G, C, TC, Y) = ctx.saved_tensors
        fgr = ctx.variant == "FGR"
        grads = (dY, dh_T, dc_T, dq_T) if fgr else (dY, dh_T, dc_T)
        n_in = len(ctx.needs_input_grad)  # 13 when apply() was given no R, q0 (not FGR)
        if _backward_needs_graph(grads):
            return _backward_by_loop(
                ctx, _recompute_lstm,
                (ctx.mode, ctx.variant, x, h0, c0, W, U, b_ih, b_hh, p_i, p_f, p_o, h_mask,
                 R, q0)[:n_in], grads)
        H = h0.size(-1)
        loop_backward = (compiled.lstm_backward if compiled.available(G.device)
                         else _lstm_backward_loop)
        R_p = _o_first_cols(_o_first(R, H), H) if fgr else None  # (3H, 3H), blocks o, i, f
        if fgr and dq_T is None:
            dq_T = q0.new_zeros(q0.shape)
        da, dh, dc, dq = loop_backward(G, C, TC, c0, _o_first(U, H), p_i, p_f, p_o, h_mask, R_p,
                                       dY, dh_T, dc_T, _o_first_cols(dq_T, H) if fgr else None,
                                       ctx.flags)
        dx, dW, dU, db_ih, db_hh = _weight_grads(ctx, da, x, h0, Y, _o_first(W, H), h_mask,
                                                 ix=2, iw=5)  # (L10), (L11)
        dW, dU, db_ih, db_hh = (_o_last(v, H) for v in (dW, dU, db_ih, db_hh))
        need = ctx.needs_input_grad
        dp_i = dp_f = dp_o = None
        if p_i is not None:  # dp_i = Σ da_i ⊙ c_{t-1}, dp_f = Σ da_f ⊙ c_{t-1}, dp_o = Σ da_o ⊙ c_t
            C_prev = torch.cat([c0.unsqueeze(0), C[:-1]])
            dp_i = (da[..., H:2 * H] * C_prev).sum((0, 1)) if need[9] else None
            dp_f = (da[..., 2 * H:3 * H] * C_prev).sum((0, 1)) if need[10] else None
            dp_o = (da[..., :H] * C).sum((0, 1)) if need[11] else None
        dR = dq0 = None
        if fgr:  # dR = Σ_t da_{s,t}^T q_{t-1}, back to blocks i, f, o both ways
            if need[13]:
                dR_p = _gate_recurrent_grad(da[..., :3 * H], _o_first_cols(q0, H),
                                            G[..., :3 * H])
                dR = _o_last_cols(_o_last(dR_p, H), H)
            dq0 = _o_last_cols(dq, H) if need[14] else None
        return (None, None, dx, dh, dc, dW, dU, db_ih, db_hh, dp_i, dp_f, dp_o, None, dR,
                dq0)[:n_in]


def _lstm_forward_loop(G: Tensor, h0: Tensor, c0: Tensor, U_t: Tensor, p_if: Tensor | None,
                       p_o: Tensor | None, h_mask: Tensor | None, R_t: Tensor | None,
                       q0: Tensor | None, flags: int) -> tuple[Tensor, Tensor, Tensor]:
    """The forward time loop of :class:`LSTMFunction` (``lstm_forward`` of ``_steps.cpp``).

    G (T, N, gH), blocks o, (i,) f, g, holds W x_t + b and becomes the gate activations;
    U_t (H, gH); p_if (2, H) the stacked p_i, p_f or None; for FGR R_t (3H, 3H) = R^T and q0
    (N, 3H), both in blocks o, i, f (q_t is then G[t, :, :3H]), else None. Returns C (c_t),
    TC (tanh(c_t), or c_t for NOAF) and Y (h_t), each (T, N, H).
    """
    T, N, gH = G.shape
    H = h0.size(-1)
    cifg, peep = bool(flags & _FLAGS["CIFG"]), bool(flags & _FLAGS["PeepholeLSTM"])
    niaf, noaf = bool(flags & _FLAGS["NIAF"]), bool(flags & _FLAGS["NOAF"])
    fgr = bool(flags & _FLAGS["FGR"])
    nd = 2 if cifg else 3  # the blocks after o: (i,) f, g
    C = torch.empty(T, N, H, dtype=G.dtype, device=G.device)  # c_t
    TC = torch.empty_like(C)  # tanh(c_t)
    Y = torch.empty_like(C)  # h_t
    # per-step views, made in a few calls rather than a dozen per step
    Gs, Cs, TCs, Ys = G.unbind(0), C.unbind(0), TC.unbind(0), Y.unbind(0)
    Os, Fs, Gg = G[..., :H].unbind(0), G[..., -2 * H:-H].unbind(0), G[..., -H:].unbind(0)
    Sig = G[..., :nd * H].unbind(0)  # o, (i,) f: the blocks σ is applied to at once
    if not cifg:
        Is = G[..., H:2 * H].unbind(0)
    if peep:
        IFs = G[..., H:3 * H].unbind(0)
    h, c, q = h0, c0, q0
    for t in range(T):
        h_in = h if h_mask is None else h * h_mask
        Gs[t].addmm_(h_in, U_t)  # (N, gH) pre-activations of (L1)-(L4)
        if fgr:  # full gate recurrence: + R q_{t-1} on o, i, f; q_t is this block, once σ ran
            q = Sig[t].addmm_(q, R_t)
        if peep:  # (P1), (P2): i and f look at c_{t-1}
            IFs[t].view(N, 2, H).addcmul_(p_if, c.unsqueeze(1)).sigmoid_()
        else:
            Sig[t].sigmoid_()  # (L1), (L2), (L4)
        g = Gg[t] if niaf else Gg[t].tanh_()  # (L3)
        if cifg:  # (C1): c_t = f ⊙ c_{t-1} + (1 - f) ⊙ g = g + f ⊙ (c_{t-1} - g)
            c = torch.addcmul(g, Fs[t], c - g, out=Cs[t])
        else:
            c = torch.mul(Fs[t], c, out=Cs[t]).addcmul_(Is[t], g)  # (L5)
        if peep:
            Os[t].addcmul_(p_o, c).sigmoid_()  # (P3): o sees the new c_t
        if noaf:
            TCs[t].copy_(c)
            h = torch.mul(Os[t], c, out=Ys[t])
        else:
            h = torch.mul(Os[t], torch.tanh(c, out=TCs[t]), out=Ys[t])  # (L6)
    return C, TC, Y


def _lstm_backward_loop(G: Tensor, C: Tensor, TC: Tensor, c0: Tensor, U_p: Tensor,
                        p_i: Tensor | None, p_f: Tensor | None, p_o: Tensor | None,
                        h_mask: Tensor | None, R_p: Tensor | None, dY: Tensor, dh_T: Tensor,
                        dc_T: Tensor, dq_T: Tensor | None, flags: int,
                        ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The backward time loop of :class:`LSTMFunction` (``lstm_backward`` of ``_steps.cpp``):
    (L7)-(L10) per step, and FGR's dq_{t-1} = R^T da_{s,t} (see :class:`LSTMFunction`; R_p
    (3H, 3H) and dq_T (N, 3H) in blocks o, i, f, else None). Returns da (T, N, gH), the
    gradient on the pre-activations (blocks o first), dL/dh_0, dL/dc_0 (N, H) and dL/dq_0
    (N, 3H; (N, 0) without FGR)."""
    T, N, gH = G.shape
    cifg, peep = bool(flags & _FLAGS["CIFG"]), bool(flags & _FLAGS["PeepholeLSTM"])
    niaf, noaf = bool(flags & _FLAGS["NIAF"]), bool(flags & _FLAGS["NOAF"])
    fgr = bool(flags & _FLAGS["FGR"])
    H = gH // (3 if cifg else 4)
    nd = 2 if cifg else 3  # blocks whose gradient comes through dc_t: all but o
    one = G.new_ones(())
    da = torch.empty_like(G)  # (T, N, gH) gradient on the pre-activations, o first
    das, Gs = da.unbind(0), G.unbind(0)
    da_os, da_cs, da_gs = (da[..., :H].unbind(0), da[..., H:].unbind(0),
                           da[..., -H:].unbind(0))
    da_fs, Os, Fs, Gg = (da[..., -2 * H:-H].unbind(0), G[..., :H].unbind(0),
                         G[..., -2 * H:-H].unbind(0), G[..., -H:].unbind(0))
    if not cifg:
        da_is, Is = da[..., H:2 * H].unbind(0), G[..., H:2 * H].unbind(0)
    Cs, TCs, dYs = C.unbind(0), TC.unbind(0), dY.unbind(0)
    dh = dYs[T - 1] + dh_T
    dc = dc_T
    dq = dq_T if fgr else G.new_empty(N, 0)  # dL/dq_t, blocks o, i, f
    for t in range(T - 1, -1, -1):
        S, tc, c_prev, g, f = Gs[t], TCs[t], (Cs[t - 1] if t > 0 else c0), Gg[t], Fs[t]
        da_t, da_o = das[t], da_os[t]
        torch.addcmul(S, S, S, value=-1, out=da_t)  # σ'(a) = s(1 - s), the sigmoid blocks
        if niaf:
            da_g = da_gs[t].fill_(1)  # g = a_g
        else:
            da_g = torch.addcmul(one, g, g, value=-1, out=da_gs[t])  # tanh' = 1 - g², (L8)
        # o ⊙ (1 - tanh²(c_t)), the path from c_t to h_t (o for NOAF)
        K1 = Os[t].clone() if noaf else torch.addcmul(one, tc, tc, value=-1).mul_(Os[t])
        if fgr:  # dq_t enters before σ': da_s = σ'(a_s) ⊙ (the other paths + dq_s)
            da_o.mul_(torch.addcmul(dq[:, :H], tc, dh))  # σ'(a_o) ⊙ (dh ⊙ tanh(c_t) + dq_o)
            dc = torch.addcmul(dc, dh, K1)  # (L7) ...
            if peep:  # ... + the full da_o through (P3)
                dc.addcmul_(da_o, p_o)
            da_is[t].mul_(torch.addcmul(dq[:, H:2 * H], g, dc))
            da_fs[t].mul_(torch.addcmul(dq[:, 2 * H:], c_prev, dc))
            da_g.mul_(Is[t]).mul_(dc)
        else:
            da_o.mul_(tc)  # da_o / dh = tanh(c_t) ⊙ o(1 - o), (L8)
            if peep:  # c_t also reaches h_t through o_t (P3)
                K1.addcmul_(da_o, p_o)
            dc = torch.addcmul(dc, dh, K1)  # (L7): dL/dc_t
            da_o.mul_(dh)
            if cifg:  # f acts twice in (C1)
                da_fs[t].mul_(c_prev - g)  # da_f = dc ⊙ (c_{t-1} - g) ⊙ f(1 - f)
                da_g.mul_(1 - f)  # da_g = dc ⊙ (1 - f) ⊙ (1 - g²)
            else:
                da_is[t].mul_(g)  # da_i = dc ⊙ g ⊙ i(1 - i), (L8)
                da_fs[t].mul_(c_prev)  # da_f = dc ⊙ c_{t-1} ⊙ f(1 - f)
                da_g.mul_(Is[t])  # da_g = dc ⊙ i ⊙ (1 - g²)
            da_cs[t].view(N, nd, H).mul_(dc.unsqueeze(1))
        dc = dc * f  # (L9): dL/dc_{t-1} through the additive path
        if peep:  # ... and through i_t and f_t (P1), (P2)
            dc.addcmul_(da_is[t], p_i).addcmul_(da_fs[t], p_f)
        rec = da_t @ U_p  # (L10): dh_{t-1} = U^T da, in rows
        if h_mask is not None:
            rec = rec.mul_(h_mask)
        dh = rec.add_(dYs[t - 1]) if t > 0 else rec
        if fgr:  # dq_{t-1} = R^T da_{s,t}, in rows
            dq = da_t[:, :3 * H] @ R_p
    return da, dh, dc, dq


# ---- the GRU ---------------------------------------------------------------------------------
class GRUFunction(torch.autograd.Function):
    """GRU over a sequence, PyTorch's convention: eqs. (G1)-(G4) forward, (G5)-(G10) backward
    (the (G3) branches).

    ``apply(x, h0, W, U, b_ih, b_hh, h_mask)``: x (T, N, D), h0 (N, H), W (3H, D), U (3H, H),
    b_ih, b_hh (3H,) or None, h_mask (N, H) or None (recurrent dropout on h_{t-1} where it meets
    U only; the interpolation (G4) keeps the undropped h_{t-1}). Returns output (T, N, H), h_T.
    """

    @staticmethod
    def forward(ctx, x, h0, W, U, b_ih, b_hh, h_mask):
        T, N, _ = x.shape
        H = h0.size(-1)
        G = _input_projection(x, W, b_ih)  # (T, N, 3H): W x_t + b_ih, then r, z, n in place
        AH = torch.empty_like(G)  # U h_{t-1} + b_hh, per step
        Y = torch.empty(T, N, H, dtype=x.dtype, device=x.device)
        U_t = U.t()
        AHs, Ys = AH.unbind(0), Y.unbind(0)
        RZs, Rs, Zs, Ns = (G[..., :2 * H].unbind(0), G[..., :H].unbind(0),
                           G[..., H:2 * H].unbind(0), G[..., 2 * H:].unbind(0))
        AHrz, AHn = AH[..., :2 * H].unbind(0), AH[..., 2 * H:].unbind(0)
        h = h0
        for t in range(T):
            h_in = h if h_mask is None else h * h_mask
            if b_hh is None:
                torch.mm(h_in, U_t, out=AHs[t])
            else:
                torch.addmm(b_hh, h_in, U_t, out=AHs[t])
            RZs[t].add_(AHrz[t]).sigmoid_()  # (G1), (G2)
            n = Ns[t].addcmul_(Rs[t], AHn[t]).tanh_()  # (G3)
            h = torch.addcmul(n, Zs[t], h - n, out=Ys[t])  # (G4): (1 - z) n + z h_{t-1}
        ctx.save_for_backward(x, h0, W, U, b_ih, b_hh, h_mask, AH, G, Y)
        return Y, h.clone()

    @staticmethod
    def backward(ctx, dY, dh_T):
        x, h0, W, U, b_ih, b_hh, h_mask, AH, G, Y = ctx.saved_tensors
        if _backward_needs_graph((dY, dh_T)):
            return _backward_by_loop(ctx, _recompute_gru, (x, h0, W, U, b_ih, b_hh, h_mask),
                                     (dY, dh_T))
        T, N, H3 = G.shape
        H = H3 // 3
        one = G.new_ones(())
        # E = [da_n, da_r, da_z, r ⊙ da_n] per step: its first three blocks are the gradient on
        # the input pre-activations (in the order n, r, z), its last three the gradient on
        # U h_{t-1} + b_hh (in the order r, z, n): both are views, no copies
        E = torch.empty(T, N, 4 * H, dtype=G.dtype, device=G.device)
        Ys, dYs = Y.unbind(0), dY.unbind(0)
        Rs, Zs, Ns, RZs = (G[..., :H].unbind(0), G[..., H:2 * H].unbind(0),
                           G[..., 2 * H:].unbind(0), G[..., :2 * H].unbind(0))
        HNs = AH[..., 2 * H:].unbind(0)
        dans, dars, dazs, dhns, dahs = (E[..., :H].unbind(0), E[..., H:2 * H].unbind(0),
                                        E[..., 2 * H:3 * H].unbind(0), E[..., 3 * H:].unbind(0),
                                        E[..., H:].unbind(0))
        dh = dYs[T - 1] + dh_T
        for t in range(T - 1, -1, -1):
            r, z, n, rz = Rs[t], Zs[t], Ns[t], RZs[t]
            h_prev = Ys[t - 1] if t > 0 else h0
            Dt = torch.addcmul(rz, rz, rz, value=-1)  # σ'(a) = s(1 - s) for r and z
            da_n = torch.addcmul(one, n, n, value=-1, out=dans[t])  # (G6): 1 - n²
            da_n.mul_(1 - z).mul_(dh)  # (G5), (G6): da_n = dh ⊙ (1 - z) ⊙ (1 - n²)
            torch.mul(da_n, HNs[t], out=dars[t]).mul_(Dt[:, :H])  # (G7), (G8): da_r
            torch.sub(h_prev, n, out=dazs[t]).mul_(dh).mul_(Dt[:, H:])  # (G5): da_z
            torch.mul(da_n, r, out=dhns[t])  # gradient on U_n h_{t-1} + b_hn
            rec = dahs[t] @ U  # (G9): U_r^T da_r + U_z^T da_z + U_n^T (r ⊙ da_n)
            if h_mask is not None:
                rec = rec.mul_(h_mask)
            dh = rec.addcmul_(dh, z)  # (G9): + dh ⊙ z_t
            if t > 0:
                dh = dh.add_(dYs[t - 1])
        perm = torch.cat([torch.arange(2 * H, H3), torch.arange(2 * H)]).to(G.device)  # n, r, z
        dx, dW, dU, db_ih, db_hh = _weight_grads(ctx, E[..., :H3], x, h0, Y, W[perm], h_mask,
                                                 ix=0, iw=2, da_h=E[..., H:])  # (G10)
        back = torch.cat([torch.arange(H, H3), torch.arange(H)]).to(G.device)  # r, z, n again
        dW = dW[back] if dW is not None else None
        db_ih = db_ih[back] if db_ih is not None else None
        return dx, dh, dW, dU, db_ih, db_hh, None
