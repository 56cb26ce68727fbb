"""lstm_lib.reference: gradient checks, identities between the cells, BPTT options, errors."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_lib import reference as ref

# (kind, options) for every cell the reference has; the GRU in both conventions.
CELLS = [("rnn", {}), ("lstm", {}), ("peephole", {}), ("cifg", {}),
         ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]
CELL_IDS = ["rnn", "lstm", "peephole", "cifg", "gru-after", "gru-before"]
LSTM_KINDS = ("lstm", "peephole", "cifg")


def random_state(cell, N, rng):
    h0 = rng.standard_normal((N, cell.hidden_size)) * 0.5
    if cell.has_cell_state:
        return h0, rng.standard_normal((N, cell.hidden_size))
    return h0


def setup(kind, options, N, T, D, H, rng):
    cell = ref.make_cell(kind, D, H, rng=rng, **options)
    xs = rng.standard_normal((T, N, D))
    return cell, xs


# ---- (a) numerical gradient checks --------------------------------------------------------------


@pytest.mark.parametrize(("kind", "options"), CELLS, ids=CELL_IDS)
@pytest.mark.parametrize(("N", "T", "D", "H"), [(1, 1, 1, 1), (2, 1, 3, 2), (1, 4, 2, 1),
                                                (3, 4, 2, 3)])
def test_gradcheck_without_state0(kind, options, N, T, D, H, rng):
    cell, xs = setup(kind, options, N, T, D, H, rng)
    assert ref.gradcheck(cell, xs, rng=rng) < 1e-6


@pytest.mark.parametrize(("kind", "options"), CELLS, ids=CELL_IDS)
@pytest.mark.parametrize(("N", "T", "D", "H"), [(1, 1, 1, 1), (2, 3, 2, 3)])
def test_gradcheck_with_state0_and_injected_dstate_T(kind, options, N, T, D, H, rng):
    cell, xs = setup(kind, options, N, T, D, H, rng)
    state0 = random_state(cell, N, rng)
    dstate_T = random_state(cell, N, rng)
    report = ref.gradcheck_report(cell, xs, state0, rng=rng, dstate_T=dstate_T)
    expected = set(cell.params) | {"xs", "h0"} | ({"c0"} if cell.has_cell_state else set())
    assert set(report.errors) == expected  # the initial state's gradient is checked too
    assert report.worst < 1e-6, str(report)


def test_gradcheck_checks_nonzero_biases_and_peepholes(rng):
    cell = ref.make_cell("peephole", 2, 3, rng=rng)
    for name in ("b", "p_i", "p_f", "p_o"):
        assert np.all(cell.params[name] != 0)
    report = ref.gradcheck_report(cell, rng.standard_normal((3, 2, 2)), rng=rng)
    assert {"p_i", "p_f", "p_o"} <= set(report.errors)
    assert report.worst < 1e-6


def test_gradcheck_catches_a_wrong_backward(rng):
    class Broken(ref.LSTMCell):
        def _step_backward(self, dstate, step_cache):
            dx, dstate_prev, grads = super()._step_backward(dstate, step_cache)
            return dx, (dstate_prev[0], dstate_prev[1] * 0.99), grads  # a 1 % slip on dc_prev

    cell = Broken(2, 3, rng=0)
    assert ref.gradcheck(cell, rng.standard_normal((4, 2, 2)), rng=rng) > 1e-3


def test_gradcheck_leaves_the_cell_alone(rng):
    cell, xs = setup("lstm", {}, 2, 3, 2, 2, rng)
    before = {k: v.copy() for k, v in cell.params.items()}
    xs_before = xs.copy()
    ref.gradcheck(cell, xs, rng=rng)
    for name in before:
        np.testing.assert_array_equal(cell.params[name], before[name])
    np.testing.assert_array_equal(xs, xs_before)


def test_gradcheck_classic_second_order_also_passes_loosely(rng):
    cell, xs = setup("gru", {}, 2, 3, 2, 3, rng)
    assert ref.gradcheck(cell, xs, eps=1e-6, order=2, rng=rng) < 1e-4
    with pytest.raises(ValueError, match="order must be 2 or 4: expected 2 or 4, got 3"):
        ref.gradcheck(cell, xs, order=3)


def test_gradcheck_report_prints_a_table(rng):
    cell, xs = setup("rnn", {}, 1, 2, 1, 1, rng)
    text = str(ref.gradcheck_report(cell, xs, rng=rng))
    assert "worst relative error" in text and "xs" in text and "h0" in text


# ---- forward: shapes, caches, the equations ------------------------------------------------------


@pytest.mark.parametrize(("kind", "options"), CELLS, ids=CELL_IDS)
def test_forward_shapes_and_cache_fields(kind, options, rng):
    N, T, D, H = 2, 3, 4, 5
    cell, xs = setup(kind, options, N, T, D, H, rng)
    hs, cache = cell.forward(xs)
    assert hs.shape == (T, N, H) and hs.dtype == np.float64
    assert cache.xs.shape == (T, N, D) and cache.h0.shape == (N, H) and len(cache.steps) == T
    np.testing.assert_array_equal(cache.h0, 0)
    expected_gates = {"rnn": set(), "lstm": set("ifgo"), "peephole": set("ifgo"),
                      "cifg": set("ifgo"), "gru": set("rzn")}[kind]
    assert set(cache.gates) == expected_gates
    for g in cache.gates.values():
        assert g.shape == (T, N, H)
    if kind in LSTM_KINDS:
        assert cache.cs.shape == (T, N, H) and cache.c0.shape == (N, H)
        hT, cT = cache.state_T
        np.testing.assert_array_equal(hT, hs[-1])
        np.testing.assert_array_equal(cT, cache.cs[-1])
    else:
        assert cache.cs is None and cache.c0 is None
        np.testing.assert_array_equal(cache.state_T, hs[-1])


@pytest.mark.parametrize("kind", LSTM_KINDS)
def test_lstm_cache_satisfies_the_cell_update(kind, rng):
    cell, xs = setup(kind, {}, 2, 4, 3, 3, rng)
    h0, c0 = random_state(cell, 2, rng)
    hs, cache = cell.forward(xs, (h0, c0))
    i, f, g, o = (cache.gates[k] for k in "ifgo")
    c_prev = np.concatenate([c0[None], cache.cs[:-1]])
    np.testing.assert_allclose(cache.cs, f * c_prev + i * g, rtol=0, atol=1e-15)  # (L5)
    np.testing.assert_allclose(hs, o * np.tanh(cache.cs), rtol=0, atol=1e-15)  # (L6)
    if kind == "cifg":
        np.testing.assert_allclose(i, 1 - f, rtol=0, atol=1e-15)  # (C1)


def test_gru_cache_satisfies_the_state_update(rng):
    cell, xs = setup("gru", {}, 2, 4, 3, 3, rng)
    hs, cache = cell.forward(xs)
    z, n = cache.gates["z"], cache.gates["n"]
    h_prev = np.concatenate([cache.h0[None], hs[:-1]])
    np.testing.assert_allclose(hs, (1 - z) * n + z * h_prev, rtol=0, atol=1e-15)  # (G4)


def test_rnn_forward_by_hand(rng):
    cell, xs = setup("rnn", {}, 2, 3, 2, 3, rng)
    W, U, b = (cell.params[k] for k in "WUb")
    h = np.zeros((2, 3))
    hs, _ = cell.forward(xs)
    for t in range(3):
        h = np.tanh(xs[t] @ W.T + h @ U.T + b)  # (R1)
        np.testing.assert_allclose(hs[t], h, rtol=0, atol=1e-15)


@pytest.mark.parametrize(("kind", "options"), CELLS, ids=CELL_IDS)
def test_forward_in_chunks_equals_forward_at_once(kind, options, rng):
    cell, xs = setup(kind, options, 2, 5, 2, 3, rng)
    hs, _ = cell.forward(xs)
    hs_a, cache_a = cell.forward(xs[:2])
    hs_b, _ = cell.forward(xs[2:], cache_a.state_T)
    np.testing.assert_allclose(np.concatenate([hs_a, hs_b]), hs, rtol=0, atol=1e-15)


def test_forward_copies_params_and_inputs(rng):
    cell, xs = setup("lstm", {}, 2, 3, 2, 3, rng)
    dhs = rng.standard_normal((3, 2, 3))
    _, cache = cell.forward(xs)
    grads, dxs = cell.backward(dhs, cache)
    cell.params["W"] *= 2  # in-place updates between forward and backward
    xs *= 2
    grads_after, dxs_after = cell.backward(dhs, cache)
    for name in grads:
        np.testing.assert_array_equal(grads_after[name], grads[name])
    np.testing.assert_array_equal(dxs_after, dxs)


# ---- backward: keys, dstate0, truncation ---------------------------------------------------------


@pytest.mark.parametrize(("kind", "options"), CELLS, ids=CELL_IDS)
def test_backward_returns_params_keys_and_shapes(kind, options, rng):
    cell, xs = setup(kind, options, 2, 3, 4, 5, rng)
    hs, cache = cell.forward(xs)
    grads, dxs = cell.backward(rng.standard_normal(hs.shape), cache)
    assert list(grads) == list(cell.params)
    for name, g in grads.items():
        assert g.shape == cell.params[name].shape and g.dtype == np.float64
    assert dxs.shape == xs.shape


@pytest.mark.parametrize(("kind", "options"), CELLS, ids=CELL_IDS)
def test_dstate0_structure_and_dstate_T_is_a_loss_on_the_final_state(kind, options, rng):
    N, T, D, H = 2, 3, 2, 3
    cell, xs = setup(kind, options, N, T, D, H, rng)
    state0 = random_state(cell, N, rng)
    hs, cache = cell.forward(xs, state0)
    dhs = rng.standard_normal(hs.shape)
    dh_T = rng.standard_normal((N, H))
    grads, dxs, dstate0 = cell.backward(dhs, cache, return_dstate0=True)
    if cell.has_cell_state:
        assert isinstance(dstate0, tuple) and [d.shape for d in dstate0] == [(N, H)] * 2
    else:
        assert dstate0.shape == (N, H)
    # Injecting dL/dh_T from beyond the sequence is the same as adding it to dhs[-1].
    dhs_plus = dhs.copy()
    dhs_plus[-1] += dh_T
    dstate_T = (dh_T, np.zeros((N, H))) if cell.has_cell_state else dh_T
    g1, dx1 = cell.backward(dhs, cache, dstate_T=dstate_T)
    g2, dx2 = cell.backward(dhs_plus, cache)
    for name in g1:
        np.testing.assert_allclose(g1[name], g2[name], rtol=0, atol=1e-14)
    np.testing.assert_allclose(dx1, dx2, rtol=0, atol=1e-14)


@pytest.mark.parametrize(("kind", "options"), CELLS, ids=CELL_IDS)
def test_truncate_at_least_T_is_full_bptt(kind, options, rng):
    T, N = 4, 2
    cell, xs = setup(kind, options, N, T, 3, 2, rng)
    state0 = random_state(cell, N, rng)
    hs, cache = cell.forward(xs, state0)
    dhs = rng.standard_normal(hs.shape)
    dstate_T = random_state(cell, N, rng)
    full = cell.backward(dhs, cache, dstate_T=dstate_T, return_dstate0=True)
    for k in (T, T + 3):
        trunc = cell.backward(dhs, cache, dstate_T=dstate_T, truncate=k, return_dstate0=True)
        for name in full[0]:
            np.testing.assert_allclose(trunc[0][name], full[0][name], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(trunc[1], full[1], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(trunc[2], full[2], rtol=1e-12, atol=1e-14)


def test_truncate_1_is_the_one_step_gradient_by_hand(rng):
    # Scalar RNN: h_t = tanh(w x_t + u h_{t-1} + b). With truncate=1 every loss term
    # dhs_t · h_t sees h_{t-1} as a constant, so only the direct derivatives remain.
    cell = ref.make_cell("rnn", 1, 1, rng=rng)
    w, u = cell.params["W"][0, 0], cell.params["U"][0, 0]
    x = np.array([0.5, -1.0, 2.0])
    h0, dhs = 0.3, np.array([1.0, -2.0, 0.5])
    hs, cache = cell.forward(x.reshape(3, 1, 1), np.full((1, 1), h0))
    h = hs.ravel()
    h_prev = np.array([h0, h[0], h[1]])
    da = dhs * (1 - h**2)  # dL_t/da_t for each loss at its own step
    grads, dxs, dh0 = cell.backward(dhs.reshape(3, 1, 1), cache, truncate=1,
                                    return_dstate0=True)
    np.testing.assert_allclose(grads["W"].ravel(), [np.sum(da * x)], rtol=1e-14)
    np.testing.assert_allclose(grads["U"].ravel(), [np.sum(da * h_prev)], rtol=1e-14)
    np.testing.assert_allclose(grads["b"].ravel(), [np.sum(da)], rtol=1e-14)
    np.testing.assert_allclose(dxs.ravel(), da * w, rtol=1e-14)
    np.testing.assert_allclose(dh0.ravel(), [da[0] * u], rtol=1e-14)  # only loss 1 reaches h0
    # And full BPTT is different: later losses reach back.
    full, _ = cell.backward(dhs.reshape(3, 1, 1), cache)
    assert abs(full["U"][0, 0] - grads["U"][0, 0]) > 1e-3


def test_truncate_1_lstm_is_the_sum_of_step_gradients(rng):
    cell, xs = setup("lstm", {}, 2, 4, 3, 2, rng)
    hs, cache = cell.forward(xs)
    dhs = rng.standard_normal(hs.shape)
    grads, dxs = cell.backward(dhs, cache, truncate=1)
    zero = np.zeros((2, 2))
    steps = [ref.lstm_step_backward(dhs[t], zero, cache.steps[t]) for t in range(4)]
    np.testing.assert_allclose(dxs, np.stack([s[0] for s in steps]), rtol=0, atol=1e-15)
    for j, name in ((3, "W"), (4, "U"), (5, "b")):
        np.testing.assert_allclose(grads[name], sum(s[j] for s in steps), rtol=0, atol=1e-14)


# ---- identities between the cells ----------------------------------------------------------------


def test_peephole_with_zero_peepholes_is_the_lstm(rng):
    lstm, xs = setup("lstm", {}, 2, 4, 3, 3, rng)
    peep = ref.make_cell("peephole", 3, 3)
    peep.params = {**{k: v.copy() for k, v in lstm.params.items()},
                   "p_i": np.zeros(3), "p_f": np.zeros(3), "p_o": np.zeros(3)}
    state0 = random_state(lstm, 2, rng)
    hs, cache = lstm.forward(xs, state0)
    hs_p, cache_p = peep.forward(xs, state0)
    np.testing.assert_array_equal(hs_p, hs)
    np.testing.assert_array_equal(cache_p.cs, cache.cs)
    dhs = rng.standard_normal(hs.shape)
    g, dx, ds0 = lstm.backward(dhs, cache, return_dstate0=True)
    g_p, dx_p, ds0_p = peep.backward(dhs, cache_p, return_dstate0=True)
    for name in g:
        np.testing.assert_allclose(g_p[name], g[name], rtol=0, atol=1e-15)
    np.testing.assert_allclose(dx_p, dx, rtol=0, atol=1e-15)
    np.testing.assert_allclose(ds0_p, ds0, rtol=0, atol=1e-15)


def test_cifg_is_an_lstm_whose_input_gate_is_one_minus_forget(rng):
    # σ(-a) = 1 - σ(a): an LSTM with input-gate weights equal to minus the forget-gate weights
    # has i_t = 1 - f_t exactly. Its other blocks are the CIFG's f, g, o blocks (W_cifg = W[H:]).
    H = 3
    cifg, xs = setup("cifg", {}, 2, 4, 2, H, rng)
    lstm = ref.make_cell("lstm", 2, H)
    lstm.params = {k: np.concatenate([-cifg.params[k][:H], cifg.params[k]]) for k in "WUb"}
    state0 = random_state(cifg, 2, rng)
    hs_c, cache_c = cifg.forward(xs, state0)
    hs_l, cache_l = lstm.forward(xs, state0)
    np.testing.assert_allclose(hs_c, hs_l, rtol=0, atol=1e-15)
    np.testing.assert_allclose(cache_c.gates["i"], cache_l.gates["i"], rtol=0, atol=1e-15)
    # The tied weights get the sum of both uses: d/dθ_f = (LSTM's dθ_f) - (LSTM's dθ_i).
    dhs = rng.standard_normal(hs_c.shape)
    g_c, dx_c = cifg.backward(dhs, cache_c)
    g_l, dx_l = lstm.backward(dhs, cache_l)
    for k in "WUb":
        tied = np.concatenate([g_l[k][H:2 * H] - g_l[k][:H], g_l[k][2 * H:]])
        np.testing.assert_allclose(g_c[k], tied, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx_c, dx_l, rtol=1e-12, atol=1e-14)


def test_gru_conventions_agree_when_U_n_is_diagonal_and_b_hn_zero(rng):
    # r ⊙ (U_n h) = U_n (r ⊙ h) holds for every r exactly when U_n is diagonal.
    H = 3
    after, xs = setup("gru", {"reset_after": True}, 2, 4, 2, H, rng)
    after.params["U"][2 * H:] = np.diag(rng.standard_normal(H))
    after.params["b_hn"] = np.zeros(H)
    before = ref.make_cell("gru", 2, H, reset_after=False)
    before.params = {k: after.params[k].copy() for k in "WUb"}
    h0 = random_state(after, 2, rng)
    hs_a, cache_a = after.forward(xs, h0)
    hs_b, cache_b = before.forward(xs, h0)
    np.testing.assert_allclose(hs_a, hs_b, rtol=0, atol=1e-15)
    dhs = rng.standard_normal(hs_a.shape)
    g_a, dx_a, dh0_a = after.backward(dhs, cache_a, return_dstate0=True)
    g_b, dx_b, dh0_b = before.backward(dhs, cache_b, return_dstate0=True)
    np.testing.assert_allclose(g_a["W"], g_b["W"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g_a["b"], g_b["b"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g_a["U"][:2 * H], g_b["U"][:2 * H], rtol=1e-12, atol=1e-14)
    # Only U_n's diagonal is shared; off it the two cells have different derivatives.
    np.testing.assert_allclose(np.diag(g_a["U"][2 * H:]), np.diag(g_b["U"][2 * H:]),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx_a, dx_b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dh0_a, dh0_b, rtol=1e-12, atol=1e-14)


def test_gru_conventions_differ_in_general(rng):
    after, xs = setup("gru", {"reset_after": True}, 2, 3, 2, 3, rng)
    before = ref.make_cell("gru", 2, 3, reset_after=False)
    before.params = {k: after.params[k].copy() for k in "WUb"}
    h0 = random_state(after, 2, rng)
    assert np.abs(after.forward(xs, h0)[0] - before.forward(xs, h0)[0]).max() > 1e-3


# ---- step functions ------------------------------------------------------------------------------


def _step_args(name, rng, N=2, D=3, H=4):
    x, h, c = (rng.standard_normal((N, k)) for k in (D, H, H))
    g = {"rnn": 1, "lstm": 4, "peephole": 4, "cifg": 3, "gru": 3, "gru_cho": 3}[name]
    W, U = rng.standard_normal((g * H, D)), rng.standard_normal((g * H, H))
    b = rng.standard_normal(g * H)
    p = [rng.standard_normal(H) for _ in range(3)]
    return {"rnn": (x, h, W, U, b), "lstm": (x, h, c, W, U, b), "cifg": (x, h, c, W, U, b),
            "peephole": (x, h, c, W, U, b, *p), "gru": (x, h, W, U, b, p[0]),
            "gru_cho": (x, h, W, U, b)}[name]


@pytest.mark.parametrize("name", ["rnn", "lstm", "peephole", "cifg", "gru", "gru_cho"])
def test_step_functions_never_modify_their_arguments(name, rng):
    forward = getattr(ref, f"{name}_step_forward")
    backward = getattr(ref, f"{name}_step_backward")
    args = _step_args(name, rng)
    copies = [a.copy() for a in args]
    out = forward(*args)
    cache = out[-1]
    grads_in = [rng.standard_normal(out[0].shape) for _ in out[:-1]]  # dh (and dc)
    grads_copies = [g.copy() for g in grads_in]
    backward(*grads_in, cache)
    for a, a0 in zip(args, copies, strict=True):
        np.testing.assert_array_equal(a, a0)
    for g, g0 in zip(grads_in, grads_copies, strict=True):
        np.testing.assert_array_equal(g, g0)


def test_lstm_step_forward_is_the_documented_equations(rng):
    x, h_prev, c_prev, W, U, b = _step_args("lstm", rng)
    h, c, _ = ref.lstm_step_forward(x, h_prev, c_prev, W, U, b)
    a = x @ W.T + h_prev @ U.T + b
    H = h.shape[1]
    i, f, o = (1 / (1 + np.exp(-a[:, k * H:(k + 1) * H])) for k in (0, 1, 3))
    g = np.tanh(a[:, 2 * H:3 * H])
    np.testing.assert_allclose(c, f * c_prev + i * g, rtol=1e-14)
    np.testing.assert_allclose(h, o * np.tanh(f * c_prev + i * g), rtol=1e-14)


# ---- the stable sigmoid ------------------------------------------------------------------------


def test_sigmoid_does_not_overflow_and_saturates():
    out = ref.sigmoid(np.array([-1000.0, -745.0, 0.0, 745.0, 1000.0]))  # warnings are errors
    np.testing.assert_array_equal(out[[0, 2, 4]], [0.0, 0.5, 1.0])
    assert 0 <= out[1] < 1e-300 and out[3] == 1.0


def test_sigmoid_matches_the_definition(rng):
    x = np.concatenate([np.linspace(-30, 30, 601), rng.standard_normal(100) * 5])
    np.testing.assert_allclose(ref.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-15, atol=0)
    np.testing.assert_allclose(ref.sigmoid(-x), 1 - ref.sigmoid(x), rtol=0, atol=2e-16)


# ---- make_cell and initialisation ----------------------------------------------------------------


@pytest.mark.parametrize(("kind", "options"), CELLS, ids=CELL_IDS)
def test_make_cell_attributes_and_init(kind, options):
    D, H = 3, 4
    cell = ref.make_cell(kind, D, H, rng=0, **options)
    assert (cell.kind, cell.input_size, cell.hidden_size) == (kind, D, H)
    g = {"rnn": 1, "lstm": 4, "peephole": 4, "cifg": 3, "gru": 3}[kind]
    assert cell.gates == {"rnn": (), "lstm": tuple("ifgo"), "peephole": tuple("ifgo"),
                          "cifg": tuple("fgo"), "gru": tuple("rzn")}[kind]
    expected = {"W": (g * H, D), "U": (g * H, H), "b": (g * H,)}
    if kind == "peephole":
        expected.update(p_i=(H,), p_f=(H,), p_o=(H,))
    if kind == "gru" and options["reset_after"]:
        expected["b_hn"] = (H,)
    assert {k: v.shape for k, v in cell.params.items()} == expected
    for p in cell.params.values():
        assert p.dtype == np.float64
        assert np.all(np.abs(p) <= 1 / np.sqrt(H)) and np.all(p != 0)
    again = ref.make_cell(kind, D, H, rng=0, **options)
    for name in cell.params:
        np.testing.assert_array_equal(again.params[name], cell.params[name])


def test_make_cell_rejects_unknown_kinds_and_options():
    with pytest.raises(ValueError, match=r"unknown cell kind: expected one of \['rnn', 'lstm', "
                                         r"'peephole', 'cifg', 'gru', 'mingru', 'minlstm', "
                                         r"'slstm'\], got 'LSTM'"):
        ref.make_cell("LSTM", 2, 3)
    with pytest.raises(TypeError,
                       match=r"unexpected options: expected none, got \['reset_after'\]"):
        ref.make_cell("lstm", 2, 3, reset_after=True)
    with pytest.raises(TypeError, match="reset_after must be a bool"):
        ref.make_cell("gru", 2, 3, reset_after="yes")
    with pytest.raises(ValueError, match="hidden_size must be positive: expected >= 1, got 0"):
        ref.make_cell("rnn", 2, 0)
    with pytest.raises(TypeError, match="input_size must be an int"):
        ref.make_cell("rnn", 2.0, 3)


# ---- (d) input validation ----------------------------------------------------------------------


@pytest.fixture
def lstm(rng):
    return ref.make_cell("lstm", 3, 4, rng=rng)


def test_xs_must_be_3d(lstm):
    with pytest.raises(ValueError, match=r"xs must be 3-D, time-major \(T, N, D\): expected "
                                         r"ndim 3, got ndim 2 \(xs.shape=\(5, 3\)\)"):
        lstm.forward(np.zeros((5, 3)))


def test_xs_last_dim_must_be_input_size(lstm):
    with pytest.raises(ValueError, match=r"xs.shape\[-1\] must equal D = input_size: expected 3, "
                                         r"got 2 \(xs.shape=\(5, 1, 2\)\)"):
        lstm.forward(np.zeros((5, 1, 2)))


def test_xs_must_not_be_empty(lstm):
    with pytest.raises(ValueError, match="expected T >= 1 and N >= 1, got T=0, N=2"):
        lstm.forward(np.zeros((0, 2, 3)))


@pytest.mark.parametrize(("bad", "what"), [(np.nan, "1 NaN and 0 inf"), (np.inf, "0 NaN and 1 inf"),
                                           (-np.inf, "0 NaN and 1 inf")])
def test_xs_must_be_finite(lstm, bad, what):
    xs = np.zeros((2, 1, 3))
    xs[1, 0, 2] = bad
    with pytest.raises(ValueError, match=rf"xs must be finite: expected no NaN or inf, got {what} "
                                         r"\(first at index \(1, 0, 2\)\)"):
        lstm.forward(xs)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool, np.complex128])
def test_xs_must_be_floating(lstm, dtype):
    with pytest.raises(TypeError, match=rf"xs must be a floating-point array: expected dtype "
                                        rf"float64, got dtype {np.dtype(dtype)}"):
        lstm.forward(np.zeros((2, 1, 3), dtype=dtype))


def test_float32_is_promoted(lstm, rng):
    xs = rng.standard_normal((2, 1, 3))
    hs32, _ = lstm.forward(xs.astype(np.float32))
    assert hs32.dtype == np.float64
    np.testing.assert_allclose(hs32, lstm.forward(xs.astype(np.float32).astype(float))[0])


def test_state0_checks(lstm, rng):
    xs = rng.standard_normal((2, 2, 3))
    with pytest.raises(ValueError, match=r"h0 must have shape \(N, H\): expected \(2, 4\), "
                                         r"got \(3, 4\)"):
        lstm.forward(xs, (np.zeros((3, 4)), np.zeros((2, 4))))
    with pytest.raises(ValueError, match=r"c0 must have shape \(N, H\): expected \(2, 4\), "
                                         r"got \(2, 5\)"):
        lstm.forward(xs, (np.zeros((2, 4)), np.zeros((2, 5))))
    with pytest.raises(ValueError, match=r"state0 of an LSTM-kind cell must be a pair: expected "
                                         r"\(h0, c0\).*got ndarray"):
        lstm.forward(xs, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="h0 must be finite"):
        lstm.forward(xs, (np.full((2, 4), np.nan), np.zeros((2, 4))))
    gru = ref.make_cell("gru", 3, 4)
    with pytest.raises(ValueError, match="state0 of a 'gru' cell is one array: expected h0 of "
                                         r"shape \(N, H\) = \(2, 4\), got a tuple"):
        gru.forward(xs, (np.zeros((2, 4)), np.zeros((2, 4))))


def test_backward_checks(lstm, rng):
    xs = rng.standard_normal((2, 2, 3))
    hs, cache = lstm.forward(xs)
    with pytest.raises(ValueError, match=r"dhs must have shape the shape of hs, \(T, N, H\): "
                                         r"expected \(2, 2, 4\), got \(2, 2, 3\)"):
        lstm.backward(np.zeros((2, 2, 3)), cache)
    with pytest.raises(ValueError, match="dhs must be finite"):
        lstm.backward(np.full(hs.shape, np.nan), cache)
    with pytest.raises(TypeError, match="dhs must be a floating-point array"):
        lstm.backward(np.zeros(hs.shape, dtype=int), cache)
    with pytest.raises(ValueError, match=r"dc_T must have shape \(N, H\): expected \(2, 4\), "
                                         r"got \(1, 4\)"):
        lstm.backward(np.zeros(hs.shape), cache, dstate_T=(np.zeros((2, 4)), np.zeros((1, 4))))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match=r"truncate must be None \(full BPTT\) or an int "
                                             rf"k >= 1: expected None or k >= 1, got {bad!r}"):
            lstm.backward(np.zeros(hs.shape), cache, truncate=bad)
    with pytest.raises(TypeError, match="cache must be what forward returned: expected a "
                                        "ForwardCache, got tuple"):
        lstm.backward(np.zeros(hs.shape), (hs,))
    _, rnn_cache = ref.make_cell("rnn", 3, 4).forward(xs)
    with pytest.raises(ValueError, match="expected kind 'lstm', got 'rnn'"):
        lstm.backward(np.zeros(hs.shape), rnn_cache)
    _, other = ref.make_cell("lstm", 3, 5).forward(xs)
    with pytest.raises(ValueError, match=r"cell of other sizes: expected \(D, H\) = \(3, 4\), "
                                         r"got \(3, 5\)"):
        lstm.backward(np.zeros(hs.shape), other)
    _, cho = ref.make_cell("gru", 3, 4, reset_after=False).forward(xs)
    with pytest.raises(ValueError, match="expected reset_after=True, got reset_after=False"):
        ref.make_cell("gru", 3, 4).backward(np.zeros(hs.shape), cho)


def test_params_are_checked_at_forward(lstm, rng):
    lstm.params["U"] = np.zeros((16, 3))
    with pytest.raises(ValueError, match=r"params\['U'\] has the wrong shape: expected \(16, 4\), "
                                         r"got \(16, 3\)"):
        lstm.forward(rng.standard_normal((2, 1, 3)))
    del lstm.params["U"]
    with pytest.raises(ValueError, match="must have exactly the keys"):
        lstm.forward(rng.standard_normal((2, 1, 3)))


# ---- load_torch_state_dict errors (numpy arrays; torch itself is in test_reference_torch.py) ----


def _sd(g, D, H, suffix=""):
    return {f"weight_ih{suffix}": np.zeros((g * H, D)), f"weight_hh{suffix}": np.zeros((g * H, H)),
            f"bias_ih{suffix}": np.zeros(g * H), f"bias_hh{suffix}": np.zeros(g * H)}


def test_load_torch_state_dict_shape_errors():
    cell = ref.make_cell("lstm", 3, 2)
    sd = _sd(4, 3, 2)
    sd["weight_ih"] = np.zeros((8, 5))
    with pytest.raises(ValueError, match=r"state_dict\['weight_ih'\] must have shape \(4H, D\) "
                                         r"for D=3, H=2: expected \(8, 3\), got \(8, 5\)"):
        cell.load_torch_state_dict(sd)
    sd = _sd(4, 3, 2, "_l0")
    sd["bias_hh_l0"] = np.zeros(6)
    with pytest.raises(ValueError, match=r"state_dict\['bias_hh_l0'\] must have shape \(4H,\) "
                                         r"for D=3, H=2: expected \(8,\), got \(6,\)"):
        cell.load_torch_state_dict(sd)


def test_load_torch_state_dict_key_errors():
    cell = ref.make_cell("gru", 3, 2)
    with pytest.raises(ValueError, match="expected keys weight_ih, weight_hh, bias_ih, bias_hh"):
        cell.load_torch_state_dict({"weight": np.zeros((6, 3))})
    sd = {**_sd(3, 3, 2, "_l0"), "weight_ih_l1": np.zeros((6, 2))}
    with pytest.raises(ValueError, match=r"more layers, bidirectional or proj_size are not "
                                         r"supported.*got unexpected \['weight_ih_l1'\]"):
        cell.load_torch_state_dict(sd)
    sd = _sd(3, 3, 2)
    del sd["bias_hh"]
    with pytest.raises(ValueError, match="must hold both biases or neither"):
        cell.load_torch_state_dict(sd)


def test_load_torch_state_dict_without_biases_gives_zero_biases():
    sd = _sd(3, 3, 2)
    del sd["bias_ih"], sd["bias_hh"]
    cell = ref.make_cell("gru", 3, 2, rng=0).load_torch_state_dict(sd)
    np.testing.assert_array_equal(cell.params["b"], 0)
    np.testing.assert_array_equal(cell.params["b_hn"], 0)


@pytest.mark.parametrize(("kind", "options", "why"), [
    ("peephole", {}, "torch.nn.LSTM has no peephole weights"),
    ("cifg", {}, "the CIFG ties i = 1 - f"),
    ("gru", {"reset_after": False}, r"applies the reset gate after U_n h \(reset_after=True\)"),
])
def test_load_torch_state_dict_refuses_kinds_torch_lacks(kind, options, why):
    cell = ref.make_cell(kind, 3, 2, **options)
    with pytest.raises(ValueError, match=why):
        cell.load_torch_state_dict(_sd(len(cell.gates), 3, 2))
