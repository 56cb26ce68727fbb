"""Greff's NIG, NFG, NOG train on the fused hand-derived BPTT (the gate's block at σ(+inf) = 1):
the same outputs and gradients as the generic loop, the unused block's gradient exactly zero."""

import pytest
import torch

from lstm_lib import nn as lnn


def _grads(m, x, hx):
    out, (h_n, c_n) = m(x, hx)
    loss = (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum() \
        + h_n.square().sum() + c_n.sin().sum()
    names = [n for n, _ in m.named_parameters()]
    inputs = [x, *hx, *m.parameters()]
    return out.detach(), dict(zip(["x", "h0", "c0", *names],
                                  torch.autograd.grad(loss, inputs), strict=True))


@pytest.mark.parametrize("variant, block", [("NIG", 0), ("NFG", 1), ("NOG", 3)])
@pytest.mark.parametrize("bias, bidirectional", [(True, False), (False, True)])
def test_fused_ablation_equals_generic_loop(variant, block, bias, bidirectional):
    torch.manual_seed(0)
    m = lnn.LSTM(3, 4, num_layers=2, bias=bias, bidirectional=bidirectional,
                          variant=variant, dtype=torch.float64)
    L = 4 if bidirectional else 2
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    hx = tuple(torch.randn(L, 2, 4, dtype=torch.float64, requires_grad=True) for _ in range(2))
    out, grads = _grads(m, x, hx)
    assert any(type(n).__name__ == "LSTMFunctionBackward"
               for n in _nodes(m(x, hx)[0].grad_fn)), "the fused path was not taken"
    with lnn.fast_path(False):
        want_out, want = _grads(m, x, hx)
    torch.testing.assert_close(out, want_out, rtol=1e-12, atol=1e-12)
    for name, g in grads.items():
        assert torch.isfinite(g).all(), name
        torch.testing.assert_close(g, want[name], rtol=1e-10, atol=1e-12, msg=name)
    assert not any(type(n).__name__ == "LSTMFunctionBackward"
                   for n in _nodes(lnn.PeepholeLSTM(3, 4, variant=variant)(x.float())[0].grad_fn))
    H = 4
    assert (grads["weight_ih_l0"][block * H:(block + 1) * H] == 0).all()
    assert (grads["weight_hh_l1"][block * H:(block + 1) * H] == 0).all()


def _nodes(fn):
    seen, stack = set(), [fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        yield node
        stack.extend(n for n, _ in node.next_functions)


def test_fused_ablation_second_order_is_exact():
    """create_graph=True recomputes through the generic loop: gradgradcheck holds."""
    torch.manual_seed(1)
    m = lnn.LSTM(2, 3, variant="NOG", dtype=torch.float64)
    x = torch.randn(3, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda x: m(x)[0], (x,))
