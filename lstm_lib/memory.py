r"""How long a vanilla RNN remembers: the experiments of the first two chapters.

* :func:`state_difference` -- run one RNN on pairs of sequences that differ only in x_1 and
  measure ‖h_t − h'_t‖ at every step (the RNN chapter's "how much of x_1 is left in h_t").
* :func:`train_echo` -- train a torch ``SequenceModel("rnn")`` on the delayed echo
  y_t = x_{t-k} (:func:`lstm_lib.data.bits.shifted_bits` with ``shift=-k``) with
  :func:`lstm_lib.train.fit`; :func:`echo_accuracy` scores it on fresh sequences.
* :func:`train_echo_truncated` -- the same task trained with the numpy reference RNN, a softmax
  readout and Adam, with BPTT truncated to a window of k steps per loss term (the BPTT chapter's
  experiment: the gradient of E_t never reaches x_{t-k}).
"""

from __future__ import annotations

import numpy as np

__all__ = ["echo_accuracy", "state_difference", "train_echo", "train_echo_truncated"]


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_real(name: str, value, minimum: float = 0.0) -> float:
    if (isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating)
            or not np.isfinite(value) or value < minimum):
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    return float(value)


def state_difference(rho: float, *, T: int = 60, N: int = 200, D: int = 3, H: int = 32,
                     seed: int = 1) -> np.ndarray:
    """Mean ‖h_t − h'_t‖ over N sequence pairs that differ only in x_1; returns (T,) for t = 1..T.

    A reference RNN (H units) gets a Gaussian U rescaled to spectral radius ``rho``, W with
    N(0, 0.5²) entries, inputs x_t ~ N(0, 0.5²); the second sequence of each pair redraws x_1.
    """
    from lstm_lib.gradients import set_spectral_radius
    from lstm_lib.reference import make_cell

    T, N = _check_int("T", T, 1), _check_int("N", N, 1)
    D, H = _check_int("D", D, 1), _check_int("H", H, 1)
    rho = _check_real("rho", rho)
    rng = np.random.default_rng(_check_int("seed", seed, 0))
    cell = make_cell("rnn", D, H, rng=rng)
    cell.params["U"] = set_spectral_radius(rng.standard_normal((H, H)), rho)
    cell.params["W"] = 0.5 * rng.standard_normal((H, D))
    xs = 0.5 * rng.standard_normal((T, N, D))
    xs2 = xs.copy()
    xs2[0] = 0.5 * rng.standard_normal((N, D))  # only the first input differs
    hs, _ = cell.forward(xs)
    hs2, _ = cell.forward(xs2)
    return np.linalg.norm(hs - hs2, axis=2).mean(axis=1)  # (T,)


def echo_accuracy(model, k: int, *, T: int = 60, n: int = 2000, seed: int = 123) -> float:
    """Accuracy of ``model`` (x (n, T, 1) -> logits (n, T, 2)) on fresh delayed-echo data."""
    import torch

    from lstm_lib.data.bits import shifted_bits

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    k, T, n = _check_int("k", k, 1), _check_int("T", T, 1), _check_int("n", n, 1)
    if k >= T:
        raise ValueError(f"k must be < T (the echo of x_(t-k) needs t > k), got k={k}, T={T}")
    x, y = shifted_bits(n, T, -k, seed=seed)
    model.eval()
    with torch.no_grad():
        device = next(model.parameters()).device
        pred = model(torch.from_numpy(x).to(device)).argmax(-1).cpu().numpy()
    return float((pred[:, k:] == y[:, k:]).mean())


def train_echo(k: int, *, T: int = 60, hidden_size: int = 32, steps: int = 300,
               batch_size: int = 64, lr: float = 1e-2, seed: int = 0):
    """Train ``SequenceModel("rnn", readout="all")`` on the delayed echo with delay ``k``.

    Adam (``fit``'s default), gradient clipping at norm 1, cross-entropy on every step that has
    a target; fresh batches from a generator seeded with ``k``. Returns the trained model and
    its :func:`echo_accuracy`.
    """
    import lstm_lib
    from lstm_lib.data.bits import shifted_bits
    from lstm_lib.models import SequenceModel
    from lstm_lib.train import TrainConfig, fit

    k, T = _check_int("k", k, 1), _check_int("T", T, 1)
    if k >= T:
        raise ValueError(f"k must be < T (the echo of x_(t-k) needs t > k), got k={k}, T={T}")
    batch_size = _check_int("batch_size", batch_size, 1)
    lstm_lib.seed_everything(_check_int("seed", seed, 0))
    model = SequenceModel("rnn", input_size=1, hidden_size=hidden_size, output_size=2,
                          readout="all")
    data_rng = np.random.default_rng(k)
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, clip_norm=1.0,
                         progress=False)
    fit(model, lambda step, gen: shifted_bits(batch_size, T, -k, seed=data_rng), config=config,
        loss="ce")
    return model, echo_accuracy(model, k, T=T)


def train_echo_truncated(truncate: int | None, *, lag: int = 5, T: int = 30, H: int = 16,
                         N: int = 32, steps: int = 400, lr: float = 1e-2, seed: int = 0) -> float:
    """Train the reference RNN on the delayed echo with BPTT truncated to ``truncate`` steps.

    The model is the BPTT chapter's: ``make_cell("rnn", 1, H)``, a softmax readout V h_t + c
    over the two bits, the loss averaged over the scored steps. The gradients are exactly the
    derived ones: ``lstm_lib.bptt.softmax_readout`` for V (and c), ``cell.backward(...,
    truncate=truncate)`` for W, U, b (``None``: full BPTT). Adam with the usual (0.9, 0.999).
    The batches are the same for every ``truncate``. Returns the test accuracy on 500 fresh
    sequences (chance: 0.5).
    """
    from lstm_lib.bptt import softmax_readout
    from lstm_lib.data.bits import shifted_bits
    from lstm_lib.reference import make_cell

    lag = _check_int("lag", lag, 1)
    if truncate is not None:
        _check_int("truncate", truncate, 1)
    T, H, N = _check_int("T", T, 1), _check_int("H", H, 1), _check_int("N", N, 1)
    steps, lr = _check_int("steps", steps, 1), _check_real("lr", lr)
    if lag >= T:
        raise ValueError(f"lag must be < T, got lag={lag}, T={T}")
    if lr == 0:
        raise ValueError("lr must be > 0, got 0")
    rng = np.random.default_rng(_check_int("seed", seed, 0))
    cell = make_cell("rnn", 1, H, rng=rng)
    params = {**cell.params, "V": rng.uniform(-0.25, 0.25, (2, H)), "c": np.zeros(2)}

    def run(x, y):  # batch-first data -> time-major forward and readout
        cell.params = {name: params[name] for name in ("W", "U", "b")}
        hs, cache = cell.forward(x.transpose(1, 0, 2).astype(float))
        hs_c = np.concatenate([hs, np.ones(hs.shape[:2] + (1,))], axis=2)  # bias c as a column
        V_c = np.concatenate([params["V"], params["c"][:, None]], axis=1)
        return hs, cache, softmax_readout(hs_c, V_c, y.T)

    m = {n: np.zeros_like(p) for n, p in params.items()}
    s = {n: np.zeros_like(p) for n, p in params.items()}
    data = np.random.default_rng(100 + seed)  # the same batches for every truncation
    for step in range(1, steps + 1):
        x, y = shifted_bits(N, T, -lag, seed=data)
        hs, cache, out = run(x, y)
        n_scored = (y >= 0).sum()
        grads, _ = cell.backward(out.dhs[..., :H] / n_scored, cache, truncate=truncate)
        grads["V"], grads["c"] = out.dV[:, :H] / n_scored, out.dV[:, H] / n_scored
        for n in params:  # Adam
            m[n] = 0.9 * m[n] + 0.1 * grads[n]
            s[n] = 0.999 * s[n] + 0.001 * grads[n] ** 2
            m_hat, s_hat = m[n] / (1 - 0.9**step), s[n] / (1 - 0.999**step)
            params[n] = params[n] - lr * m_hat / (np.sqrt(s_hat) + 1e-8)
    x, y = shifted_bits(500, T, -lag, seed=999)
    y_hat = run(x, y)[2].y_hat  # (T, N, 2)
    return float((y_hat.argmax(-1)[lag:] == y.T[lag:]).mean())
