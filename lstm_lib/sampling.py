"""Generate text from a trained character model, with a temperature.

A character model maps ids ``x`` (N, T) to next-character logits (N, T, V). To generate, feed a
*prime* string, then repeatedly draw the next character from

    p_k = softmax(z / τ)_k = exp(z_k / τ) / Σ_j exp(z_j / τ),

where ``z`` are the logits of the last step and τ > 0 is the *temperature*, and feed the drawn
character back in. τ = 1 samples from the model's own distribution; τ < 1 sharpens it (τ → 0 is
greedy argmax decoding, :func:`greedy`); τ > 1 flattens it towards uniform.

The model must follow the protocol of :class:`lstm_lib.models.SequenceModel`::

    logits, state = model(x, state, return_state=True)   # x (1, T) int64 -> (1, T, V)

so that the recurrent state carries over from one call to the next and each new character costs
one step. Example::

    from lstm_lib.sampling import sample
    text = sample(model, corpus.vocab, prime="def ", length=200, temperature=0.5, seed=0)

Sampling runs in eval mode without gradients, on the device of the model's parameters, with its
own seeded ``torch.Generator``: the same seed gives the same text, and the global random state is
untouched.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from lstm_lib._checks import check_int

__all__ = ["temperature_softmax", "sample", "greedy", "SampleRecorder"]


def _check_temperature(temperature: float) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise ValueError(f"temperature must be a positive number, got "
                         f"{type(temperature).__name__} {temperature!r}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r} "
                         "(use greedy() for the temperature -> 0 limit)")
    return float(temperature)


def temperature_softmax(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``softmax(logits / temperature)`` over the last axis, computed stably.

    Args:
        logits: (..., V) unnormalised log-probabilities.
        temperature: τ > 0 and finite.

    Returns:
        probabilities of the same shape, summing to 1 over the last axis.

    Raises:
        TypeError: ``logits`` is not a floating-point tensor.
        ValueError: ``temperature`` is not a finite number > 0; ``logits`` is empty, holds NaN
            or +inf, or a row with no finite entry (-inf alone is fine: a masked choice).
    """
    t = _check_temperature(temperature)
    _check_logits(logits, "logits")
    # float64: with a small τ, logits / τ can exceed float32's exp range before the max shift
    return torch.softmax(logits.double() / t, dim=-1)


def _check_logits(logits, name: str) -> None:
    """A float tensor (..., V), V >= 1, no NaN or +inf, every row with a finite entry."""
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        what = logits.dtype if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise TypeError(f"{name} must be a floating-point torch.Tensor (..., V), got {what}")
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise ValueError(f"{name} must have shape (..., V) with V >= 1, got "
                         f"{tuple(logits.shape)}")
    if bool(torch.isnan(logits).any() | torch.isposinf(logits).any()):
        raise ValueError(f"{name} must not hold NaN or +inf (a diverged model?); got "
                         f"{int(torch.isnan(logits).sum())} NaN and "
                         f"{int(torch.isposinf(logits).sum())} +inf of {logits.numel()}")
    if not bool(torch.isfinite(logits).any(dim=-1).all()):
        raise ValueError(f"{name}: every row needs a finite entry; a row of -inf has no "
                         "distribution")


def _check_vocab(vocab) -> None:
    if not (callable(getattr(vocab, "encode", None)) and callable(getattr(vocab, "decode", None))):
        raise TypeError(f"vocab must have encode(str) and decode(ids) (e.g. "
                        f"lstm_lib.data.CharVocab), got {type(vocab).__name__}")


def _encode_prime(vocab, prime: str, length: int) -> torch.Tensor:
    _check_vocab(vocab)
    if not isinstance(prime, str) or len(prime) == 0:
        raise ValueError(f"prime must be a non-empty string (the model needs at least one "
                         f"input), got {prime!r}")
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(f"length must be an int >= 0, got {length!r}")
    try:
        ids = vocab.encode(prime)
    except (KeyError, ValueError) as err:
        raise ValueError(f"prime {prime!r} cannot be encoded by the vocab: {err}") from None
    return torch.as_tensor(ids, dtype=torch.int64)[None]  # (1, len(prime))


@torch.no_grad()
def _generate(model: nn.Module, vocab, prime: str, length: int, pick) -> str:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    x = _encode_prime(vocab, prime, length)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    out: list[int] = []
    try:
        logits, state = model(x.to(device), None, return_state=True)  # (1, T, V)
        if hasattr(vocab, "__len__") and logits.shape[-1] != len(vocab):
            raise ValueError(f"the model has V = {logits.shape[-1]} outputs but the vocab has "
                             f"{len(vocab)} entries: ids drawn from it would decode to the "
                             "wrong characters")
        for k in range(length):
            _check_logits(logits[0, -1], f"the model's logits before character {k + 1}")
            nxt = pick(logits[0, -1])  # an int id
            out.append(nxt)
            x_t = torch.tensor([[nxt]], dtype=torch.int64, device=device)  # (1, 1)
            logits, state = model(x_t, state, return_state=True)
    finally:
        model.train(was_training)
    return vocab.decode(out)


def sample(model: nn.Module, vocab, prime: str, length: int, temperature: float = 1.0,
           seed: int = 0) -> str:
    """Draw ``length`` characters after ``prime`` at the given temperature.

    Args:
        model: a character model with the protocol above (e.g. ``SequenceModel(...,
            embedding=len(vocab), readout="all")``).
        vocab: has ``encode(str) -> ids`` and ``decode(ids) -> str``
            (:class:`lstm_lib.data.CharVocab`).
        prime: the text the model reads first; non-empty.
        length: how many characters to generate (>= 0).
        temperature: τ > 0; see the module docstring.
        seed: seeds the generator that draws the characters.

    Returns:
        the ``length`` generated characters (without the prime).

    Raises:
        ValueError: bad ``temperature``, empty ``prime``, negative ``length``, a prime the
            vocab cannot encode, or logits with NaN/+inf from the model (a diverged model).
        TypeError: ``seed`` not an int, ``model`` not a module, ``vocab`` without
            encode/decode.
    """
    t = _check_temperature(temperature)
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0, maximum=2**63 - 1))

    def pick(z: torch.Tensor) -> int:  # z: (V,) logits of the last step
        p = temperature_softmax(z.cpu(), t)
        return int(torch.multinomial(p, 1, generator=gen))

    return _generate(model, vocab, prime, length, pick)


def greedy(model: nn.Module, vocab, prime: str, length: int) -> str:
    """Always take the most likely next character: the temperature -> 0 limit of :func:`sample`.

    Same arguments and result as :func:`sample`, without ``temperature`` and ``seed``. Greedy
    text tends to fall into loops (a repeated line or word), which is why sampling uses τ > 0.
    """
    return _generate(model, vocab, prime, length, lambda z: int(torch.argmax(z)))


class SampleRecorder:
    """Samples taken during training: a ``callback(step, model)`` for ``fit``.

    At each step in ``at`` it stores ``sample(model, vocab, prime, length, temperature,
    seed)`` in ``samples[step]``: the same prime, temperature and seed every time, so the
    samples differ only by what the model has learned (Karpathy's samples "as training
    progresses"). Call it once as ``recorder(0, model)`` before training for the untrained model.

    Attributes:
        samples: ``{step: generated text (without the prime)}`` in the order taken.
    """

    def __init__(self, vocab, prime: str, *, at, length: int = 200, temperature: float = 0.8,
                 seed: int = 0):
        _encode_prime(vocab, prime, length)
        _check_temperature(temperature)
        check_int("seed", seed, minimum=0, maximum=2**63 - 1)
        if isinstance(at, str) or not hasattr(at, "__iter__"):
            raise TypeError(f"at must be a collection of steps (ints >= 0), e.g. [0, 100, 500], "
                            f"got {type(at).__name__} {at!r}")
        at = list(at)
        if not at or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in at):
            raise ValueError(f"at must be a non-empty collection of ints >= 0, got {at!r}")
        steps = sorted(set(at))
        self.vocab, self.prime, self.at = vocab, prime, frozenset(steps)
        self.length, self.temperature, self.seed = length, temperature, seed
        self.samples: dict[int, str] = {}

    def __call__(self, step: int, model: nn.Module) -> None:
        if step in self.at:
            self.samples[step] = sample(model, self.vocab, self.prime, self.length,
                                        self.temperature, self.seed)
