"""lstm_lib.clipping: clipping by norm and by value (numpy) against torch, and clipping_run."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_lib import clipping


def _grads(rng):
    return {"W": rng.standard_normal((3, 2)), "U": rng.standard_normal((3, 3)),
            "b": rng.standard_normal(3)}


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 100.0])
def test_clip_grad_norm_matches_torch_and_keeps_direction(max_norm, rng):
    torch = pytest.importorskip("torch")
    grads = _grads(rng)
    before = {n: g.copy() for n, g in grads.items()}
    clipped, norm = clipping.clip_grad_norm(grads, max_norm)
    for n in grads:  # the argument is not modified
        np.testing.assert_array_equal(grads[n], before[n])
    ps = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads.values()]
    for p, g in zip(ps, grads.values(), strict=True):
        p.grad = torch.from_numpy(g.copy())
    torch_norm = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    assert norm == pytest.approx(torch_norm.item(), rel=1e-12)
    for p, n in zip(ps, grads, strict=True):
        np.testing.assert_allclose(clipped[n], p.grad.numpy(), rtol=1e-5)  # torch adds 1e-6
    assert clipping.global_norm(clipped) == pytest.approx(min(norm, max_norm), rel=1e-12)
    flat = np.concatenate([g.ravel() for g in grads.values()])
    flat_c = np.concatenate([g.ravel() for g in clipped.values()])
    assert flat @ flat_c / (np.linalg.norm(flat) * np.linalg.norm(flat_c)) == pytest.approx(1.0)


def test_clip_grad_value_clamps_every_entry(rng):
    grads = _grads(rng)
    clipped = clipping.clip_grad_value(grads, 0.5)
    for n, g in grads.items():
        np.testing.assert_array_equal(clipped[n], np.clip(g, -0.5, 0.5))


def test_zero_gradient_is_left_alone():
    clipped, norm = clipping.clip_grad_norm({"b": np.zeros(3)}, 1.0)
    assert norm == 0.0 and np.all(clipped["b"] == 0)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "1", True])
def test_bad_thresholds_are_named(bad):
    with pytest.raises(ValueError, match="max_norm must be a finite number > 0"):
        clipping.clip_grad_norm({"b": np.ones(2)}, bad)
    with pytest.raises(ValueError, match="clip_value must be a finite number > 0"):
        clipping.clip_grad_value({"b": np.ones(2)}, bad)
    with pytest.raises(TypeError, match="grads must be a non-empty dict"):
        clipping.clip_grad_norm([np.ones(2)], 1.0)


def test_clipping_run_records_and_stops_at_divergence():
    torch = pytest.importorskip("torch")

    def make_model():
        torch.manual_seed(0)
        return torch.nn.Linear(2, 1).double()

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((400, 2)), rng.standard_normal((400, 1))
    run = clipping.clipping_run(make_model, x, y, batch_size=4, lr=0.1, clip_norm=1.0)
    assert run.diverged_at is None and len(run.losses) == len(run.grad_norms) == 100
    blown = clipping.clipping_run(make_model, 10 * x, y, batch_size=4, lr=10.0)
    assert blown.diverged_at is not None and len(blown.losses) == blown.diverged_at - 1
    with pytest.raises(ValueError, match="not both"):
        clipping.clipping_run(make_model, x, y, batch_size=4, lr=0.1, clip_norm=1, clip_value=1)


def test_rnn_with_radius_sets_the_spectral_radius():
    pytest.importorskip("torch")
    from lstm_lib.gradients import spectral_radius

    model = clipping.rnn_with_radius(2.0, input_size=2, hidden_size=8, seed=0)
    U = model.rnn.weight_hh_l0.detach().double().numpy()
    assert spectral_radius(U) == pytest.approx(2.0, rel=1e-5)
    again = clipping.rnn_with_radius(2.0, input_size=2, hidden_size=8, seed=0)
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        assert (a == b).all()
