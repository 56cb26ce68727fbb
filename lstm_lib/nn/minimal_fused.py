r"""The minGRU / minLSTM layer as one fused loop with a hand-written backward (``scan="fused"``).

Both layers update the state as a convex mix of h_{t-1} and the candidate h̃_t = g(k_h):

    (F1)  h_t = h_{t-1} + w_t ⊙ (h̃_t − h_{t-1}) = lerp(h_{t-1}, h̃_t, w_t),

with w_t = z_t = σ(k_z) (minGRU) or w_t = i′_t = σ(d_t), d_t = softplus(−k_f) − softplus(−k_i)
(minLSTM; 1 − w_t = f′_t). This is the linear recurrence h_t = a_t ⊙ h_{t-1} + b_t of
:mod:`lstm_lib.nn.scan` with a_t = 1 − w_t and b_t = w_t ⊙ h̃_t, written so that one step is one
``torch.lerp`` into a preallocated output: no a, no b, no autograd graph over T steps.

**Backward.** With dh_t the gradient the loss sends to h_t directly, the total gradient
G_t = dL/dh_t is the reverse scan (S4) of :mod:`lstm_lib.nn.scan`,

    (F2)  G_t = dh_t + (1 − w_{t+1}) ⊙ G_{t+1},   G_T = dh_T,

one in-place ``addcmul_`` per step; then, all t at once,

    (F3)  dL/dw_t = G_t ⊙ (h̃_t − h_{t-1}),   dL/dh̃_t = G_t ⊙ w_t,   dL/dh_0 = (1 − w_1) ⊙ G_1,

and the chain rule through the gates: dw/dk_z = w (1 − w) (minGRU); dw/dd = w (1 − w),
dd/dk_f = −softplus′(−k_f), dd/dk_i = softplus′(−k_i) (minLSTM); g′(a) = 1 (a > 0), g (1 − g)
(a < 0, where g = σ). At a = 0 exactly, and for softplus beyond its threshold 20, the
derivatives are the ones torch's autograd gives for the formulas of :mod:`lstm_lib.nn.minimal`
(0 and 1), so the three scans return the same gradients, not merely close ones.

The pre-activations k = W x_t + b (blocks z, h̃ or f, i, h̃) are one matrix product per block
for all t. The forward saves x, W, h_0, w, h̃, h and k_h (and softplus′(−k_f), softplus′(−k_i)
for the minLSTM): whole-sequence tensors, nothing per step. Without autograd
(``torch.no_grad()``, or no input that requires a gradient) nothing is saved and the gates are
computed in place in k. First-order differentiable only (``once_differentiable``), like the
parallel scan.

Shapes: x (T, N, D); weight_ih (gH, D); bias_ih (gH,) or None; h0 (N, H); returns h (T, N, H),
the states h_1 .. h_T.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from lstm_lib.nn import fused

__all__ = ["fused_minimal"]

_SOFTPLUS_THRESHOLD = 20.0  # F.softplus's default: softplus(x) = x, derivative 1, above it
KINDS = {"mingru": 2, "minlstm": 3}  # number of gate blocks in weight_ih


def fused_minimal(kind: str, x: Tensor, weight_ih: Tensor, bias_ih: Tensor | None,
                  h0: Tensor) -> Tensor:
    """h_1 .. h_T of one minGRU (``kind="mingru"``) or minLSTM (``"minlstm"``) layer, by (F1).

    Shapes: x (T, N, D); weight_ih (gH, D), g = 2 or 3 blocks; bias_ih (gH,) or None; h0 (N, H).
    Returns h (T, N, H). Differentiable in x, the weights and h0 by (F2)-(F3) when autograd
    needs it; otherwise the inference loop, which saves nothing and computes the gates in the
    memory of the pre-activations. Under autocast it computes in the inputs' own dtype.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {tuple(KINDS)}, got {kind!r}")
    if fused._autocast_enabled(x.device.type):
        # lerp and the out= steps take one dtype: run in the parameters' dtype, as if autocast
        # were off (the result's dtype is then the one the other scan modes return)
        with torch.autocast(x.device.type, enabled=False):
            return fused_minimal(kind, x, weight_ih, bias_ih, h0)
    tensors = (x, weight_ih, h0) + ((bias_ih,) if bias_ih is not None else ())
    if torch.is_grad_enabled() and any(v.requires_grad for v in tensors):
        return _FusedMinimal.apply(kind, x, weight_ih, bias_ih, h0)
    with torch.no_grad():
        k = _pre_activations(kind, x.reshape(-1, x.shape[-1]), x.shape[0], weight_ih, bias_ih)
        w, g, _ = _gates(kind, k, training=False)
        return _lerp_loop(w, g, h0)


def _pre_activations(kind: str, x2: Tensor, T: int, weight_ih: Tensor,
                     bias_ih: Tensor | None) -> list[Tensor]:
    """k = W x_t + b for every t, one contiguous (T, N, H) tensor per gate block; x2 (T N, D).

    One matrix product per block rather than one for all blocks: the same arithmetic, and every
    elementwise pass after it reads contiguous memory instead of a strided column block.
    """
    N = x2.shape[0] // T if T else 0
    ws = weight_ih.chunk(KINDS[kind], dim=0)
    H = ws[0].shape[0]
    if bias_ih is None:
        return [torch.mm(x2, w.t()).view(T, N, H) for w in ws]
    bs = bias_ih.chunk(KINDS[kind])
    return [torch.addmm(b, x2, w.t()).view(T, N, H) for w, b in zip(ws, bs, strict=True)]


def _candidate(k_h: Tensor) -> Tensor:
    """g(a) = σ(min(a, 0)) + max(a, 0): σ(a) for a < 0, σ(0) + a = a + 1/2 for a ≥ 0.

    The same numbers as :func:`lstm_lib.nn.minimal.candidate` (σ(0) = 1/2 exactly), in four
    passes over k_h instead of five, and no branch evaluated where it is discarded.
    """
    g = k_h.clamp(max=0).sigmoid_()
    return g.add_(k_h.clamp(min=0))


def _gates(kind: str, k: list[Tensor], *, training: bool) -> tuple[Tensor, Tensor, list[Tensor]]:
    """w (T, N, H), h̃ = g(k_h) (T, N, H) and what the backward needs, from the blocks k.

    ``training=False`` computes the gates in the memory of k's gate blocks and keeps nothing for
    a backward; ``training=True`` leaves k intact and returns [k_h] (minGRU) or
    [softplus′(−k_f), softplus′(−k_i), k_h] (minLSTM).
    """
    k_h = k[-1]
    if kind == "mingru":
        w = torch.sigmoid(k[0]) if training else k[0].sigmoid_()
        return w, _candidate(k_h), [k_h]
    w, sp_f, sp_i = _normalised_input_gate(k[0], k[1], training=training)
    return w, _candidate(k_h), ([sp_f, sp_i, k_h] if training else [])


def _normalised_input_gate(k_f: Tensor, k_i: Tensor, *, training: bool):
    """i′ = σ(d), d = softplus(−k_f) − softplus(−k_i): the minLSTM's w, (T, N, H); with
    ``training``, also dd/d(−k_f) = softplus′(−k_f) and softplus′(−k_i) (else None, None).

    :func:`lstm_lib.nn.minimal.minlstm_step` takes σ of the difference of two softplus, which
    never divides (f / (f + i) is 0/0 where both gates round to 0) but costs two exp-log1p
    pairs and a sigmoid. With u = e^{softplus(−k_f)} = 1 + e^{−k_f} and v = 1 + e^{−k_i} the
    same number is σ(log u − log v) = u / (u + v): two exps and a division, and
    softplus′(−k_f) = e^{−k_f} / u. F.softplus returns x itself above its threshold 20, so
    there u is e^{−k_f} without the 1 (and softplus′ = 1), which keeps the two forms equal to
    the last digits in float64 too. Where e^{−k} could overflow (k below about −86 in float32,
    −707 in float64) the softplus form is used for the whole tensor.
    """
    if not k_f.numel():
        return torch.empty_like(k_f), torch.empty_like(k_f), torch.empty_like(k_f)
    lowest = min(k_f.amin().item(), k_i.amin().item())  # one host sync: which formula applies
    if lowest < -(math.log(torch.finfo(k_f.dtype).max) - 2.0):  # u + v would overflow
        if not training:
            return F.softplus(k_f.neg_()).sub_(F.softplus(k_i.neg_())).sigmoid_(), None, None
        w = F.softplus(-k_f).sub_(F.softplus(-k_i)).sigmoid_()
        return w, _softplus_grad_neg(k_f), _softplus_grad_neg(k_i)
    thresholded = lowest < -_SOFTPLUS_THRESHOLD  # rare: only then is a mask needed
    e_f, u = _exp_softplus(k_f, thresholded, in_place=not training)
    e_i, v = _exp_softplus(k_i, thresholded, in_place=not training)
    if not training:
        return u.div_(v.add_(u)), None, None
    return u / (u + v), e_f.div_(u), e_i.div_(v)


def _exp_softplus(k: Tensor, thresholded: bool, *, in_place: bool) -> tuple[Tensor, Tensor]:
    """e^{−k} and u = e^{softplus(−k)} as F.softplus rounds it: 1 + e^{−k}, or e^{−k} itself
    where −k > 20 (looked for only if ``thresholded``). ``in_place`` overwrites k, and e^{−k}
    then shares u's memory where no threshold applies (the inference loop needs only u)."""
    above = k < -_SOFTPLUS_THRESHOLD if thresholded else None
    e = k.neg_().exp_() if in_place else torch.exp(-k)
    if above is not None:
        return e, torch.where(above, e, e + 1)
    return e, (e.add_(1) if in_place else e + 1)


def _lerp_loop(w: Tensor, g: Tensor, h0: Tensor) -> Tensor:
    """(F1): h_t = lerp(h_{t-1}, h̃_t, w_t), one op per step into the preallocated h (T, N, H)."""
    h = torch.empty(w.shape, dtype=w.dtype, device=w.device)
    h_prev = h0
    for w_t, g_t, h_t in zip(w.unbind(0), g.unbind(0), h.unbind(0), strict=True):
        torch.lerp(h_prev, g_t, w_t, out=h_t)
        h_prev = h_t
    return h


def _softplus_grad_neg(k: Tensor) -> Tensor:
    """d softplus(−k)/d(−k) as torch's autograd gives it: σ(−k), and 1 where −k > 20."""
    return torch.where(k < -_SOFTPLUS_THRESHOLD, 1.0, torch.sigmoid(k.neg()))


def _candidate_grad(k_h: Tensor, g: Tensor) -> Tensor:
    """g′(k_h): 1 above 0, g (1 − g) below (g = σ there), and 0 at 0 (relu′(0) = 0, as autograd
    has it for :func:`lstm_lib.nn.minimal.candidate`); (T, N, H).

    From sign(k_h) with float arithmetic only (torch runs it several times faster on a CPU than
    comparisons into bool masks and a ``where``): above = max(sign, 0) and below = above − sign
    are 1 on their side and 0 elsewhere; g is clamped to 1/2 so that the discarded g (1 − g) of
    the a ≥ 0 side stays finite.
    """
    sign = torch.sign(k_h)
    above = sign.clamp(min=0)  # 1 where k_h > 0
    below = torch.sub(above, sign)  # 1 where k_h < 0
    s = g.clamp(max=0.5)  # = g = σ(k_h) below 0
    return below.mul_(s).mul_(torch.rsub(s, 1)).add_(above)


class _FusedMinimal(torch.autograd.Function):
    """(F1) forward, (F2)-(F3) backward; see the module docstring."""

    @staticmethod
    def forward(ctx, kind, x, weight_ih, bias_ih, h0):
        x2 = x.reshape(-1, x.shape[-1])  # (T N, D), as the matrix products read it
        k = _pre_activations(kind, x2, x.shape[0], weight_ih, bias_ih)
        w, g, extras = _gates(kind, k, training=True)
        h = _lerp_loop(w, g, h0)
        ctx.kind, ctx.x_shape = kind, x.shape
        ctx.save_for_backward(x2, weight_ih, h0, w, g, h, *extras)
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dh):
        x2, weight_ih, h0, w, g, h, *extras = ctx.saved_tensors
        a = torch.rsub(w, 1)  # (T, N, H) a_t = 1 − w_t
        G = dh.clone(memory_format=torch.contiguous_format)  # (T, N, H), becomes dL/dh_t
        Gs, as_ = G.unbind(0), a.unbind(0)
        for t in range(G.shape[0] - 2, -1, -1):  # (F2), backwards in time
            Gs[t].addcmul_(as_[t + 1], Gs[t + 1])
        d_h0 = a[0] * G[0] if ctx.needs_input_grad[4] else None
        if not any(ctx.needs_input_grad[1:4]):
            return None, None, None, None, d_h0
        # (F3): dL/dw_t = G_t (h̃_t − h_{t-1}), then times dw/d(logit) = w (1 − w)
        dw = torch.empty_like(w)
        torch.sub(g[0], h0, out=dw[0])
        torch.sub(g[1:], h[:-1], out=dw[1:])
        dw.mul_(G).mul_(w).mul_(a)
        dg = G.mul_(w)  # dL/dh̃_t = G_t w_t; G is not needed any more
        k_h = extras[-1]
        if ctx.kind == "mingru":
            dk = [dw]  # dL/dk_z
        else:
            sp_f, sp_i = extras[0], extras[1]
            # saved tensors stay untouched: a graph may be differentiated more than once
            dk = [torch.mul(sp_f, dw).neg_(),  # dL/dk_f = −dL/dd softplus′(−k_f)
                  dw.mul_(sp_i)]  # dL/dk_i = dL/dd softplus′(−k_i)
        dk.append(dg.mul_(_candidate_grad(k_h, g)))  # dL/dk_h
        return (None,) + _linear_backward(ctx, x2, weight_ih, dk) + (d_h0,)


def _linear_backward(ctx, x2: Tensor, weight_ih: Tensor, dk: list[Tensor]):
    """dL/dx, dL/dW, dL/db of k_j = W_j x + b_j from the blocks dL/dk_j (T, N, H); x2 (T N, D)."""
    dk2 = [d.view(x2.shape[0], d.shape[-1]) for d in dk]  # (T N, H) each
    dx = dW = db = None
    if ctx.needs_input_grad[1]:
        ws = weight_ih.chunk(len(dk), dim=0)
        dx = torch.mm(dk2[0], ws[0])
        for d, w in zip(dk2[1:], ws[1:], strict=True):
            dx.addmm_(d, w)
        dx = dx.view(ctx.x_shape)
    if ctx.needs_input_grad[2]:
        dW = torch.cat([torch.mm(d.t(), x2) for d in dk2])  # (gH, D)
    if ctx.needs_input_grad[3]:
        db = torch.cat([d.sum(0) for d in dk2])  # (gH,)
    return dx, dW, db
