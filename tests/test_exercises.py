"""lstm_lib.exercises: the book's functions pass, classic mistakes fail with their name and hint,
and a broken student function gives a clear report, never an exception."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_lib import exercises
from lstm_lib import reference as ref
from lstm_lib.exercises import check

# ---- the book's functions pass -----------------------------------------------------------------


@pytest.mark.parametrize("name", exercises.NAMES)
def test_the_books_function_passes(name):
    report = check(name, exercises.solution(name))
    assert report.passed, str(report)
    assert "passed" in str(report) and repr(report) == str(report)
    assert all(err < 1e-7 for err in report.errors.values())


def test_solution_is_the_reference_function():
    assert exercises.solution("lstm_step_backward") is ref.lstm_step_backward
    assert exercises.solution("gru_cho_step_backward") is ref.gru_cho_step_backward


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
@pytest.mark.parametrize("truncate", [None, 1, 2, 7])
def test_sequence_solutions_equal_cell_backward(kind, truncate, rng):
    cell = ref.make_cell(kind, 3, 2, rng=0)
    xs = rng.standard_normal((5, 2, 3))
    state0 = rng.standard_normal((2, 2))
    state0 = (state0, rng.standard_normal((2, 2))) if kind == "lstm" else state0
    hs, cache = cell.forward(xs, state0)
    dhs = rng.standard_normal(hs.shape)
    grads, dxs, dstate0 = cell.backward(dhs, cache, truncate=truncate, return_dstate0=True)
    out = exercises.solution(f"{kind}_backward")(dhs, cache.steps, truncate)
    want = (dxs, *(dstate0 if kind == "lstm" else (dstate0,)), grads["W"], grads["U"],
            grads["b"])
    for got, expected in zip(out, want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_the_solutions_are_the_library_functions():
    from lstm_lib import clipping

    assert exercises.solution("clip_grad_norm") is clipping.clip_grad_norm
    for name in ("rnn_step_backward", "lstm_step_backward", "rnn_backward", "lstm_backward"):
        assert exercises.solution(name) is getattr(ref, name)


# ---- classic mistakes: each names its output and gives its hint ----------------------------------


def lstm_no_tanh_prime(dh, dc_next, cache):
    x, h_prev, c_prev, i, f, g, o, c, W, U = cache
    tanh_c = np.tanh(c)
    dc = dc_next + dh * o  # the mistake: (1 - tanh²(c)) missing
    da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                         dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)], axis=1)
    return da @ W, da @ U, dc * f, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def lstm_no_carry(dh, dc_next, cache):
    x, h_prev, c_prev, i, f, g, o, c, W, U = cache
    tanh_c = np.tanh(c)
    dc = dh * o * (1 - tanh_c**2)  # the mistake: dc_next not added
    da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                         dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)], axis=1)
    return da @ W, da @ U, dc * f, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def lstm_no_f(dh, dc_next, cache):
    dx, dh_prev, dc_prev, dW, dU, db = ref.lstm_step_backward(dh, dc_next, cache)
    return dx, dh_prev, dc_prev / cache.f, dW, dU, db  # the mistake: dc_prev = dc


def lstm_bias_not_summed(dh, dc_next, cache):
    x, h_prev, c_prev, i, f, g, o, c, W, U = cache
    tanh_c = np.tanh(c)
    dc = dc_next + dh * o * (1 - tanh_c**2)
    da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                         dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)], axis=1)
    return da @ W, da @ U, dc * f, da.T @ x, da.T @ h_prev, da  # the mistake: db = da


def lstm_dW_transposed(dh, dc_next, cache):
    dx, dh_prev, dc_prev, dW, dU, db = ref.lstm_step_backward(dh, dc_next, cache)
    return dx, dh_prev, dc_prev, dW.T, dU, db  # x.T @ da


def lstm_gates_f_first(dh, dc_next, cache):
    x, h_prev, c_prev, i, f, g, o, c, W, U = cache
    tanh_c = np.tanh(c)
    dc = dc_next + dh * o * (1 - tanh_c**2)
    da = np.concatenate([dc * c_prev * f * (1 - f), dc * g * i * (1 - i),  # f before i
                         dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)], axis=1)
    return da @ W, da @ U, dc * f, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def rnn_no_tanh_prime(dh, cache):
    x, h_prev, h, W, U = cache
    da = dh  # the mistake: (1 - h²) missing
    return da @ W, da @ U, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def rnn_bias_mean(dh, cache):
    dx, dh_prev, dW, dU, db = ref.rnn_step_backward(dh, cache)
    return dx, dh_prev, dW, dU, db / dh.shape[0]


def rnn_dU_transposed(dh, cache):
    dx, dh_prev, dW, dU, db = ref.rnn_step_backward(dh, cache)
    return dx, dh_prev, dW, dU.T, db  # square: caught by its values, not its shape


def gru_no_direct_path(dh, cache):
    dx, dh_prev, dW, dU, db, db_hn = ref.gru_step_backward(dh, cache)
    return dx, dh_prev - dh * cache.z, dW, dU, db, db_hn


def cifg_independent_i(dh, dc_next, cache):
    x, h_prev, c_prev, i, f, g, o, c, W, U = cache
    tanh_c = np.tanh(c)
    dc = dc_next + dh * o * (1 - tanh_c**2)
    da = np.concatenate([dc * c_prev * f * (1 - f), dc * i * (1 - g**2),  # (c_prev - g) wanted
                         dh * tanh_c * o * (1 - o)], axis=1)
    return da @ W, da @ U, dc * f, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def peephole_no_peep_carry(dh, dc_next, cache):
    dx, dh_prev, dc_prev, *rest = ref.peephole_step_backward(dh, dc_next, cache)
    x, h_prev, c_prev, i, f, g, o, c, W, U, p_i, p_f, p_o = cache
    tanh_c = np.tanh(c)
    da_o = dh * tanh_c * o * (1 - o)
    dc = dc_next + dh * o * (1 - tanh_c**2) + da_o * p_o
    return (dx, dh_prev, dc * f, *rest)  # da_i p_i + da_f p_f missing


def rnn_backward_no_accumulation(dhs, caches, truncate=None):
    dxs, dh = np.zeros((len(caches), *caches[0].x.shape)), np.zeros(dhs.shape[1:])
    for t in reversed(range(len(caches))):
        dxs[t], dh, dW, dU, db = ref.rnn_step_backward(dhs[t] + dh, caches[t])  # overwritten
    return dxs, dh, dW, dU, db


def lstm_backward_ignores_truncate(dhs, caches, truncate=None):
    return ref.lstm_backward(dhs, caches, None)


def lstm_backward_chunked(dhs, caches, truncate=None):
    if truncate is None:
        return ref.lstm_backward(dhs, caches, None)
    parts = [ref.lstm_backward(dhs[s:s + truncate], caches[s:s + truncate])
             for s in range(0, len(caches), truncate)]
    return (np.concatenate([p[0] for p in parts]), parts[0][1], parts[0][2],
            *(sum(p[j] for p in parts) for j in (3, 4, 5)))


def clip_per_array(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    return {k: g * min(1.0, max_norm / max(np.linalg.norm(g), 1e-300))
            for k, g in grads.items()}, norm


def clip_always(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    return {k: g * max_norm / norm if norm else g for k, g in grads.items()}, norm


MISTAKES = [
    ("lstm_step_backward", lstm_no_tanh_prime, "dc_prev", "(1 − tanh²(c_t)) is missing"),
    ("lstm_step_backward", lstm_no_carry, "dc_prev", "dc_next is not added"),
    ("lstm_step_backward", lstm_no_f, "dc_prev", "the factor f_t is missing"),
    ("lstm_step_backward", lstm_bias_not_summed, "db", "db must be summed over the batch"),
    ("lstm_step_backward", lstm_dW_transposed, "dW", "dW is transposed"),
    ("lstm_step_backward", lstm_gates_f_first, "dW", "stacked i, f, g, o"),
    ("rnn_step_backward", rnn_no_tanh_prime, "dh_prev", "(1 − h_t²) is missing"),
    ("rnn_step_backward", rnn_bias_mean, "db", "not the mean"),
    ("rnn_step_backward", rnn_dU_transposed, "dU", "dU is transposed"),
    ("gru_step_backward", gru_no_direct_path, "dh_prev", "dh ⊙ z_t directly"),
    ("cifg_step_backward", cifg_independent_i, "dW", "f_t acts twice"),
    ("peephole_step_backward", peephole_no_peep_carry, "dc_prev", "da_i ⊙ p_i + da_f ⊙ p_f"),
    ("rnn_backward", rnn_backward_no_accumulation, "dW", "summed over the time steps"),
    ("lstm_backward", lstm_backward_ignores_truncate, "dW", "as if truncate were ignored"),
    ("lstm_backward", lstm_backward_chunked, "dxs", "chunked truncation"),
    ("clip_grad_norm", clip_per_array, "clipped", "the norm is global"),
    ("clip_grad_norm", clip_always, "clipped", "min(1, max_norm / ||g||)"),
]


@pytest.mark.parametrize("name, fn, output, hint", MISTAKES,
                         ids=[m[1].__name__ for m in MISTAKES])
def test_classic_mistake_is_named_with_its_hint(name, fn, output, hint):
    report = check(name, fn, cases=2 if name.endswith("_backward") else 3)
    text = str(report)
    assert not report.passed, text
    assert output in text and hint in text, text
    assert any(hint in h for h in report.hints[output]), report.hints


TABLE = [(name, hint, fn) for name, table in exercises._MISTAKES.items() for hint, fn in table]
TABLE += [("clip_grad_norm", hint, fn) for hint, fn in exercises._CLIP_MISTAKES]


@pytest.mark.parametrize("name, hint, fn", TABLE, ids=[f"{t[0]}-{i}" for i, t in enumerate(TABLE)])
def test_every_known_mistake_is_recognised(name, hint, fn):
    report = check(name, fn, cases=1 if name != "clip_grad_norm" else 3)
    assert not report.passed and hint in str(report), str(report)


# ---- a broken student function: a clear report, no exception -----------------------------------


def stub(dh, dc_next, cache):
    raise NotImplementedError  # your code


def test_not_implemented_yet():
    report = check("lstm_step_backward", stub)
    assert not report.passed
    assert "not implemented yet" in str(report)
    assert "Traceback" not in str(report)


def test_exception_in_student_code_is_reported():
    def buggy(dh, cache):
        x, h_prev, h, W, U = cache
        return dh @ W.T, None  # shapes do not align

    report = check("rnn_step_backward", buggy)
    text = str(report)
    assert not report.passed
    assert "raised ValueError" in text and "dh @ W.T" in text and "Traceback" not in text


@pytest.mark.parametrize("result, words", [
    (None, "returned None"),
    ((1.0, 2.0), "returned 2 values: expected 5"),
    (np.zeros(3), "returned one ndarray"),
])
def test_wrong_arity_or_none(result, words):
    report = check("rnn_step_backward", lambda dh, cache: result)
    assert not report.passed and words in str(report), str(report)


def test_wrong_shape_names_the_output():
    def wrong_shape(dh, cache):
        dx, dh_prev, dW, dU, db = ref.rnn_step_backward(dh, cache)
        return dx[:, :1], dh_prev, dW, dU, db

    report = check("rnn_step_backward", wrong_shape)
    assert not report.passed and "dx has the wrong shape" in str(report), str(report)


def test_nan_is_reported():
    def nan_out(dh, cache):
        dx, dh_prev, dW, dU, db = ref.rnn_step_backward(dh, cache)
        return dx, dh_prev * np.nan, dW, dU, db

    report = check("rnn_step_backward", nan_out)
    assert not report.passed and "dh_prev holds NaN" in str(report), str(report)


def test_in_place_modification_is_reported():
    def in_place(dh, dc_next, cache):
        dc_next += dh  # modifies the caller's array
        return ref.lstm_step_backward(dh, dc_next, cache)

    report = check("lstm_step_backward", in_place)
    assert not report.passed and "modified its argument dc_next in place" in str(report)

    def cache_in_place(dh, cache):
        cache.h[...] = 0.0
        return ref.rnn_step_backward(dh, cache)

    report = check("rnn_step_backward", cache_in_place)
    assert "modified its argument cache.h in place" in str(report), str(report)


def test_exception_inside_numpy_points_at_the_students_line():
    def split_wrong(dh, dc_next, cache):
        a, b = np.split(cache.W, 3)  # W has 4 blocks
        return a, b

    text = str(check("lstm_step_backward", split_wrong))
    assert "raised ValueError" in text and "np.split(cache.W, 3)" in text, text


def test_wrong_arguments_are_reported():
    report = check("lstm_step_backward", lambda dh, cache: None)
    assert not report.passed and "raised TypeError" in str(report), str(report)


def test_check_raises_only_for_its_own_arguments():
    with pytest.raises(ValueError, match="unknown exercise name.*lstm_step_backward"):
        check("lstm_backwards", ref.lstm_step_backward)
    with pytest.raises(TypeError, match="fn must be a function"):
        check("lstm_step_backward", "ref.lstm_step_backward")
