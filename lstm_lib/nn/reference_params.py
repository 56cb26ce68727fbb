"""Translate parameters between ``lstm_lib.nn`` modules and ``lstm_lib.reference`` cells.

The reference cell has one bias ``b`` per gate block (the book's b = bias_ih + bias_hh) and names
its weights ``W`` (= weight_ih), ``U`` (= weight_hh) and peepholes ``p_i p_f p_o``
(= ``peephole_i`` ...). The GRU keeps ``b_hn`` (the n block of bias_hh) apart, because r_t
multiplies it: ``b`` then holds (b_ir + b_hr, b_iz + b_hz, b_in). The gate blocks are stacked in
the same order on both sides (i, f, g, o; r, z, n; f, g, o for the CIFG).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from lstm_lib.nn._kinds import KINDS

_PEEPHOLES = {"p_i": "peephole_i", "p_f": "peephole_f", "p_o": "peephole_o"}


def _parameters(module: nn.Module, layer_idx: int, direction: int) -> dict:
    _check_index(module, layer_idx, direction)
    layer_idx, direction = int(layer_idx), int(direction)  # np.integer too
    if hasattr(module, "layer_parameters"):  # a layer
        return module.layer_parameters(layer_idx, direction)
    if hasattr(module, "weight_ih_l0"):  # a torch.nn layer
        suffix = f"_l{layer_idx}" + ("_reverse" if direction == 1 else "")
        return {name: getattr(module, name + suffix, None)
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    if hasattr(module, "cell_parameters"):  # an lnn cell
        return module.cell_parameters()
    return {name: getattr(module, name, None)  # a torch.nn cell (attributes: parametrizations)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def _check_index(module: nn.Module, layer_idx, direction) -> None:
    """``layer_idx`` in [0, num_layers) and ``direction`` in [0, num_directions): no negative
    indices (Python's -1 would silently pick the last layer)."""
    for name, value in (("layer_idx", layer_idx), ("direction", direction)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if not hasattr(module, "weight_ih_l0") and not hasattr(module, "layer_parameters"):
        if layer_idx != 0 or direction != 0:
            raise ValueError(f"a cell has one layer and one direction; got "
                             f"layer_idx={layer_idx}, direction={direction}")
        if not hasattr(module, "weight_ih"):
            raise TypeError(f"module must be an lnn or torch.nn recurrent layer or cell, got "
                            f"{type(module).__name__}")
        return
    num_layers = module.num_layers
    num_directions = 2 if module.bidirectional else 1
    if not 0 <= layer_idx < num_layers:
        raise ValueError(f"layer_idx must be in [0, num_layers) = [0, {num_layers}), "
                         f"got {layer_idx}")
    if not 0 <= direction < num_directions:
        raise ValueError(f"direction must be in [0, num_directions) = [0, {num_directions}) "
                         f"(1 is the reverse direction of a bidirectional layer), "
                         f"got {direction}")


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
    so ``to_reference_params`` gives ``params`` back. ``params`` must hold exactly the keys
    ``to_reference_params`` returns for ``module``, each a finite real array of exactly that
    shape (no broadcasting: a scalar ``b_hn`` is refused); everything is checked before the
    module is touched. Returns ``module``.
    """
    p = _parameters(module, layer_idx, direction)
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict name -> array (a reference cell's params), "
                        f"got {type(params).__name__}")
    expected = to_reference_params(module, layer_idx, direction)  # names and shapes
    missing, extra = sorted(set(expected) - set(params)), sorted(set(params) - set(expected))
    if missing or extra:
        raise ValueError(f"params must have exactly the keys {sorted(expected)} for this "
                         f"{type(module).__name__}: missing {missing}, unexpected {extra}")
    values = {name: _checked(params[name], expected[name].shape, f"params[{name!r}]")
              for name in expected}
    written = [name for ref_name, name in [("W", "weight_ih"), ("U", "weight_hh"),
                                           *_PEEPHOLES.items()] if ref_name in values]
    written += [name for name in ("bias_ih", "bias_hh") if p[name] is not None]
    for name in written:
        if not isinstance(p[name], nn.Parameter):
            raise ValueError(f"{name} of this {type(module).__name__} is computed (weight_norm "
                             f"or a parametrization), not a parameter: from_reference_params "
                             f"cannot write it; load the params before parametrizing")
    if p["bias_ih"] is None and (np.any(values["b"]) or np.any(values.get("b_hn", 0.0))):
        raise ValueError("the module has bias=False but params['b'] is not zero")
    with torch.no_grad():
        for ref_name, name in [("W", "weight_ih"), ("U", "weight_hh"), *_PEEPHOLES.items()]:
            if ref_name in values:
                _copy(p[name], values[ref_name])
        if p["bias_ih"] is not None:
            _copy(p["bias_ih"], values["b"])
            p["bias_hh"].zero_()
            if "b_hn" in values:
                H = p["weight_hh"].shape[1]
                _copy(p["bias_hh"][2 * H:], values["b_hn"])
    return module


def _checked(value, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``value`` as a float64 array of exactly ``shape``, finite; refused otherwise."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating)
                                 or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{what} must be a real array, got dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{what} must have shape {tuple(shape)}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} must be finite: expected no NaN or inf, got "
                         f"{int((~np.isfinite(arr)).sum())} non-finite entries")
    return arr.astype(np.float64, copy=False)


def _copy(target: torch.Tensor, value: np.ndarray) -> None:
    target.copy_(torch.as_tensor(value, dtype=target.dtype, device=target.device))


def _mode(module: nn.Module) -> str:
    mode = getattr(module, "_mode", None) or getattr(module, "mode", None)
    if mode in KINDS:
        return mode
    name = type(module).__name__.removesuffix("Cell")
    return name if name in KINDS else "LSTM"
