"""Auto-graded "implement it yourself" exercises: ``check(name, fn)`` grades a student's function.

The student writes a function with exactly the arguments and outputs of the book's function of
that name, and ``check`` runs it on a few random float64 cases (small shapes, N = 1 and H = 1
among them, non-zero biases, random upstream gradients)::

    from lstm_lib import exercises

    def lstm_step_backward(dh, dc_next, cache):
        raise NotImplementedError  # your code: return dx, dh_prev, dc_prev, dW, dU, db

    exercises.check("lstm_step_backward", lstm_step_backward)   # shows the report in a notebook
    report = exercises.check("lstm_step_backward", ref.lstm_step_backward)
    report.passed                     # True
    print(report)                     # one line per output, its relative error, hints

Every returned gradient is compared with centred differences (fourth order, eps = 1e-4) of the
forward pass and with the book's function; an output passes when its worst entrywise relative
error |a - n| / max(|a| + |n|, 1e-4) (as :func:`lstm_lib.reference.relative_error`) is below
``1e-6``. A wrong output is named by the book's name (``dx``, ``dh_prev``, ``dc_prev``, ``dW``,
...) and, when it equals the output of a known classic mistake (the grader computes each
deliberately wrong variant on the same case and compares), the report gives a hint. Problems
with the function itself (``NotImplementedError``, another exception, ``None``, the wrong
number of outputs, a wrong shape, NaN, an argument modified in place) are reported as text;
``check`` raises only for an unknown ``name`` or a ``fn`` that is not callable.

The names, the arguments the student's function receives, and what it must return:

* ``rnn_step_backward(dh, cache)`` -> dx, dh_prev, dW, dU, db
* ``lstm_step_backward(dh, dc_next, cache)`` -> dx, dh_prev, dc_prev, dW, dU, db
* ``peephole_step_backward(dh, dc_next, cache)`` -> the LSTM's six, then dp_i, dp_f, dp_o
* ``cifg_step_backward(dh, dc_next, cache)`` -> dx, dh_prev, dc_prev, dW, dU, db (blocks f, g, o)
* ``gru_step_backward(dh, cache)`` -> dx, dh_prev, dW, dU, db, db_hn (PyTorch's GRU)
* ``gru_cho_step_backward(dh, cache)`` -> dx, dh_prev, dW, dU, db (Cho et al. 2014)
* ``rnn_backward(dhs, caches, truncate=None)`` -> dxs, dh0, dW, dU, db
* ``lstm_backward(dhs, caches, truncate=None)`` -> dxs, dh0, dc0, dW, dU, db
* ``clip_grad_norm(grads, max_norm)`` -> clipped, norm

The book's function of each name, the one a student's is compared with, is the function of
``lstm_lib.reference`` of the same name, except ``clip_grad_norm``, which is
:func:`lstm_lib.clipping.clip_grad_norm` (eq. ``eq-vx-clip-norm`` of the vanishing and exploding
gradients chapter, on a dict of numpy gradients). The step functions' ``cache`` is what the
matching ``lstm_lib.reference.*_step_forward`` returned; ``caches`` is the tuple of the T step
caches of a sequence (``ForwardCache.steps`` of :meth:`lstm_lib.reference.Cell.forward`).
``solution(name)`` returns the book's function for any name, for ``show_source``.

Truncated BPTT, ``truncate=k``: as ``Cell.backward``, each loss term's gradient, ``dhs[t - 1]``
at step t, flows back through at most k steps (t, t-1, ..., t-k+1) and what would reach the
state before them is dropped; ``truncate=None`` is full BPTT. The sequence checks run every case
twice, with ``truncate=None`` and with ``truncate=k`` for a k < T, and compare both with centred
differences of the windowed loss (each term differentiated with the state at the start of its
window held fixed). ``clip_grad_norm`` has nothing to differentiate: it is compared with the
book's function on gradients whose norm is above, below and (one case) exactly zero.
"""

from __future__ import annotations

import copy
import math
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from lstm_lib.clipping import clip_grad_norm
from lstm_lib.reference.gradcheck import relative_error
from lstm_lib.reference.gru import (
    gru_cho_step_backward,
    gru_cho_step_forward,
    gru_step_backward,
    gru_step_forward,
)
from lstm_lib.reference.lstm import (
    CIFGStepCache,
    cifg_step_backward,
    cifg_step_forward,
    lstm_backward,
    lstm_step_backward,
    lstm_step_forward,
    peephole_step_backward,
    peephole_step_forward,
)
from lstm_lib.reference.rnn import rnn_backward, rnn_step_backward, rnn_step_forward

__all__ = ["NAMES", "Report", "check", "solution"]

TOLERANCE = 1e-6  # worst entrywise relative error below which an output passes
_EPS = 1e-4  # step of the fourth-order centred difference


# ---- the report ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Report:
    """What :func:`check` found; ``print(report)`` (or a notebook cell ending with it) shows it.

    Attributes:
        name: the exercise, e.g. ``"lstm_step_backward"``.
        passed: every output right on every case, and no problem with the function.
        errors: output name -> worst relative error against centred differences over the cases
            (``clip_grad_norm``: against the book's function); ``nan`` where not computed.
        book_errors: output name -> worst relative error against the book's function.
        problems: what stopped the check, one sentence each (not implemented, an exception, a
            wrong shape, ...); empty when every output could be compared.
        hints: output name -> the classic mistakes that output matches.
        cases: how many random cases ran (the sequence exercises: full and truncated runs).
    """

    name: str
    passed: bool
    errors: dict[str, float]
    book_errors: dict[str, float]
    problems: tuple[str, ...] = ()
    hints: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cases: int = 0

    @property
    def wrong(self) -> list[str]:
        """The outputs whose error exceeds the tolerance, in the book's order."""
        return [name for name, err in self.errors.items() if err > TOLERANCE]

    def __str__(self) -> str:
        if self.passed:
            worst = max(self.errors.values())
            return (f"{self.name}: passed. All {len(self.errors)} outputs "
                    f"({', '.join(self.errors)}) match on {self.cases} random cases{self._kind} "
                    f"(worst relative error {worst:.1e}).")
        lines = [f"{self.name}: not passed"
                 + (f": {len(self.wrong)} of {len(self.errors)} outputs wrong "
                    f"({', '.join(self.wrong)})." if self.wrong else ".")]
        lines += [f"  {p}" for p in self.problems]
        if not all(math.isnan(e) for e in self.errors.values()):
            width = max(6, *(len(n) for n in self.errors))
            lines.append(f"  {'output':<{width}}  relative error")
            for name, err in self.errors.items():
                verdict = ("not checked" if math.isnan(err)
                           else "ok" if err <= TOLERANCE else "WRONG")
                shown = "" if math.isnan(err) or math.isinf(err) else f"{err:.1e}"
                lines.append(f"  {name:<{width}}  {shown:<9} {verdict}")
        grouped: dict[str, list[str]] = {}  # one line per hint, listing the outputs it explains
        for name, hints in self.hints.items():
            for hint in hints:
                grouped.setdefault(hint, []).append(name)
        lines += [f"  hint ({', '.join(names)}): {hint}" for hint, names in grouped.items()]
        return "\n".join(lines)

    __repr__ = __str__

    @property
    def _kind(self) -> str:
        if self.name in ("rnn_backward", "lstm_backward"):
            return " (full and truncated BPTT)"
        return " (vs centred differences)" if self.name != "clip_grad_norm" else ""


# ---- one random case per call ----------------------------------------------------------------


@dataclass
class _Case:
    """The student's arguments, the names of the outputs, and how to compute the right ones."""

    args: tuple  # what fn receives
    numeric: Callable[[], tuple]  # the outputs by centred differences
    label: str = ""  # shown in messages, e.g. "N=1, D=2, H=3"
    extra: dict = field(default_factory=dict)


def _numerical_gradient(loss, arrays):
    """Fourth-order centred differences of the scalar ``loss()`` w.r.t. each array (in place)."""
    grads = []
    for arr in arrays:
        grad = np.zeros(arr.shape)
        for k in np.ndindex(arr.shape):
            old = arr[k]

            def delta(s, k=k, old=old, arr=arr):
                arr[k] = old + s
                plus = loss()
                arr[k] = old - s
                minus = loss()
                arr[k] = old
                return plus - minus

            grad[k] = (8 * delta(_EPS) - delta(2 * _EPS)) / (12 * _EPS)
        grads.append(grad)
    return tuple(grads)


@dataclass(frozen=True)
class _StepKind:
    """A step forward/backward pair of lstm_lib.reference and what its backward returns."""

    forward: Callable
    backward: Callable
    inputs: tuple[str, ...]  # the forward's arguments, in order (their gradients, in order)
    blocks: int  # gate blocks stacked in W, U, b
    cell_state: bool


_STEP_KINDS = {
    "rnn_step_backward": _StepKind(rnn_step_forward, rnn_step_backward,
                                   ("x", "h_prev", "W", "U", "b"), 1, False),
    "lstm_step_backward": _StepKind(lstm_step_forward, lstm_step_backward,
                                    ("x", "h_prev", "c_prev", "W", "U", "b"), 4, True),
    "peephole_step_backward": _StepKind(
        peephole_step_forward, peephole_step_backward,
        ("x", "h_prev", "c_prev", "W", "U", "b", "p_i", "p_f", "p_o"), 4, True),
    "cifg_step_backward": _StepKind(cifg_step_forward, cifg_step_backward,
                                    ("x", "h_prev", "c_prev", "W", "U", "b"), 3, True),
    "gru_step_backward": _StepKind(gru_step_forward, gru_step_backward,
                                   ("x", "h_prev", "W", "U", "b", "b_hn"), 3, False),
    "gru_cho_step_backward": _StepKind(gru_cho_step_forward, gru_cho_step_backward,
                                       ("x", "h_prev", "W", "U", "b"), 3, False),
}

_SHAPES = ((2, 3, 2), (1, 2, 3), (3, 2, 1), (2, 1, 2))  # (N, D, H), cycled through the cases
_SEQUENCE_SHAPES = ((2, 2, 2), (1, 2, 2), (2, 1, 1))  # smaller: the loss runs T steps or more


def _step_case(kind: _StepKind, rng: np.random.Generator, N: int, D: int, H: int) -> _Case:
    gH = kind.blocks * H
    shapes = {"x": (N, D), "h_prev": (N, H), "c_prev": (N, H), "W": (gH, D), "U": (gH, H),
              "b": (gH,), "b_hn": (H,), "p_i": (H,), "p_f": (H,), "p_o": (H,)}
    scale = {"x": 1.0, "h_prev": 0.7, "c_prev": 1.0}  # parameters: 0.6, biases included
    values = {name: scale.get(name, 0.6) * rng.standard_normal(shapes[name])
              for name in kind.inputs}
    dh = rng.standard_normal((N, H))
    dc = rng.standard_normal((N, H))
    out = kind.forward(*(values[n] for n in kind.inputs))
    cache = out[-1]
    args = (dh, dc, cache) if kind.cell_state else (dh, cache)
    probe = {name: v.copy() for name, v in values.items()}

    def loss():  # L = Σ dh·h (+ Σ dc·c): its gradient w.r.t. h (and c) is dh (and dc)
        res = kind.forward(*(probe[n] for n in kind.inputs))
        total = np.sum(dh * res[0])
        return total + np.sum(dc * res[1]) if kind.cell_state else total

    return _Case(args, lambda: _numerical_gradient(loss, [probe[n] for n in kind.inputs]),
                 f"N={N}, D={D}, H={H}")


# ---- sequence-level cases --------------------------------------------------------------------


def _sequence_case(kind: str, rng, N, D, H, T, truncate) -> _Case:
    step = _STEP_KINDS[f"{kind}_step_backward"]
    gH = step.blocks * H
    params = {"W": 0.6 * rng.standard_normal((gH, D)), "U": 0.6 * rng.standard_normal((gH, H)),
              "b": 0.6 * rng.standard_normal(gH)}
    xs = rng.standard_normal((T, N, D))
    state0 = [0.7 * rng.standard_normal((N, H)) for _ in range(1 + step.cell_state)]
    dhs = rng.standard_normal((T, N, H))

    def run(xs, state, p, start, stop):  # steps start .. stop-1 from `state`; states, caches
        states, caches = [tuple(state)], []
        for t in range(start, stop):
            out = step.forward(xs[t], *state, p["W"], p["U"], p["b"])
            state, cache = out[:-1], out[-1]
            states.append(tuple(state))
            caches.append(cache)
        return states, caches

    states, caches = run(xs, state0, params, 0, T)
    k = T if truncate is None else truncate
    probe = {"xs": xs.copy(), **{n: s.copy() for n, s in zip(("h0", "c0"), state0,
                                                             strict=False)},
             **{n: v.copy() for n, v in params.items()}}
    s0_names = ("h0", "c0")[:len(state0)]

    def loss():  # Σ_t dhs[t]·h_t, each h_t recomputed from the state at its window's start
        out, _ = run(probe["xs"], [probe[n] for n in s0_names], probe, 0, min(k, T))
        total = sum(np.sum(dhs[t] * out[t + 1][0]) for t in range(min(k, T)))  # from state0
        for t in range(k, T):  # later windows start from a state held fixed: the truncation
            out, _ = run(probe["xs"], list(states[t - k + 1]), probe, t - k + 1, t + 1)
            total += np.sum(dhs[t] * out[-1][0])
        return total

    names = ("xs", *s0_names, "W", "U", "b")
    return _Case((dhs, tuple(caches), truncate),
                 lambda: _numerical_gradient(loss, [probe[n] for n in names]),
                 f"T={T}, N={N}, D={D}, H={H}, truncate={truncate}")


# ---- clip_grad_norm cases --------------------------------------------------------------------


def _clip_case(rng, index) -> _Case:
    grads = {"W": rng.standard_normal((4, 3)), "U": rng.standard_normal((4, 2)),
             "b": rng.standard_normal(4)}
    norm = math.sqrt(sum(float(np.sum(g**2)) for g in grads.values()))
    if index % 3 == 0:
        max_norm = 0.3 * norm  # clipped
    elif index % 3 == 1:
        max_norm = 2.0 * norm  # left alone
    else:
        grads = {name: np.zeros_like(g) for name, g in grads.items()}
        max_norm = 1.0  # a zero gradient: no division by zero
    return _Case((grads, max_norm), lambda: None,
                 f"||g|| {'above' if index % 3 == 0 else 'below'} max_norm"
                 if index % 3 < 2 else "g = 0")


# ---- the known-mistake table -----------------------------------------------------------------
# Each entry is a deliberately wrong function with the student's arguments; when a wrong output
# of the student's equals that output of a wrong variant (and not the right one), its hint shows.


def _lstm_family_variant(dh, dc_next, cache, *, tanh_prime=True, carry_in=True, f_carry=True,
                         total_carry=True, swap_if=False, peep_c=True, peep_o=True,
                         cifg_twice=True):
    """lstm/peephole/cifg_step_backward with one knob turned to a classic mistake."""
    x, h_prev, c_prev, i, f, g, o, c, W, U = cache[:10]
    peephole, cifg = len(cache) == 13, isinstance(cache, CIFGStepCache)
    tanh_c = np.tanh(c)
    da_o = dh * tanh_c * o * (1 - o)
    dc = (dc_next if carry_in else 0.0) + dh * o * ((1 - tanh_c**2) if tanh_prime else 1.0)
    if peephole and peep_o:
        dc = dc + da_o * cache.p_o
    da_i = dc * g * i * (1 - i)
    da_f = dc * ((c_prev - g) if cifg and cifg_twice else c_prev) * f * (1 - f)
    da_g = dc * i * (1 - g**2)
    if cifg:
        blocks = [da_f, da_g, da_o]
    else:
        blocks = [da_f, da_i, da_g, da_o] if swap_if else [da_i, da_f, da_g, da_o]
    da = np.concatenate(blocks, axis=1)
    dc_prev = (dc if total_carry else dc_next) * (f if f_carry else 1.0)
    if peephole and peep_c:
        dc_prev = dc_prev + da_i * cache.p_i + da_f * cache.p_f
    outs = (da @ W, da @ U, dc_prev, da.T @ x, da.T @ h_prev, da.sum(axis=0))
    if peephole:
        outs += ((da_i * c_prev).sum(axis=0), (da_f * c_prev).sum(axis=0),
                 (da_o * c).sum(axis=0))
    return outs


def _rnn_variant(dh, cache, *, deriv="1-h2", dh_prev_UT=False):
    x, h_prev, h, W, U = cache
    da = dh * {"1-h2": 1 - h**2, "none": 1.0, "tanh(h)": 1 - np.tanh(h)**2}[deriv]
    dh_prev = da @ U.T if dh_prev_UT else da @ U
    return da @ W, dh_prev, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def _gru_variant(dh, cache, *, z_sign=True, direct=True, b_hn_in_dr=True, r_on_db_hn=True):
    x, h_prev, r, z, n, hn, W, U = cache
    da_n = dh * (1 - z) * (1 - n**2)
    da_z = dh * ((h_prev - n) if z_sign else (n - h_prev)) * z * (1 - z)
    H = h_prev.shape[1]
    u_n = h_prev @ U[2 * H:].T
    da_r = da_n * (hn if b_hn_in_dr else u_n) * r * (1 - r)
    dhn = da_n * r
    dax = np.concatenate([da_r, da_z, da_n], axis=1)
    dah = np.concatenate([da_r, da_z, dhn], axis=1)
    dh_prev = (dh * z if direct else 0.0) + dah @ U
    db_hn = dhn.sum(axis=0) if r_on_db_hn else da_n.sum(axis=0)
    return dax @ W, dh_prev, dax.T @ x, dah.T @ h_prev, dax.sum(axis=0), db_hn


def _gru_cho_variant(dh, cache, *, z_sign=True, direct=True, r_on_dh=True):
    x, h_prev, r, z, n, W, U = cache
    H = h_prev.shape[1]
    U_rz, U_n = U[:2 * H], U[2 * H:]
    da_n = dh * (1 - z) * (1 - n**2)
    da_z = dh * ((h_prev - n) if z_sign else (n - h_prev)) * z * (1 - z)
    drh = da_n @ U_n
    da_r = drh * h_prev * r * (1 - r)
    da_rz = np.concatenate([da_r, da_z], axis=1)
    dax = np.concatenate([da_rz, da_n], axis=1)
    dh_prev = (dh * z if direct else 0.0) + (drh * r if r_on_dh else drh) + da_rz @ U_rz
    dU = np.concatenate([da_rz.T @ h_prev, da_n.T @ (r * h_prev)], axis=0)
    return dax @ W, dh_prev, dax.T @ x, dU, dax.sum(axis=0)


_HINT_TANH = ("the factor (1 − tanh²(c_t)) is missing: h_t = o_t ⊙ tanh(c_t), so "
              "dc_t = dc_next + dh ⊙ o_t ⊙ (1 − tanh²(c_t)).")
_HINT_CARRY_IN = ("the incoming dc_next is not added: dc_t = dc_next + dh ⊙ o_t ⊙ "
                  "(1 − tanh²(c_t)); without it the gradient does not travel along the cell "
                  "state (the dc·f carry).")
_HINT_F = ("dc_prev = dc_t ⊙ f_t: the factor f_t is missing (c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t).")
_HINT_TOTAL = ("dc_prev must carry the total dc_t ⊙ f_t, including what reaches c_t through h_t, "
               "not only dc_next ⊙ f_t.")
_HINT_ORDER = ("the gate blocks are stacked i, f, g, o (PyTorch's order), not f, i, g, o: "
               "da = [da_i; da_f; da_g; da_o].")

# hints shared by both GRU conventions (their z_t paths are the same)
_GRU_Z_SWAP = ("∂h_t/∂z_t = h_{t−1} − n_t in PyTorch's convention h_t = (1 − z_t) ⊙ n_t + "
               "z_t ⊙ h_{t−1}; many texts swap z_t and 1 − z_t.")
_GRU_DIRECT = "dh_prev also gets dh ⊙ z_t directly, through z_t ⊙ h_{t−1}."

_LSTM_MISTAKES = (
    (_HINT_TANH, {"tanh_prime": False}),
    (_HINT_CARRY_IN, {"carry_in": False}),
    (_HINT_F, {"f_carry": False}),
    (_HINT_TOTAL, {"total_carry": False}),
)

_MISTAKES: dict[str, tuple[tuple[str, Callable], ...]] = {
    "rnn_step_backward": (
        ("the factor (1 − h_t²) is missing: h_t = tanh(a_t), so da = dh ⊙ (1 − h_t²) "
         "before any matrix product.", partial(_rnn_variant, deriv="none")),
        ("h_t already is tanh(a_t): tanh′(a_t) = 1 − h_t², not 1 − tanh²(h_t).",
         partial(_rnn_variant, deriv="tanh(h)")),
        ("dh_prev = U^T da, which for a batch in rows is da @ U, not da @ U.T.",
         partial(_rnn_variant, dh_prev_UT=True)),
    ),
    "lstm_step_backward": tuple((h, partial(_lstm_family_variant, **kw))
                                for h, kw in (*_LSTM_MISTAKES, (_HINT_ORDER, {"swap_if": True}))),
    "peephole_step_backward": tuple(
        (h, partial(_lstm_family_variant, **kw)) for h, kw in (
            *_LSTM_MISTAKES, (_HINT_ORDER, {"swap_if": True}),
            ("dc_prev also gets da_i ⊙ p_i + da_f ⊙ p_f: c_{t−1} reaches i_t and f_t through "
             "the peepholes (P1), (P2).", {"peep_c": False}),
            ("o_t looks at the new c_t (P3), so dc_t also gets da_o ⊙ p_o.",
             {"peep_o": False}))),
    "cifg_step_backward": tuple(
        (h, partial(_lstm_family_variant, **kw)) for h, kw in (
            *_LSTM_MISTAKES,
            ("with i_t = 1 − f_t, f_t acts twice in c_t: da_f = dc_t ⊙ (c_{t−1} − g_t) ⊙ "
             "f_t(1 − f_t).", {"cifg_twice": False}))),
    "gru_step_backward": (
        (_GRU_Z_SWAP, partial(_gru_variant, z_sign=False)),
        (_GRU_DIRECT, partial(_gru_variant, direct=False)),
        ("r_t multiplies U_n h_{t−1} + b_hn, so dr = da_n ⊙ (U_n h_{t−1} + b_hn), b_hn included.",
         partial(_gru_variant, b_hn_in_dr=False)),
        ("b_hn sits inside r_t ⊙ (·): db_hn = Σ_n r_t ⊙ da_n.",
         partial(_gru_variant, r_on_db_hn=False)),
    ),
    "gru_cho_step_backward": (
        (_GRU_Z_SWAP, partial(_gru_cho_variant, z_sign=False)),
        (_GRU_DIRECT, partial(_gru_cho_variant, direct=False)),
        ("n_t sees r_t ⊙ h_{t−1}, so that path gives dh_prev r_t ⊙ (U_n^T da_n), with r_t.",
         partial(_gru_cho_variant, r_on_dh=False)),
    ),
}


# ---- the names -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    outputs: tuple[str, ...]
    book: Callable
    cases: Callable  # (rng, index) -> _Case


def _step_spec(name: str) -> _Spec:
    kind = _STEP_KINDS[name]
    return _Spec(tuple(f"d{n}" for n in kind.inputs), kind.backward,
                 lambda rng, i: _step_case(kind, rng, *_SHAPES[i % len(_SHAPES)]))


_SPECS: dict[str, _Spec] = {name: _step_spec(name) for name in _STEP_KINDS}
_SPECS["rnn_backward"] = _Spec(("dxs", "dh0", "dW", "dU", "db"), rnn_backward, None)
_SPECS["lstm_backward"] = _Spec(("dxs", "dh0", "dc0", "dW", "dU", "db"), lstm_backward, None)
_SPECS["clip_grad_norm"] = _Spec(("clipped", "norm"), clip_grad_norm,
                                 lambda rng, i: _clip_case(rng, i))

NAMES: tuple[str, ...] = tuple(_SPECS)


def solution(name: str) -> Callable:
    """The book's function for an exercise name (for ``show_source`` in a solution)."""
    _check_name(name)
    return _SPECS[name].book


def _check_name(name) -> None:
    if name not in _SPECS:
        raise ValueError(f"unknown exercise name: expected one of {list(NAMES)}, got {name!r}")


# ---- running the student's function ----------------------------------------------------------


class _Stop(Exception):
    """A problem with the student's function that ends the check (its message is for them).

    ``per_case``: the problem depends on the case (a shape, NaN), so the message names it.
    """

    def __init__(self, message: str, per_case: bool = False):
        super().__init__(message)
        self.per_case = per_case


def _call(fn, args, name):
    """Call fn on deep copies of args; return its result, or raise _Stop with a clear message."""
    before = copy.deepcopy(args)
    given = copy.deepcopy(args)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = fn(*given)
    except NotImplementedError:
        raise _Stop(f"{name} is not implemented yet (it raised NotImplementedError): write its "
                    f"body and run the check again.") from None
    except Exception as exc:  # the student's bug, reported as text, not as a traceback
        frames = traceback.extract_tb(exc.__traceback__)[1:]  # drop the grader's own frame
        # The student's last line, not numpy's or the library's (when they call into them).
        own = [f for f in frames if not any(part in f.filename for part in
                                            ("site-packages", "lstm_lib", "/numpy/"))]
        last = (own or frames or [None])[-1]
        where = f" at line {last.lineno} ({last.line.strip()})" if last and last.line else ""
        raise _Stop(f"{name} raised {type(exc).__name__}: {exc}{where}.") from None
    modified = next((found for arg, b, a in zip(_argument_names(name), before, given, strict=True)
                     if (found := _modified(b, a, arg))), None)
    if modified:
        raise _Stop(f"{name} modified its argument {modified} in place; compute new arrays "
                    f"instead (the caller still needs the cache).")
    return result


def _modified(before, after, path="") -> str | None:
    """The path of the first array in ``after`` that differs from ``before``, else None."""
    if isinstance(before, np.ndarray):
        same = (isinstance(after, np.ndarray) and before.shape == after.shape
                and np.array_equal(before, after, equal_nan=True))
        return None if same else path or "array"
    if isinstance(before, dict):
        for key in before:
            found = _modified(before[key], after[key], f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(before, tuple | list):
        fields = getattr(before, "_fields", None)
        for j, (b, a) in enumerate(zip(before, after, strict=True)):
            sub = f"{path}.{fields[j]}" if fields else f"{path}[{j}]"
            found = _modified(b, a, sub)
            if found:
                return found
    return None


def _argument_names(name: str) -> tuple[str, ...]:
    if name in ("lstm_step_backward", "peephole_step_backward", "cifg_step_backward"):
        return ("dh", "dc_next", "cache")
    if name.endswith("step_backward"):
        return ("dh", "cache")
    if name == "clip_grad_norm":
        return ("grads", "max_norm")
    return ("dhs", "caches", "truncate")


def _as_outputs(result, spec: _Spec, name: str) -> list:
    n = len(spec.outputs)
    listing = ", ".join(spec.outputs)
    if result is None:
        raise _Stop(f"{name} returned None: expected a tuple of {n} values ({listing}); "
                    f"is a `return` missing?")
    if not isinstance(result, tuple | list):
        raise _Stop(f"{name} returned one {type(result).__name__}: expected a tuple of {n} "
                    f"values ({listing}).")
    if len(result) != n:
        raise _Stop(f"{name} returned {len(result)} values: expected {n} ({listing}), "
                    f"in this order.")
    return list(result)


def _generic_hints(out_name: str, got: np.ndarray, right: np.ndarray, N: int | None) -> list:
    """Mistakes seen from the shape or a simple relation to the right answer."""
    hints = []
    weight = out_name in ("dW", "dU")
    source = "x" if out_name == "dW" else "h_prev"
    transposed = (f"{out_name} is transposed: it has the shape of {out_name[1:]}, (gH, "
                  f"{'D' if out_name == 'dW' else 'H'}), so {out_name} = da.T @ {source}, "
                  f"not {source}.T @ da.")
    if weight and right.ndim == 2 and got.shape == right.shape[::-1] != right.shape:
        hints.append(transposed)
    elif (weight and got.shape == right.shape and right.shape[0] == right.shape[1]
          and _close(got, right.T) and not _close(got, right)):
        hints.append(transposed)
    if right.ndim == 1 and out_name.startswith(("db", "dp")):
        if got.ndim == 2 and got.shape[1] == right.shape[0]:
            hints.append(f"{out_name} must be summed over the batch: .sum(axis=0), one entry "
                         f"per unit, not one row per sequence.")
        elif (N and N > 1 and got.shape == right.shape and _close(got * N, right)):
            hints.append(f"{out_name} is the sum over the batch, not the mean.")
    if got.shape == right.shape and np.any(right != 0) and _close(-got, right):
        hints.append(f"{out_name} has the wrong sign.")
    return hints


def _close(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and float(relative_error(a, b).max(initial=0.0)) <= TOLERANCE


def _to_array(value, out_name: str, name: str) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _Stop(f"{name}'s output {out_name} is a {type(value).__name__}, not an array "
                    f"of numbers.") from None
    return arr


def check(name: str, fn: Callable, *, cases: int = 3, seed: int = 0) -> Report:
    """Grade ``fn``, a student's version of the book's function ``name``; see the module doc.

    Args:
        name: one of :data:`NAMES`, e.g. ``"lstm_step_backward"``.
        fn: the student's function, called with exactly the book's function's arguments.
        cases: how many random cases (the sequence exercises run each twice: full, truncated).
        seed: the seed of the cases.

    Returns:
        A :class:`Report`; ``report.passed``, and ``print(report)`` names each wrong output.

    Raises:
        ValueError: ``name`` is not an exercise (the message lists them).
        TypeError: ``fn`` is not callable.

    Example::

        report = check("rnn_step_backward", ref.rnn_step_backward)
        assert report.passed, report
    """
    _check_name(name)
    if not callable(fn):
        raise TypeError(f"fn must be a function: expected a callable with the arguments of "
                        f"{name}, got {type(fn).__name__} {fn!r}")
    if isinstance(cases, bool) or not isinstance(cases, int) or cases < 1:
        raise ValueError(f"cases must be a positive int: expected >= 1, got {cases!r}")
    spec = _SPECS[name]
    rng = np.random.default_rng(seed)
    errors = dict.fromkeys(spec.outputs, math.nan)
    book_errors = dict.fromkeys(spec.outputs, math.nan)
    hints: dict[str, list[str]] = {}
    runs = list(_cases(name, spec, rng, cases))
    problems: tuple[str, ...] = ()
    output_problems: dict[str, str] = {}
    for case in runs:
        try:
            _grade_case(name, spec, fn, case, errors, book_errors, hints, output_problems)
        except _Stop as stop:
            problems = (f"{stop} (case: {case.label})" if stop.per_case else str(stop),)
            break
    problems = tuple(output_problems.values()) + problems
    passed = not problems and all(e <= TOLERANCE for e in errors.values())
    return Report(name, passed, errors, book_errors, problems,
                  {k: tuple(dict.fromkeys(v)) for k, v in hints.items()}, len(runs))


def _worst(errors: dict, key: str, err: float) -> None:
    """Keep the worst error of ``key`` over the cases (nan: not computed yet)."""
    errors[key] = err if math.isnan(errors[key]) else max(errors[key], err)


def _cases(name, spec, rng, cases):
    if name in ("rnn_backward", "lstm_backward"):
        kind = name.removesuffix("_backward")
        for i in range(cases):
            N, D, H = _SEQUENCE_SHAPES[i % len(_SEQUENCE_SHAPES)]
            T = 4 - i % 2
            seed = int(rng.integers(2**31))
            yield _sequence_case(kind, np.random.default_rng(seed), N, D, H, T, None)
            yield _sequence_case(kind, np.random.default_rng(seed), N, D, H, T,
                                 1 + i % (T - 1))
    else:
        for i in range(cases):
            yield spec.cases(rng, i)


def _grade_case(name, spec, fn, case, errors, book_errors, hints, output_problems):
    result = _as_outputs(_call(fn, case.args, name), spec, name)
    right = spec.book(*copy.deepcopy(case.args))
    if name == "clip_grad_norm":
        _grade_clip(name, result, right, case, errors, book_errors, hints, output_problems)
        return
    numeric = case.numeric()
    N = case.args[0].shape[-2]
    mistakes = _mistake_outputs(name, case)
    for j, out_name in enumerate(spec.outputs):
        got = _to_array(result[j], out_name, name)
        want = np.asarray(right[j])
        if got.shape != want.shape:
            hints.setdefault(out_name, []).extend(_generic_hints(out_name, got, want, N))
            output_problems.setdefault(out_name, f"{out_name} has the wrong shape: expected "
                                       f"{want.shape}, got {got.shape} (case: {case.label}).")
            _worst(errors, out_name, math.inf)
            continue
        if not np.all(np.isfinite(got)):
            output_problems.setdefault(out_name, f"{out_name} holds NaN or inf "
                                       f"({int(np.sum(~np.isfinite(got)))} of {got.size} "
                                       f"entries; case: {case.label}).")
            _worst(errors, out_name, math.inf)
            continue
        err = float(relative_error(got, numeric[j]).max(initial=0.0))
        _worst(errors, out_name, err)
        _worst(book_errors, out_name, float(relative_error(got, want).max(initial=0.0)))
        if err > TOLERANCE:
            found = [hint for hint, outs in mistakes
                     if not _close(outs[j], want) and _close(got, outs[j])]
            found += _generic_hints(out_name, got, want, N)
            if found:
                hints.setdefault(out_name, []).extend(found)


def _mistake_outputs(name, case):
    out = []
    for hint, wrong in _MISTAKES.get(name, ()) + _SEQUENCE_MISTAKES.get(name, ()):
        try:
            values = wrong(*copy.deepcopy(case.args))
        except Exception:  # a variant that does not apply to this case (e.g. shapes): skip
            continue
        out.append((hint, [np.asarray(v, dtype=float) for v in values]))
    return out


def _grade_clip(name, result, right, case, errors, book_errors, hints, output_problems):
    clipped, norm = result
    want_clipped, want_norm = right
    if not isinstance(clipped, dict):
        raise _Stop(f"{name} must return a dict name -> clipped array first: got a "
                    f"{type(clipped).__name__}.")
    if set(clipped) != set(want_clipped):
        raise _Stop(f"clipped must have the keys of grads: expected {sorted(want_clipped)}, "
                    f"got {sorted(clipped)}.")
    try:
        norm = float(norm)
    except (TypeError, ValueError):
        raise _Stop(f"norm must be a number (the global norm before clipping): got a "
                    f"{type(norm).__name__}.") from None
    if not math.isfinite(norm):
        raise _Stop(f"norm is {norm}.", per_case=True)
    err = 0.0
    for key, want in want_clipped.items():
        got = _to_array(clipped[key], f"clipped[{key!r}]", name)
        if got.shape != want.shape:
            output_problems.setdefault("clipped", f"clipped[{key!r}] has the wrong shape: "
                                       f"expected {want.shape}, got {got.shape}.")
            err = math.inf
            continue
        err = max(err, float(relative_error(got, want).max(initial=0.0)))
    norm_err = float(relative_error(norm, want_norm))
    for errs in (errors, book_errors):
        _worst(errs, "clipped", err)
        _worst(errs, "norm", norm_err)
    grads, max_norm = case.args
    for out_name, e in (("clipped", err), ("norm", norm_err)):
        if e <= TOLERANCE:
            continue
        for hint, wrong in _CLIP_MISTAKES:
            w_clipped, w_norm = wrong(copy.deepcopy(grads), max_norm)
            if out_name == "norm":
                match = _close(norm, w_norm) and not _close(w_norm, want_norm)
            else:
                match = (all(_close(clipped[k], w_clipped[k]) for k in want_clipped)
                         and not all(_close(w_clipped[k], want_clipped[k])
                                     for k in want_clipped))
            if match:
                hints.setdefault(out_name, []).append(hint)


def _clip_per_array(grads, max_norm):
    out = {}
    for k, g in grads.items():
        n = float(np.linalg.norm(g))
        out[k] = g * (min(1.0, max_norm / n) if n > 0 else 1.0)
    return out, clip_grad_norm(grads, max_norm)[1]


def _clip_always(grads, max_norm):
    norm = clip_grad_norm(grads, max_norm)[1]
    return {k: g * (max_norm / norm if norm > 0 else 1.0) for k, g in grads.items()}, norm


def _clip_norm_after(grads, max_norm):
    clipped, norm = clip_grad_norm(grads, max_norm)
    return clipped, min(norm, max_norm)


def _clip_no_sqrt(grads, max_norm):
    return clip_grad_norm(grads, max_norm)[0], sum(float(np.sum(g**2)) for g in grads.values())


_CLIP_MISTAKES = (
    ("the norm is global: one ||g|| over all arrays together and one scale factor for all, not "
     "one per array.", _clip_per_array),
    ("the factor is min(1, max_norm / ||g||): a gradient whose norm is already below max_norm "
     "is left as it is.", _clip_always),
    ("clipping by value (np.clip) changes the direction; clip by the global norm.",
     lambda grads, m: ({k: np.clip(g, -m, m) for k, g in grads.items()},
                       clip_grad_norm(grads, m)[1])),
    ("return the norm *before* clipping (as torch's clip_grad_norm_ does), not after.",
     _clip_norm_after),
    ("||g|| is the square root of the sum of squares.", _clip_no_sqrt),
)


# ---- mistakes of the sequence exercises ------------------------------------------------------


def _seq_variant(kind, dhs, caches, truncate=None, *, ignore_truncate=False, chunked=False,
                 no_carry=False, overwrite=False, window_plus_one=False, no_dc_carry=False):
    """rnn_backward / lstm_backward with one classic mistake."""
    book = rnn_backward if kind == "rnn" else lstm_backward
    T = len(caches)
    if ignore_truncate:
        return book(dhs, caches, None)
    if window_plus_one:
        return book(dhs, caches, None if truncate is None else truncate + 1)
    if no_carry:
        return book(dhs, caches, 1)
    if chunked:  # cut into chunks of k steps, the state detached between them
        k = T if truncate is None else truncate
        parts = [book(dhs[s:s + k], caches[s:s + k], None) for s in range(0, T, k)]
        return (np.concatenate([p[0] for p in parts]), *parts[0][1:-3],
                *(sum(p[j] for p in parts) for j in (-3, -2, -1)))
    if truncate is not None:  # the two remaining mistakes are shown on full BPTT
        return book(dhs, caches, truncate)
    step = rnn_step_backward if kind == "rnn" else lstm_step_backward
    dxs = np.zeros((T, *caches[0][0].shape))
    dstate = [np.zeros(dhs.shape[1:])] * (2 if kind == "lstm" else 1)  # dh (and dc)
    grads = None
    for t in reversed(range(T)):
        if no_dc_carry:
            dstate[1] = np.zeros(dhs.shape[1:])
        res = step(dhs[t] + dstate[0], *dstate[1:], caches[t])
        dxs[t], dstate = res[0], list(res[1:-3])
        keep = grads is not None and not overwrite
        grads = [a + b for a, b in zip(grads, res[-3:], strict=True)] if keep else res[-3:]
    return (dxs, *dstate, *grads)


def _sequence_mistakes(kind):
    mistakes = [
        ("truncate=k must stop each loss term's gradient after k steps; the result equals full "
         "BPTT, as if truncate were ignored.", dict(ignore_truncate=True)),
        ("this is chunked truncation (the gradient cut every k steps at fixed chunk "
         "boundaries); the book's truncate=k gives each loss term its own window of k steps "
         "(Williams & Peng's BPTT(h)), as Cell.backward does.", dict(chunked=True)),
        ("the window is one step too long: steps t, t-1, ..., t-k+1 are k steps.",
         dict(window_plus_one=True)),
        ("the gradient from step t+1 is not carried back: the dh entering step t is "
         "dhs[t] + the dh_prev of step t+1.", dict(no_carry=True)),
        ("dW, dU, db must be summed over the time steps (+=), not overwritten.",
         dict(overwrite=True)),
    ]
    if kind == "lstm":
        mistakes.append(("dc_prev of step t+1 must be passed into step t's backward as dc_next: "
                         "the cell path carries the gradient.", dict(no_dc_carry=True)))
    return tuple((hint, partial(_seq_variant, kind, **kw)) for hint, kw in mistakes)


_SEQUENCE_MISTAKES = {"rnn_backward": _sequence_mistakes("rnn"),
                      "lstm_backward": _sequence_mistakes("lstm")}
