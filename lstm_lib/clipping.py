r"""Gradient clipping, by global norm and by value (numpy), and the clipping experiment (torch).

Clipping by global norm (Pascanu, Mikolov & Bengio 2013)::

    (C1)  ‖g‖ = sqrt(Σ_p ‖∂L/∂p‖²)   over all parameters p at once
    (C2)  g ← g · min(1, θ / ‖g‖)      keeps the direction; the length is at most θ

Clipping by value (Karpathy's min-char-rnn uses θ = 5)::

    (C3)  g_i ← min(max(g_i, -θ), θ)    changes the direction once any entry is clamped

:func:`clip_grad_norm` and :func:`clip_grad_value` work on a dict of numpy gradients, as
``lstm_lib.reference``'s ``backward`` returns them, and never modify their argument.
:func:`clipping_run` trains a torch model with plain SGD and either kind of clipping and keeps
the history up to the first non-finite loss (``lstm_lib.train.fit`` raises there instead).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

__all__ = ["ClipRun", "clip_grad_norm", "clip_grad_value", "clipping_run", "global_norm",
           "rnn_with_radius"]


def _check_grads(grads) -> dict[str, np.ndarray]:
    if not isinstance(grads, Mapping) or not grads:
        raise TypeError(f"grads must be a non-empty dict name -> array, got {type(grads).__name__}")
    return {name: np.asarray(g, dtype=float) for name, g in grads.items()}


def _check_threshold(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """‖g‖ of eq. (C1): the 2-norm of all gradients together, as if concatenated into one vector."""
    grads = _check_grads(grads)
    return float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))


def clip_grad_norm(grads: Mapping[str, np.ndarray], max_norm: float
                   ) -> tuple[dict[str, np.ndarray], float]:
    """Clip by global norm, eqs. (C1)-(C2).

    Args:
        grads: name -> gradient array (any shapes), e.g. the ``grads`` of ``cell.backward``.
        max_norm: the threshold θ > 0.

    Returns:
        the clipped gradients (new arrays, same keys and shapes) and ‖g‖ *before* clipping,
        as ``torch.nn.utils.clip_grad_norm_`` returns it.
    """
    grads = _check_grads(grads)
    max_norm = _check_threshold(max_norm, "max_norm")
    norm = global_norm(grads)
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return {name: g * scale for name, g in grads.items()}, norm


def clip_grad_value(grads: Mapping[str, np.ndarray], clip_value: float) -> dict[str, np.ndarray]:
    """Clip every entry to [-θ, θ], eq. (C3); returns new arrays with the keys of ``grads``."""
    grads = _check_grads(grads)
    clip_value = _check_threshold(clip_value, "clip_value")
    return {name: np.clip(g, -clip_value, clip_value) for name, g in grads.items()}


def rnn_with_radius(rho: float, *, input_size: int = 2, hidden_size: int = 32,
                    output_size: int = 1, seed: int = 0):
    """A ``SequenceModel("rnn", ...)`` whose recurrent matrix U is rescaled to spectral radius ρ.

    The weights are PyTorch's default initialisation after ``seed_everything(seed)``, then
    ``weight_hh_l0`` is scaled by ``lstm_lib.gradients.set_spectral_radius``. With ρ > 1 the
    linearised recurrence is expanding: the setting of the clipping experiment.
    """
    import torch

    import lstm_lib
    from lstm_lib.gradients import set_spectral_radius
    from lstm_lib.models import SequenceModel

    lstm_lib.seed_everything(seed)
    model = SequenceModel("rnn", input_size=input_size, hidden_size=hidden_size,
                          output_size=output_size)
    with torch.no_grad():
        U = model.rnn.weight_hh_l0.detach().double().cpu().numpy()
        model.rnn.weight_hh_l0.copy_(torch.from_numpy(set_spectral_radius(U, rho)))
    return model


class ClipRun(NamedTuple):
    """What :func:`clipping_run` recorded.

    Attributes:
        losses: (S,) the training loss of every step that stayed finite.
        grad_norms: (S,) ‖g‖ before clipping at those steps.
        diverged_at: the step (from 1) whose loss was not finite, or ``None``.
    """

    losses: np.ndarray
    grad_norms: np.ndarray
    diverged_at: int | None


def clipping_run(make_model: Callable, x, y, *, batch_size: int, lr: float,
                 clip_norm: float = 0.0, clip_value: float = 0.0) -> ClipRun:
    """Plain SGD on fixed batches, clipping by norm or by value; stops at a non-finite loss.

    Args:
        make_model: ``() -> torch.nn.Module``; called once (seed inside it for repeatable weights).
        x, y: arrays of S * batch_size examples; step s uses rows (s-1)*batch_size .. s*batch_size.
        batch_size, lr: the batch size and SGD's learning rate.
        clip_norm: θ of (C2); 0 disables. clip_value: θ of (C3); 0 disables. Not both.

    The loss is the MSE. The norm is recorded before clipping, as ``lstm_lib.train.fit`` does.
    """
    import torch

    if clip_norm and clip_value:
        raise ValueError(f"set clip_norm or clip_value, not both: got {clip_norm}, {clip_value}")
    if batch_size < 1 or len(x) < batch_size or len(x) != len(y):
        raise ValueError(f"x and y need the same length >= batch_size = {batch_size}: "
                         f"got {len(x)} and {len(y)}")
    model = make_model()
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=lr)
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    losses, norms = [], []
    for s in range(len(x) // batch_size):
        rows = slice(s * batch_size, (s + 1) * batch_size)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x[rows]), y[rows])
        if not torch.isfinite(loss):
            return ClipRun(np.array(losses), np.array(norms), s + 1)
        loss.backward()
        norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params))
        if clip_norm:
            torch.nn.utils.clip_grad_norm_(params, clip_norm)
        elif clip_value:
            torch.nn.utils.clip_grad_value_(params, clip_value)
        opt.step()
        losses.append(loss.item())
        norms.append(norm.item())
    return ClipRun(np.array(losses), np.array(norms), None)
