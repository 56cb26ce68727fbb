"""Hostile input for every public function of ``lstm_lib.reference``.

The policy (DESIGN.md, "Bad input"): the numpy reference rejects NaN/inf and every shape
mismatch, the public step functions included: no silent broadcasting of a ``b`` of shape
(gH, 1) or a ``c_prev`` of shape (1, H). Errors are ``ValueError`` (``TypeError`` for a wrong
type or dtype) and name the argument and the expected shape. Two documented exceptions, both
measuring tools rather than model code: ``sigmoid`` is elementwise math (NaN propagates, ±inf
give 0 and 1) and ``relative_error`` reports a non-finite entry as an infinite error.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from lstm_lib import reference as ref

N, D, H = 2, 3, 4
NAN, INF = float("nan"), float("inf")

# name -> (forward, backward, blocks, extra vectors of shape (H,), has a cell state)
STEPS = {
    "rnn": (ref.rnn_step_forward, ref.rnn_step_backward, 1, (), False),
    "lstm": (ref.lstm_step_forward, ref.lstm_step_backward, 4, (), True),
    "peephole": (ref.peephole_step_forward, ref.peephole_step_backward, 4,
                 ("p_i", "p_f", "p_o"), True),
    "cifg": (ref.cifg_step_forward, ref.cifg_step_backward, 3, (), True),
    "gru": (ref.gru_step_forward, ref.gru_step_backward, 3, ("b_hn",), False),
    "gru_cho": (ref.gru_cho_step_forward, ref.gru_cho_step_backward, 3, (), False),
}


def _args(kind: str, rng) -> dict[str, np.ndarray]:
    """Valid keyword arguments of the kind's step forward."""
    _, _, g, extra, cell = STEPS[kind]
    args = {"x": rng.standard_normal((N, D)), "h_prev": rng.standard_normal((N, H))}
    if cell:
        args["c_prev"] = rng.standard_normal((N, H))
    args.update(W=rng.standard_normal((g * H, D)), U=rng.standard_normal((g * H, H)),
                b=rng.standard_normal(g * H))
    args.update({name: rng.standard_normal(H) for name in extra})
    return args


def _forward(kind, args):
    return STEPS[kind][0](**args)


# ---- step forward: every argument, every way to get it wrong ----------------------------------
def _bad_step_cases():
    for kind, (_, _, g, extra, cell) in STEPS.items():
        gH = g * H
        cases = {
            "b (gH, 1) broadcast": ("b", np.zeros((gH, 1)), ValueError, r"b must have shape"),
            "b too short": ("b", np.zeros(gH - 1), ValueError, r"b must have shape"),
            "b scalar": ("b", np.float64(0.5), ValueError, r"b must have shape"),
            "W wrong D": ("W", np.zeros((gH, D + 1)), ValueError, r"W must have shape"),
            "W transposed": ("W", np.zeros((D, gH)), ValueError, r"W must have shape"),
            "U wrong": ("U", np.zeros((gH, H + 1)), ValueError, r"U must have shape"),
            "x 1-D": ("x", np.zeros(D), ValueError, r"x must be 2-D"),
            "x 3-D": ("x", np.zeros((1, N, D)), ValueError, r"x must be 2-D"),
            "h_prev (1, H)": ("h_prev", np.zeros((1, H)), ValueError, r"h_prev must have shape"),
            "h_prev 1-D": ("h_prev", np.zeros(H), ValueError, r"h_prev must be 2-D"),
            "x NaN": ("x", np.full((N, D), NAN), ValueError, r"x must be finite"),
            "W inf": ("W", np.full((gH, D), INF), ValueError, r"W must be finite"),
            "U -inf": ("U", np.full((gH, H), -INF), ValueError, r"U must be finite"),
            "b NaN": ("b", np.full(gH, NAN), ValueError, r"b must be finite"),
            "h_prev NaN": ("h_prev", np.full((N, H), NAN), ValueError, r"h_prev must be finite"),
            "x int": ("x", np.zeros((N, D), dtype=int), TypeError, r"x must be a floating"),
            "b complex": ("b", np.zeros(gH, dtype=complex), TypeError, r"b must be a floating"),
            "W bool": ("W", np.zeros((gH, D), dtype=bool), TypeError, r"W must be a floating"),
        }
        if cell:
            cases["c_prev (1, H) broadcast"] = ("c_prev", np.zeros((1, H)), ValueError,
                                                r"c_prev must have shape \(N, H\): expected "
                                                rf"\({N}, {H}\), got \(1, {H}\)")
            cases["c_prev (N, 1) broadcast"] = ("c_prev", np.zeros((N, 1)), ValueError,
                                                r"c_prev must have shape")
            cases["c_prev inf"] = ("c_prev", np.full((N, H), INF), ValueError,
                                   r"c_prev must be finite")
        for name in extra:
            cases[f"{name} scalar"] = (name, np.float64(0.1), ValueError,
                                       rf"{name} must have shape \(H,\)")
            cases[f"{name} (1, H)"] = (name, np.zeros((1, H)), ValueError,
                                       rf"{name} must have shape \(H,\)")
            cases[f"{name} NaN"] = (name, np.full(H, NAN), ValueError, rf"{name} must be finite")
        for label, case in cases.items():
            yield pytest.param(kind, *case, id=f"{kind}-{label}")


@pytest.mark.parametrize("kind, name, value, error, match", list(_bad_step_cases()))
def test_step_forward_refuses(kind, name, value, error, match, rng):
    args = _args(kind, rng)
    args[name] = value
    with pytest.raises(error, match=match):
        _forward(kind, args)


@pytest.mark.parametrize("kind", STEPS)
def test_step_forward_b_column_message_names_the_shape(kind, rng):
    """The issue's case: a (gH, 1) bias used to broadcast to (gH, gH) pre-activations."""
    g = STEPS[kind][2]
    args = _args(kind, rng)
    args["b"] = args["b"][:, None]
    gates = "" if g == 1 else str(g)
    with pytest.raises(ValueError, match=re.escape(
            f"b must have shape ({gates}H,): expected ({g * H},), got ({g * H}, 1)")):
        _forward(kind, args)


@pytest.mark.parametrize("kind", STEPS)
def test_step_forward_valid_input_unchanged(kind, rng):
    """The checks only look: results are bit for bit those of the unchecked function, and a
    float32 input still computes in float32 as before."""
    args = _args(kind, rng)
    fn = STEPS[kind][0]
    for got, want in zip(fn(**args), fn.__wrapped__(**args), strict=True):
        if isinstance(want, np.ndarray):
            np.testing.assert_array_equal(got, want)
    args32 = {k: v.astype(np.float32) for k, v in args.items()}
    assert fn(**args32)[0].dtype == fn.__wrapped__(**args32)[0].dtype


@pytest.mark.parametrize("kind", STEPS)
def test_step_forward_wrong_call_is_pythons_type_error(kind, rng):
    args = list(_args(kind, rng).values())
    with pytest.raises(TypeError, match="argument"):
        STEPS[kind][0](*args[:-1])


# ---- step backward --------------------------------------------------------------------------
def _backward_args(kind, rng, dh=None, dc_next=None, cache=None):
    out = _forward(kind, _args(kind, rng))
    cell = STEPS[kind][4]
    dh = rng.standard_normal((N, H)) if dh is None else dh
    cache = out[-1] if cache is None else cache
    if cell:
        dc_next = rng.standard_normal((N, H)) if dc_next is None else dc_next
        return dh, dc_next, cache
    return dh, cache


def _bad_backward_cases():
    other = {"rnn": "gru_cho", "lstm": "cifg", "peephole": "lstm", "cifg": "lstm",
             "gru": "gru_cho", "gru_cho": "gru"}
    for kind, (_, _, _, _, cell) in STEPS.items():
        cases = {
            "dh (1, H)": ({"dh": np.zeros((1, H))}, ValueError,
                          r"dh must have shape \(N, H\), that of cache.h_prev"),
            "dh 1-D": ({"dh": np.zeros(H)}, ValueError, r"dh must have shape"),
            "dh NaN": ({"dh": np.full((N, H), NAN)}, ValueError, r"dh must be finite"),
            "dh int": ({"dh": np.zeros((N, H), dtype=int)}, TypeError, r"dh must be a floating"),
            "cache a tuple": ({"cache": (1, 2, 3)}, TypeError,
                              r"cache must be the cache .* got tuple"),
            "cache of another kind": ({"cache": other[kind]}, TypeError,
                                      r"cache must be the cache that the matching step forward "
                                      r"returned"),
        }
        if cell:
            cases["dc_next (1, H)"] = ({"dc_next": np.zeros((1, H))}, ValueError,
                                       r"dc_next must have shape \(N, H\)")
            cases["dc_next inf"] = ({"dc_next": np.full((N, H), INF)}, ValueError,
                                    r"dc_next must be finite")
        for label, case in cases.items():
            yield pytest.param(kind, *case, id=f"{kind}-{label}")


@pytest.mark.parametrize("kind, bad, error, match", list(_bad_backward_cases()))
def test_step_backward_refuses(kind, bad, error, match, rng):
    if isinstance(bad.get("cache"), str):  # a real cache, of another kind's step
        bad = {"cache": _forward(bad["cache"], _args(bad["cache"], rng))[-1]}
    with pytest.raises(error, match=match):
        STEPS[kind][1](*_backward_args(kind, rng, **bad))


@pytest.mark.parametrize("kind", STEPS)
def test_step_backward_valid_input_unchanged(kind, rng):
    args = _backward_args(kind, rng)
    fn = STEPS[kind][1]
    for got, want in zip(fn(*args), fn.__wrapped__(*args), strict=True):
        np.testing.assert_array_equal(got, want)


# ---- rnn_forward / rnn_backward / lstm_backward ------------------------------------------------
def _rnn_seq(rng, T=3):
    p = ref.make_cell("rnn", D, H, rng=rng).params
    return rng.standard_normal((T, N, D)), np.zeros((N, H)), p["W"], p["U"], p["b"]


RNN_FORWARD_BAD = {
    "U not square": (3, np.zeros((H, H + 1)), ValueError, r"U must be a square matrix \(H, H\)"),
    "U 1-D": (3, np.zeros(H), ValueError, r"U must be a square matrix"),
    "U NaN": (3, np.full((H, H), NAN), ValueError, r"U must be finite"),
    "W other H": (2, np.zeros((H + 1, D)), ValueError, r"W must have shape \(H, D\)"),
    "W 1-D": (2, np.zeros(D), ValueError, r"W must be 2-D"),
    "W inf": (2, np.full((H, D), INF), ValueError, r"W must be finite"),
    "b (H, 1)": (4, np.zeros((H, 1)), ValueError, r"b must have shape \(H,\)"),
    "b scalar": (4, 0.0, ValueError, r"b must have shape \(H,\)"),
    "xs 2-D": (0, np.zeros((3, D)), ValueError, r"xs must be 3-D"),
    "xs other D": (0, np.zeros((3, N, D + 1)), ValueError, r"xs.shape\[-1\] must equal D"),
    "xs NaN": (0, np.full((3, N, D), NAN), ValueError, r"xs must be finite"),
    "xs T = 0": (0, np.zeros((0, N, D)), ValueError, r"T >= 1"),
    "xs int": (0, np.zeros((3, N, D), dtype=int), TypeError, r"xs must be a floating"),
    "h0 (1, H)": (1, np.zeros((1, H)), ValueError, r"h0 must have shape \(N, H\)"),
    "h0 NaN": (1, np.full((N, H), NAN), ValueError, r"h0 must be finite"),
}


@pytest.mark.parametrize("case", RNN_FORWARD_BAD)
def test_rnn_forward_refuses(case, rng):
    index, value, error, match = RNN_FORWARD_BAD[case]
    args = list(_rnn_seq(rng))
    args[index] = value
    with pytest.raises(error, match=match):
        ref.rnn_forward(*args)


def _lstm_caches(rng, T=3):
    _, cache = ref.make_cell("lstm", D, H, rng=rng).forward(rng.standard_normal((T, N, D)))
    return cache.steps


SEQUENCE_BACKWARD_BAD = {
    "caches empty": ({"caches": ()}, ValueError, r"caches must be the non-empty list"),
    "caches not a list": ({"caches": None}, ValueError, r"caches must be the non-empty list"),
    "caches of another kind": ({"caches": "other"}, TypeError, r"caches\[0\] must be a"),
    "dhs NaN": ({"dhs": "nan"}, ValueError, r"dhs must be finite"),
    "dhs (T, 1, H)": ({"dhs": "broadcast"}, ValueError, r"dhs must have the shape of hs"),
    "dhs int": ({"dhs": "int"}, TypeError, r"dhs must be a floating"),
    "truncate 0": ({"truncate": 0}, ValueError, r"truncate must be None or an int k >= 1"),
    "truncate 1.5": ({"truncate": 1.5}, ValueError, r"truncate must be None or an int"),
    "truncate True": ({"truncate": True}, ValueError, r"truncate must be None or an int"),
}


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
@pytest.mark.parametrize("case", SEQUENCE_BACKWARD_BAD)
def test_sequence_backward_refuses(kind, case, rng):
    T = 3
    if kind == "rnn":
        _, caches = ref.rnn_forward(*_rnn_seq(rng, T))
        fn, other = ref.rnn_backward, _lstm_caches(rng, T)
    else:
        caches = _lstm_caches(rng, T)
        fn, other = ref.lstm_backward, ref.rnn_forward(*_rnn_seq(rng, T))[1]
    bad, error, match = SEQUENCE_BACKWARD_BAD[case]
    args = {"dhs": rng.standard_normal((T, N, H)), "caches": caches, "truncate": None}
    args.update(bad)
    if args["caches"] == "other":
        args["caches"] = other
    dhs = {"nan": np.full((T, N, H), NAN), "broadcast": np.zeros((T, 1, H)),
           "int": np.zeros((T, N, H), dtype=int)}
    if isinstance(args["dhs"], str):
        args["dhs"] = dhs[args["dhs"]]
    with pytest.raises(error, match=match):
        fn(**args)


# ---- cells: make_cell, forward, backward, torch loading -----------------------------------------
MAKE_CELL_BAD = {
    "kind a list": ((["lstm"], D, H), {}, ValueError, r"unknown cell kind"),
    "kind None": ((None, D, H), {}, ValueError, r"unknown cell kind"),
    "input_size bool": (("lstm", True, H), {}, TypeError, r"input_size must be an int"),
    "hidden_size -1": (("lstm", D, -1), {}, ValueError, r"hidden_size must be positive"),
    "hidden_size 2.0": (("gru", D, 2.0), {}, TypeError, r"hidden_size must be an int"),
    "rng a string": (("rnn", D, H), {"rng": "seed"}, TypeError,
                     r"rng must be a np.random.Generator, an int seed or None"),
    "rng negative": (("rnn", D, H), {"rng": -1}, ValueError, r"rng must be a non-negative seed"),
    "rng a float": (("rnn", D, H), {"rng": 0.5}, TypeError, r"rng must be"),
    "reset_after 'no'": (("gru", D, H), {"reset_after": "no"}, TypeError,
                         r"reset_after must be a bool"),
}


@pytest.mark.parametrize("case", MAKE_CELL_BAD)
def test_make_cell_refuses(case):
    args, kwargs, error, match = MAKE_CELL_BAD[case]
    with pytest.raises(error, match=match):
        ref.make_cell(*args, **kwargs)


KINDS = ["rnn", "lstm", "peephole", "cifg", "gru"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", ["nan", "inf", "column", "missing", "extra"])
def test_cell_forward_refuses_bad_params(kind, bad, rng):
    """Params edited by hand are checked at forward: no NaN, exact shapes, exact keys."""
    cell = ref.make_cell(kind, D, H, rng=rng)
    xs = rng.standard_normal((2, N, D))
    if bad in ("nan", "inf"):
        cell.params["U"][0, 0] = NAN if bad == "nan" else INF
        match = r"params\['U'\] must be finite"
    elif bad == "column":
        cell.params["b"] = cell.params["b"][:, None]
        match = r"params\['b'\] has the wrong shape"
    elif bad == "missing":
        del cell.params["W"]
        match = r"params of a .* cell must have exactly the keys"
    else:
        cell.params["p_x"] = np.zeros(H)
        match = r"params of a .* cell must have exactly the keys"
    with pytest.raises(ValueError, match=match):
        cell.forward(xs)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_cell_backward_refuses_non_finite_dstate(kind, rng):
    cell = ref.make_cell(kind, D, H, rng=rng)
    hs, cache = cell.forward(rng.standard_normal((2, N, D)))
    dstate = np.full((N, H), NAN)
    dstate = (dstate, np.zeros((N, H))) if kind == "lstm" else dstate
    with pytest.raises(ValueError, match="dh_T must be finite"):
        cell.backward(np.zeros(hs.shape), cache, dstate_T=dstate)


def test_cell_backward_refuses_a_cache_of_another_cell(rng):
    lstm, gru = ref.make_cell("lstm", D, H, rng=rng), ref.make_cell("gru", D, H, rng=rng)
    hs, cache = gru.forward(rng.standard_normal((2, N, D)))
    with pytest.raises(ValueError, match="cache comes from another kind of cell"):
        lstm.backward(np.zeros(hs.shape), cache)
    small = ref.make_cell("gru", D, H + 1, rng=rng)
    with pytest.raises(ValueError, match="cache comes from a cell of other sizes"):
        small.backward(np.zeros(hs.shape), cache)


@pytest.mark.parametrize("bad, match", [
    ("nan", r"state_dict\['weight_hh'\] must be finite"),
    ("column", r"state_dict\['bias_ih'\] must have shape \(4H,\)"),
    ("int", r"state_dict\['weight_ih'\] must be a floating-point array"),
])
def test_load_torch_state_dict_refuses(bad, match, rng):
    g = rng.standard_normal
    sd = {"weight_ih": g((4 * H, D)), "weight_hh": g((4 * H, H)), "bias_ih": g(4 * H),
          "bias_hh": g(4 * H)}
    if bad == "nan":
        sd["weight_hh"][1, 1] = NAN
    elif bad == "column":
        sd["bias_ih"] = sd["bias_ih"][:, None]
    else:
        sd["weight_ih"] = np.zeros((4 * H, D), dtype=int)
    error = TypeError if bad == "int" else ValueError
    cell = ref.make_cell("lstm", D, H, rng=0)
    before = {k: v.copy() for k, v in cell.params.items()}
    with pytest.raises(error, match=match):
        cell.load_torch_state_dict(sd)
    for k, v in before.items():  # nothing was loaded
        np.testing.assert_array_equal(cell.params[k], v)


# ---- gradcheck, relative_error, sigmoid ----------------------------------------------------
GRADCHECK_BAD = {
    "eps 0": ({"eps": 0.0}, ValueError, r"eps must be a finite number > 0"),
    "eps -1": ({"eps": -1e-4}, ValueError, r"eps must be a finite number > 0"),
    "eps inf": ({"eps": INF}, ValueError, r"eps must be a finite number > 0"),
    "eps nan": ({"eps": NAN}, ValueError, r"eps must be a finite number > 0"),
    "eps a string": ({"eps": "1e-4"}, TypeError, r"eps must be a number"),
    "eps True": ({"eps": True}, TypeError, r"eps must be a number"),
    "order 3": ({"order": 3}, ValueError, r"order must be 2 or 4"),
    "order True": ({"order": True}, ValueError, r"order must be 2 or 4"),
    "tiny 0": ({"tiny": 0.0}, ValueError, r"tiny must be a finite number > 0"),
    "tiny nan": ({"tiny": NAN}, ValueError, r"tiny must be a finite number > 0"),
    "xs NaN": ({"xs": np.full((2, 1, D), NAN)}, ValueError, r"xs must be finite"),
    "xs 2-D": ({"xs": np.zeros((2, D))}, ValueError, r"xs must be 3-D"),
    "state0 (1, H) for N = 2": ({"xs": np.zeros((2, 2, D)), "state0": np.zeros((1, H))},
                                ValueError, r"h0 must have shape \(N, H\)"),
    "dhs (T, 1, H) for N = 2": ({"xs": np.zeros((2, 2, D)), "dhs": np.zeros((2, 1, H))},
                                ValueError, r"dhs must have shape"),
    "dhs NaN": ({"dhs": np.full((2, 1, H), NAN)}, ValueError, r"dhs must be finite"),
    "rng a string": ({"rng": "x"}, TypeError, r"rng must be"),
}


@pytest.mark.parametrize("case", GRADCHECK_BAD)
def test_gradcheck_refuses(case):
    bad, error, match = GRADCHECK_BAD[case]
    args = {"xs": np.zeros((2, 1, D)), **bad}
    cell = ref.make_cell("rnn", D, H, rng=0)
    fn = ref.gradcheck_report if "tiny" in bad else ref.gradcheck  # gradcheck has no tiny=
    with pytest.raises(error, match=match):
        fn(cell, **args)


def test_gradcheck_refuses_a_non_cell():
    with pytest.raises(TypeError, match="cell must be a lstm_lib.reference cell"):
        ref.gradcheck(object(), np.zeros((2, 1, D)))


def test_relative_error_refuses_broadcasting():
    with pytest.raises(ValueError, match=r"same shape \(no broadcasting\): got \(3,\) and "
                                         r"\(3, 1\)"):
        ref.relative_error(np.ones(3), np.ones((3, 1)))
    with pytest.raises(TypeError, match="analytic must be a floating-point array"):
        ref.relative_error(np.array(["a"]), np.ones(1))
    with pytest.raises(ValueError, match="tiny must be a finite number > 0"):
        ref.relative_error(np.ones(2), np.ones(2), tiny=-1.0)


def test_relative_error_reports_non_finite_as_infinitely_wrong():
    """The documented exception: the tool that measures broken gradients reports them."""
    err = ref.relative_error(np.array([1.0, NAN, INF, 2.0]), np.array([1.0, 1.0, INF, 1.0]))
    np.testing.assert_array_equal(err[:3], [0.0, INF, INF])
    assert err[3] == pytest.approx(1 / 3)


def test_sigmoid_is_elementwise_math():
    """The other documented exception: NaN propagates as through np.tanh, ±inf are the
    limits (the sLSTM chapter shows an overflow through it)."""
    out = ref.sigmoid(np.array([-INF, 0.0, INF, NAN]))
    np.testing.assert_array_equal(out[:3], [0.0, 0.5, 1.0])
    assert np.isnan(out[3])


# ---- the modern cells' step functions (minGRU, minLSTM, sLSTM) get the same checks ------------
def _modern_args(kind, rng):
    g = rng.standard_normal
    if kind == "slstm":
        return {"x": g((N, D)), "h_prev": g((N, H)), "c_prev": g((N, H)),
                "n_prev": np.abs(g((N, H))) + 1, "m_prev": g((N, H)), "W": g((4 * H, D)),
                "U": g((4 * H, H)), "b": g(4 * H)}
    blocks = 2 if kind == "mingru" else 3
    return {"x": g((N, D)), "h_prev": g((N, H)), "W": g((blocks * H, D)), "b": g(blocks * H)}


MODERN_BAD = {
    "b column": ("b", lambda a: a["b"][:, None], ValueError, r"b must have shape"),
    "x NaN": ("x", lambda a: np.full_like(a["x"], NAN), ValueError, r"x must be finite"),
    "h_prev (1, H)": ("h_prev", lambda a: a["h_prev"][:1], ValueError, r"h_prev must have shape"),
    "W inf": ("W", lambda a: np.full_like(a["W"], INF), ValueError, r"W must be finite"),
    "n_prev (1, H)": ("n_prev", lambda a: a["n_prev"][:1], ValueError,
                      r"n_prev must have shape \(N, H\)"),
    "m_prev NaN": ("m_prev", lambda a: np.full_like(a["m_prev"], NAN), ValueError,
                   r"m_prev must be finite"),
}


@pytest.mark.parametrize("kind, case", [(k, c) for k in ("mingru", "minlstm", "slstm")
                                        for c in MODERN_BAD if k == "slstm" or "_prev " not in c
                                        and not c.startswith(("n_prev", "m_prev"))])
def test_modern_step_forward_refuses(kind, case, rng):
    name, edit, error, match = MODERN_BAD[case]
    args = _modern_args(kind, rng)
    args[name] = edit(args)
    with pytest.raises(error, match=match):
        getattr(ref, f"{kind}_step_forward")(**args)


@pytest.mark.parametrize("kind", ["mingru", "minlstm", "slstm"])
def test_modern_step_backward_refuses_and_valid_unchanged(kind, rng):
    fwd, bwd = getattr(ref, f"{kind}_step_forward"), getattr(ref, f"{kind}_step_backward")
    args = _modern_args(kind, rng)
    cache = fwd(**args)[-1]
    n_grads = 4 if kind == "slstm" else 1
    grads = [rng.standard_normal((N, H)) for _ in range(n_grads)]
    for got, want in zip(bwd(*grads, cache), bwd.__wrapped__(*grads, cache), strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"dh must have shape \(N, H\)"):
        bwd(np.zeros((1, H)), *grads[1:], cache)
    with pytest.raises(TypeError, match="cache must be the cache"):
        bwd(*grads, tuple(cache))
