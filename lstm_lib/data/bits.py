"""Random-bit labelling tasks: the label at step t is the input bit at step t + shift.

``shift < 0`` is a *delayed echo* (y_t = x_{t-d}: keep d steps, forget everything older);
``shift > 0`` asks for a *future* bit (y_t = x_{t+k}), which no causal model can know and a
bidirectional one reads from its backward half. Steps without a label carry the ignore index
-100 of ``torch.nn.functional.cross_entropy`` (and of ``lstm_lib.train``'s ``"ce"`` loss).
"""

from __future__ import annotations

import numpy as np

from lstm_lib.data._checks import check_seed

__all__ = ["IGNORE_INDEX", "shifted_bits"]

IGNORE_INDEX = -100


def shifted_bits(n: int, seq_len: int, shift: int, *,
                 seed: int | np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    """Random bits and their shifted copy as per-step labels.

    Args:
        n: sequences N. seq_len: steps T. shift: the label at step t is the bit at t + shift
            (non-zero, |shift| < T).
        seed: an int, ``None`` or a ``numpy.random.Generator`` (used as is).

    Returns:
        x (N, T, 1) float32 bits and y (N, T) int64 labels; y_t = x_{t+shift} where that step
        exists and ``IGNORE_INDEX`` (-100) elsewhere (the first |shift| steps of an echo, the
        last ``shift`` steps of a future task). Chance accuracy on the labelled steps is 1/2.
    """
    for name, v, low in (("n", n, 1), ("seq_len", seq_len, 2)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < low:
            raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
    if isinstance(shift, bool) or not isinstance(shift, int | np.integer) or shift == 0 \
            or abs(shift) >= seq_len:
        raise ValueError(f"shift must be a non-zero int with |shift| < seq_len = {seq_len}, "
                         f"got {shift!r}")
    seed = check_seed("seed", seed)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(n, seq_len))
    y = np.full((n, seq_len), IGNORE_INDEX, dtype=np.int64)
    if shift > 0:
        y[:, :-shift] = bits[:, shift:]
    else:
        y[:, -shift:] = bits[:, :shift]
    return bits[..., None].astype(np.float32), y
