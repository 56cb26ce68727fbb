r"""The linear recurrence h_t = a_t ⊙ h_{t-1} + b_t, as a loop and as a parallel scan.

MinGRU and MinLSTM (Feng et al. 2024) compute their gates from x_t alone, so their state update
is *linear* in h: with a_t, b_t known for every t before the recurrence starts,

    (S1)  h_t = a_t ⊙ h_{t-1} + b_t,        t = 1 .. T,  h_0 given,

and every h_t can be computed at once instead of one step after the other.

**Why a linear recurrence is a scan.** Write one step as the affine map φ_t(h) = a_t h + b_t
(elementwise), stored as the pair (a_t, b_t). Composing two steps, first (a, b) then (a', b'),

    φ'(φ(h)) = a'(a h + b) + b' = (a' a) h + (a' b + b'),

is again such a map, so define (a, b) • (a', b') = (a a', a' b + b'). Composition of functions is
associative, hence so is •; checking it directly, both groupings of three steps give
(a a' a'', a'' a' b + a'' b' + b''). h_t = (φ_t ∘ … ∘ φ_1)(h_0) is therefore a prefix "sum"
under an associative operator, a *scan*, which a parallel machine computes in O(log T) depth
(Blelloch 1990). Unrolling the composition gives the closed form

    (S2)  h_t = A_t ⊙ h_0 + Σ_{s=1}^{t} (A_t / A_s) ⊙ b_s,     A_t = Π_{r=1}^{t} a_r.

**Heinsen's log-space scan** (Heinsen 2023) evaluates (S2) with two library prefix operations,
``cumsum`` and ``logcumsumexp``, both parallel scans themselves. With a* = log A (the cumsum of
log a_t) and positive b,

    (S3)  Σ_{s≤t} (A_t / A_s) b_s = exp( a*_t + logcumsumexp_{s≤t}(log b_s − a*_s) ),

where logcumsumexp shifts by the running maximum, so neither the tiny A_t nor the huge 1 / A_s is
ever formed: the products that underflow in (S2) stay finite sums in log space.

**Signs.** Logs need positive numbers; the gates give a_t ∈ (0, 1), but h_0 and, in general,
b_t may be negative or zero (public ports of minGRU that push h_0 through log(g(h_0)) disagree
with their own sequential mode for such h_0). Two devices keep everything exact:

* h_0 never enters a log: its term A_t ⊙ h_0 of (S2) is added in linear space, with its sign.
* A signed b is split into its positive and negative parts, b = b⁺ − b⁻ with b⁺ = max(b, 0),
  b⁻ = max(−b, 0); (S3) is linear in b, so h = scan(b⁺) − scan(b⁻). A zero part has log −∞;
  a finite floor far below any real log value stands in for it, which exp maps back to exactly
  0 while every intermediate stays finite (no −∞ − (−∞) = NaN anywhere).

The layers pass log a_t and log b_t straight from the pre-activations (log σ(k) =
−softplus(−k)), so no gate is ever rounded to 0 or 1 before its log is taken.

**Precision.** Each term of (S3) rounds a*_t − a*_s through the large numbers a*_t and a*_s,
so the relative error grows with |a*_T| (about T · mean |log a_t|) times the float's unit
roundoff: harmless in float64, visible in float32 over very long sequences. ``chunk`` (default
128) bounds it: the log-space scan runs on chunks of that many steps, all chunks at once, and
the chunks are joined by (S1) once more, one step per chunk, over the chunks' end states: T / 128
cheap steps instead of T. On float32 at T = 10⁴ this takes the worst relative error against a
float64 loop from about 2e-4 (one chunk) to about 1e-5. The error still scales with
chunk · |log a_t|: gates saturated far beyond any trained model's (|log a_t| ~ 10³) leave float32
about three digits; float64 keeps ten.

**Gradients.** The backward of a linear scan is a linear scan run backwards in time. With dh_t
the gradient the loss sends to h_t directly, the total gradient g_t = dL/dh_t obeys

    (S4)  g_t = dh_t + a_{t+1} ⊙ g_{t+1},   g_T = dh_T,

which is (S1) with time reversed and signed b = dh; then dL/db_t = g_t, dL/da_t = g_t ⊙ h_{t-1}
and dL/dh_0 = a_1 ⊙ g_1. The parallel functions use (S4) as their backward (the same chunked
log-space scan, signs split), not autograd through ``logcumsumexp``: that keeps the gradient
exact where some b_t = 0 (log b has no derivative there) and as precise as the forward. They
are first-order differentiable only (``once_differentiable``).

**On a CPU** a loop without autograd's per-step graph beats the log-space scan: T in-place
steps on (N, H) tensors cost less than logs and exponentials of every element. (The autograd
loop, :func:`sequential_scan` or the layers' ``scan="sequential"``, does not: its graph of T
small nodes is what the parallel scan saves.) The layers' ``scan="fused"`` mode, their default
on a CPU, runs (S1) and (S4) that way, in linear space, with the gates' derivatives written by
hand: :mod:`lstm_lib.nn.minimal_fused`.

Shapes: time on dim 0, (T, ...) for a, b and h, (...) for h_0; every function here works on any
device and floating dtype torch supports (no numpy, no host round trip in the layers' path).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["heinsen_scan", "parallel_scan", "parallel_scan_log", "sequential_scan"]


def sequential_scan(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """The loop of (S1): h_t = a_t ⊙ h_{t-1} + b_t for t = 1 .. T.

    Shapes: a, b (T, ...) broadcastable to each other; h0 (...) or None (zeros).
    Returns h (T, ...), the states h_1 .. h_T.
    """
    a, b = _check_pair(a, b, "a", "b")
    h = _initial(h0, b)
    hs = []
    for a_t, b_t in zip(a, b, strict=True):  # one step after the other: T sequential steps
        h = a_t * h + b_t
        hs.append(h)
    return torch.stack(hs)


def heinsen_scan(log_a: Tensor, log_b: Tensor, h0: Tensor) -> Tensor:
    """Heinsen's scan, (S2)-(S3), in three lines: the core of :func:`parallel_scan_log`.

    h_t = A_t ⊙ h_0 + exp(a*_t + logcumsumexp_{s≤t}(log b_s − a*_s)), a* = cumsum(log a).
    One pass over the whole sequence (no chunks) and differentiable by plain autograd, for
    reading and experiments; :func:`parallel_scan_log` adds the chunks and the backward (S4).

    Shapes: log_a, log_b (T, ...); h0 (...). Returns h (T, ...).
    """
    a_star = torch.cumsum(log_a, dim=0)  # (T, ...) log A_t
    return torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=0)) + torch.exp(a_star) * h0


def parallel_scan_log(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None, *,
                      chunk: int | None = 128) -> Tensor:
    """(S1) with a_t = exp(log_a[t]) and b_t = exp(log_b[t]) > 0, by Heinsen's scan (S2)-(S3).

    Args:
        log_a: (T, ...) log a_t; any real values (a_t > 0).
        log_b: (T, ...) log b_t, broadcastable with log_a (b_t > 0; see :func:`parallel_scan`
            for signed b).
        h0: (...) the initial state, any sign, or None (zeros). It enters in linear space.
        chunk: scan length of the inner, log-space scan (see the module docstring, Precision);
            None scans the whole sequence at once.

    Returns h (T, ...), equal to :func:`sequential_scan` up to rounding. Differentiable in all
    three arguments, by the reverse scan (S4) (first derivatives only).
    """
    log_a, log_b = _check_pair(log_a, log_b, "log_a", "log_b")
    _check_chunk(chunk)
    return _Scan.apply(log_a, log_b, _initial(h0, log_b), chunk, False)


def parallel_scan(a: Tensor, b: Tensor, h0: Tensor | None = None, *,
                  chunk: int | None = 128) -> Tensor:
    """(S1) for positive a_t and b_t of any sign, by the log-space scan; = :func:`sequential_scan`.

    b is split into b⁺ = max(b, 0) and b⁻ = max(−b, 0), each scanned in log space from a zero
    state, and h = A ⊙ h_0 + scan(b⁺) − scan(b⁻) (module docstring, Signs). The gradient
    comes from the reverse scan (S4), so it is right at b_t = 0 too, where log b has none.

    Shapes: a (T, ...) > 0, b (T, ...) broadcastable with a; h0 (...) or None.
    Returns h (T, ...).
    """
    a, b = _check_pair(a, b, "a", "b")
    _check_chunk(chunk)
    if bool((a <= 0).any()):
        raise ValueError("a must be positive for the log-space scan: expected a_t > 0 "
                         f"everywhere, got min(a) = {a.min().item():.3g}")
    return _Scan.apply(torch.log(a), b, _initial(h0, b), chunk, True)


class _Scan(torch.autograd.Function):
    r"""h = scan(log a, b or log b, h0), with the backward as one more scan, backwards in time.

    With g_t = dL/dh_t in total (from the loss at t and through h_{t+1} = a_{t+1} h_t + …),

        (S4)  g_t = dh_t + a_{t+1} ⊙ g_{t+1},   g_T = dh_T,

    which is (S1) again with time reversed, b = dh (any sign) and a shifted by one step. Then
    dL/db_t = g_t, dL/da_t = g_t ⊙ h_{t-1} (so dL/dlog a_t = g_t ⊙ h_{t-1} ⊙ a_t) and
    dL/dh_0 = a_1 ⊙ g_1. No log of b or of h is differentiated, so zeros and signs are safe.
    """

    @staticmethod
    def forward(ctx, log_a, b, h0, chunk, signed):
        shape = torch.broadcast_shapes(log_a.shape, b.shape)
        log_a_full, b_full = log_a.expand(shape), b.expand(shape)
        h0_full = h0.expand(shape[1:])
        if signed:
            h = _signed_scan(log_a_full, b_full, h0_full, chunk)
        else:
            h = _chunked_log_scan(log_a_full, b_full, h0_full, chunk)
        ctx.save_for_backward(log_a, b, h0, h)
        ctx.chunk, ctx.signed = chunk, signed
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dh):
        log_a, b, h0, h = ctx.saved_tensors
        shape = h.shape
        log_a_full = log_a.expand(shape)
        # (S4) as a forward scan of the time-reversed sequence: a_{t+1} pairs with g_{t+1}
        log_a_next = torch.cat([log_a_full[1:], log_a_full.new_zeros((1,) + shape[1:])])
        g = _signed_scan(log_a_next.flip(0), dh.flip(0), dh.new_zeros(shape[1:]),
                         ctx.chunk).flip(0)  # (T, ...) dL/dh_t in total
        a = torch.exp(log_a_full)
        h_prev = torch.cat([h0.expand(shape[1:]).unsqueeze(0), h[:-1]])  # h_0 .. h_{T-1}
        d_log_a = (g * h_prev * a).sum_to_size(log_a.shape)
        d_b = g if ctx.signed else g * torch.exp(b.expand(shape))
        d_h0 = (g[0] * a[0]).sum_to_size(h0.shape)
        return d_log_a, d_b.sum_to_size(b.shape), d_h0, None, None


# ---- helpers -------------------------------------------------------------------------------

def _chunked_log_scan(log_a: Tensor, log_b: Tensor, h0: Tensor, chunk: int | None) -> Tensor:
    """(S2)-(S3) in chunks of ``chunk`` steps joined by (S1); log_a, log_b (T, ...), h0 (...)."""
    T = log_a.shape[0]
    if chunk is None or T <= chunk:
        return heinsen_scan(log_a, log_b, h0)
    # Chunks of C steps, all scanned at once from a zero state: (K, C, ...) with time on dim 1.
    C, K = chunk, -(-T // chunk)
    pad = K * C - T  # padding steps at the end (a = 1, b = 0 there) never reach a kept output
    log_a_p = torch.cat([log_a, log_a.new_zeros((pad,) + log_a.shape[1:])])
    log_b_p = torch.cat([log_b, log_b.new_full((pad,) + log_b.shape[1:], _floor(log_b))])
    la = log_a_p.reshape((K, C) + log_a.shape[1:]).transpose(0, 1)  # (C, K, ...)
    lb = log_b_p.reshape((K, C) + log_b.shape[1:]).transpose(0, 1)
    cum = torch.cumsum(la, dim=0)  # (C, K, ...) log of the products inside each chunk
    local = torch.exp(cum + torch.logcumsumexp(lb - cum, dim=0))  # (C, K, ...) from zero state
    # The state entering chunk k is (S1) once more over the chunks: a = chunk product, b = the
    # chunk's local end state. Its log would be -inf where b underflows, so scan it linearly:
    # K steps only, each a multiply-add on (...) tensors.
    starts = [h0]
    for k in range(K - 1):
        starts.append(torch.exp(cum[-1, k]) * starts[-1] + local[-1, k])
    h_start = torch.stack(starts)  # (K, ...) the state before each chunk
    h = local + torch.exp(cum) * h_start  # (C, K, ...): (S2)'s h_0 term, per chunk
    return h.transpose(0, 1).reshape((K * C,) + log_a.shape[1:])[:T]


def _signed_scan(log_a: Tensor, b: Tensor, h0: Tensor, chunk: int | None) -> Tensor:
    """(S1) for b of any sign: scan(b⁺) from h0 minus scan(b⁻) from 0 (module doc, Signs)."""
    h = _chunked_log_scan(log_a, _log_or_floor(b), h0, chunk)
    return h - _chunked_log_scan(log_a, _log_or_floor(-b), torch.zeros_like(h0), chunk)


def _check_chunk(chunk) -> None:
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int)
                              or chunk < 1):
        raise ValueError(f"chunk must be None or a positive int, got {chunk!r}")


def _floor(like: Tensor) -> float:
    """A finite stand-in for log 0: exp of it (and of it minus any log value) is exactly 0."""
    return torch.finfo(like.dtype).min / 4


def _log_or_floor(b: Tensor) -> Tensor:
    """log b where b > 0, else the floor; the gradient is 0 where the floor is used."""
    positive = b > 0
    return torch.where(positive, torch.log(torch.where(positive, b, torch.ones_like(b))),
                       torch.full_like(b, _floor(b)))


def _check_pair(a: Tensor, b: Tensor, name_a: str, name_b: str) -> tuple[Tensor, Tensor]:
    for name, v in ((name_a, a), (name_b, b)):
        if not isinstance(v, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(v).__name__}")
        if not v.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {v.dtype}")
        if v.dim() == 0 or v.shape[0] == 0:
            raise ValueError(f"{name} must have time on dim 0 with T >= 1: expected shape "
                             f"(T, ...), got {tuple(v.shape)}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{name_a} and {name_b} must have the same length T on dim 0: got "
                         f"{a.shape[0]} and {b.shape[0]}")
    return a, b


def _initial(h0: Tensor | None, like: Tensor) -> Tensor:
    if h0 is None:
        return like.new_zeros(like.shape[1:])
    if not isinstance(h0, Tensor):
        raise TypeError(f"h0 must be a torch.Tensor or None, got {type(h0).__name__}")
    return h0
