"""lstm_lib.timing: interleaved medians, one forward+backward pass."""

from __future__ import annotations

import pytest
import torch

from lstm_lib.timing import forward_backward, time_interleaved


def test_time_interleaved_order_and_calls():
    calls = []
    t = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                         repeats=3, warmup=1)
    assert list(t) == ["a", "b"] and all(v >= 0 for v in t.values())
    assert calls == ["a", "b"] * 4                                  # interleaved, warm-up first


@pytest.mark.parametrize("kwargs, match", [({"repeats": 0}, "repeats"), ({"warmup": -1}, "warmup")])
def test_time_interleaved_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        time_interleaved({"a": lambda: None}, **kwargs)
    with pytest.raises(ValueError, match="at least one"):
        time_interleaved({})


def test_forward_backward_fills_gradients():
    layer = torch.nn.LSTM(2, 3)
    forward_backward(layer, torch.randn(4, 1, 2))()
    assert all(p.grad is not None for p in layer.parameters())


def test_forward_backward_fast_path_switch(monkeypatch):
    from lstm_lib import nn as lnn
    from lstm_lib.nn import fused

    seen = []
    real = fused.run_layer
    monkeypatch.setattr(fused, "run_layer", lambda *a, **k: seen.append(1) or real(*a, **k))
    layer, x = lnn.LSTM(2, 3), torch.randn(4, 1, 2)
    forward_backward(layer, x, fast_path=False)()
    assert not seen and lnn.fast_path_enabled()                   # setting restored
    forward_backward(layer, x, fast_path=True)()
    assert seen
    with pytest.raises(TypeError, match="fast_path must be"):
        forward_backward(layer, x, fast_path=1)


def test_forward_backward_compiled_switch(monkeypatch):
    from lstm_lib import nn as lnn
    from lstm_lib.nn import compiled

    seen = []
    monkeypatch.setattr(compiled, "available", lambda device=None: seen.append(
        compiled.enabled()) or False)
    layer, x = lnn.LSTM(2, 3), torch.randn(4, 1, 2)
    before = compiled.enabled()
    forward_backward(layer, x, compiled=False)()
    assert seen and not any(seen) and compiled.enabled() == before  # off inside, restored
    seen.clear()
    forward_backward(layer, x, compiled=True, fast_path=True)()
    assert seen and all(seen)
    with pytest.raises(TypeError, match="compiled must be"):
        forward_backward(layer, x, compiled="yes")
