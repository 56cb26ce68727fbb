"""Translate parameters between ``lstm_lib.nn`` modules and ``lstm_lib.reference`` cells.

The reference cell has one bias ``b`` per gate block (the book's b = bias_ih + bias_hh) and names
its weights ``W`` (= weight_ih), ``U`` (= weight_hh) and peepholes ``p_i p_f p_o``
(= ``peephole_i`` ...). The GRU keeps ``b_hn`` (the n block of bias_hh) apart, because r_t
multiplies it: ``b`` then holds (b_ir + b_hr, b_iz + b_hz, b_in). The gate blocks are stacked in
the same order on both sides (i, f, g, o; r, z, n; f, g, o for the CIFG).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lstm_lib.nn._kinds import KINDS

_PEEPHOLES = {"p_i": "peephole_i", "p_f": "peephole_f", "p_o": "peephole_o"}


def _parameters(module: nn.Module, layer_idx: int, direction: int) -> dict:
    if hasattr(module, "layer_parameters"):  # a layer
        return module.layer_parameters(layer_idx, direction)
    if hasattr(module, "weight_ih_l0"):  # a torch.nn layer
        suffix = f"_l{layer_idx}" + ("_reverse" if direction == 1 else "")
        return {name: getattr(module, name + suffix, None)
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    if layer_idx != 0 or direction != 0:
        raise ValueError(f"a cell has one layer and one direction; got layer_idx={layer_idx}, "
                         f"direction={direction}")
    p = dict(module.named_parameters(recurse=False))
    p.setdefault("bias_ih", None)
    p.setdefault("bias_hh", None)
    return p


def to_reference_params(module: nn.Module, layer_idx: int = 0, direction: int = 0,
                        ) -> dict[str, np.ndarray]:
    """The reference cell's ``params`` (float64 numpy) of one layer and direction of ``module``.

    ``module`` is an ``lnn`` layer or cell (or a ``torch.nn`` one with the same names: RNN, LSTM,
    GRU and their cells). Returns ``W`` (gH, D), ``U`` (gH, H), ``b`` (gH,) and, by kind,
    ``p_i p_f p_o`` (H,) or ``b_hn`` (H,). Load it with ``ref_cell.params.update(...)``.
    """
    p = _parameters(module, layer_idx, direction)

    def np64(t):
        return t.detach().to("cpu", torch.float64).numpy().copy()

    W, U = np64(p["weight_ih"]), np64(p["weight_hh"])
    zeros = np.zeros(W.shape[0])
    b_ih = zeros if p["bias_ih"] is None else np64(p["bias_ih"])
    b_hh = zeros if p["bias_hh"] is None else np64(p["bias_hh"])
    out = {"W": W, "U": U}
    if _mode(module) == "GRU":
        H = U.shape[1]
        out["b"] = np.concatenate([b_ih[:2 * H] + b_hh[:2 * H], b_ih[2 * H:]])
        out["b_hn"] = b_hh[2 * H:].copy()
    else:
        out["b"] = b_ih + b_hh
    for ref_name, name in _PEEPHOLES.items():
        if name in p:
            out[ref_name] = np64(p[name])
    return out


def from_reference_params(module: nn.Module, params: dict, layer_idx: int = 0,
                          direction: int = 0) -> nn.Module:
    """Copy a reference cell's ``params`` into one layer and direction of ``module``, in place.

    ``b`` goes to ``bias_ih`` and ``bias_hh`` becomes zero (for the GRU its n block is ``b_hn``),
    so ``to_reference_params`` gives ``params`` back. Returns ``module``.
    """
    p = _parameters(module, layer_idx, direction)
    with torch.no_grad():
        for ref_name, name in [("W", "weight_ih"), ("U", "weight_hh"), *_PEEPHOLES.items()]:
            if name in p and ref_name in params:
                _copy(p[name], params[ref_name], f"params[{ref_name!r}]")
        if p["bias_ih"] is None:
            if np.any(params["b"]) or np.any(params.get("b_hn", 0.0)):
                raise ValueError("the module has bias=False but params['b'] is not zero")
        else:
            _copy(p["bias_ih"], params["b"], "params['b']")
            p["bias_hh"].zero_()
            if _mode(module) == "GRU":
                H = p["weight_hh"].shape[1]
                p["bias_hh"][2 * H:] = torch.as_tensor(params["b_hn"], dtype=p["bias_hh"].dtype)
    return module


def _copy(target: torch.Tensor, value, what: str) -> None:
    value = torch.as_tensor(np.asarray(value), dtype=target.dtype, device=target.device)
    if value.shape != target.shape:
        raise ValueError(f"{what} must have shape {tuple(target.shape)}, "
                         f"got {tuple(value.shape)}")
    target.copy_(value)


def _mode(module: nn.Module) -> str:
    mode = getattr(module, "_mode", None) or getattr(module, "mode", None)
    if mode in KINDS:
        return mode
    name = type(module).__name__.removesuffix("Cell")
    return name if name in KINDS else "LSTM"
