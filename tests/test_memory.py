"""lstm_lib.memory: the state-difference and delayed-echo experiments of chapters 01-02."""

from __future__ import annotations

import pytest

from lstm_lib import memory


def test_state_difference_shrinks_for_small_radius_and_starts_equal():
    d_small = memory.state_difference(0.5, T=20, N=10, H=8)
    d_big = memory.state_difference(3.0, T=20, N=10, H=8)
    assert d_small.shape == (20,) and d_small[0] == pytest.approx(d_big[0])  # h_1 has no U
    assert d_small[-1] < 1e-3 * d_small[0] and d_big[-1] > 0.1 * d_big[0]
    with pytest.raises(ValueError, match="T must be an int >= 1"):
        memory.state_difference(0.5, T=0)


def test_train_echo_runs_and_scores():
    pytest.importorskip("torch")
    model, acc = memory.train_echo(2, T=12, hidden_size=8, steps=5, batch_size=8)
    assert 0.0 <= acc <= 1.0
    assert memory.echo_accuracy(model, 2, T=12, n=50) == pytest.approx(
        memory.echo_accuracy(model, 2, T=12, n=50))
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        memory.train_echo(0)


def test_train_echo_truncated_is_deterministic_and_full_bptt_learns():
    full = memory.train_echo_truncated(None, lag=2, T=12, H=8, N=16, steps=150, lr=3e-2)
    assert full > 0.9
    a = memory.train_echo_truncated(1, lag=2, T=12, H=8, N=16, steps=5)
    assert a == memory.train_echo_truncated(1, lag=2, T=12, H=8, N=16, steps=5)
    with pytest.raises(ValueError, match="truncate must be an int >= 1"):
        memory.train_echo_truncated(0)
