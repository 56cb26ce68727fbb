"""The character-level language model of the text chapters, as one small pipeline.

Corpus -> ids -> batches -> model -> loss in bits per character, against baselines:

* :func:`unigram_bpc`, :func:`bigram_bpc` -- what a model gets for free (character frequencies,
  and the previous character), ``-(1/T) sum_t log2 p(x_t | ...)`` with add-one smoothing;
* :func:`char_model` -- ``SequenceModel("lstm", E, H, V, embedding=V, readout="all")``: ids
  (N, T) -> next-character logits (N, T, V);
* :func:`train_char_model` -- Adam with truncated BPTT: with ``carry=True`` on
  :func:`lstm_lib.data.bptt_batches` with the state carried (``fit(..., stateful=True)``), with
  ``carry=False`` on independent random windows from a zero state (:func:`random_windows`);
* :func:`bits_per_char` -- validation bits per character, the text read as ``rows`` stateful
  streams (every prediction has all the preceding text of its row as context);
* :func:`bits_by_position` -- bits per character at each position of windows started from zero;
* :func:`record_gates` -- gate activations and cell states over a text, (T, H) per name;
* :func:`text_bpc`, :func:`validation_logits`, :func:`held_out_text`.

Bits per character are the cross-entropy in nats divided by ln 2; perplexity is ``2 ** bpc``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lstm_lib._checks import check_bool, check_int
from lstm_lib._device import seed_everything
from lstm_lib.data.text import PythonCorpus, bptt_batches, stdlib_source_files
from lstm_lib.models import SequenceModel
from lstm_lib.train import History, TrainConfig, evaluate, fit

__all__ = ["unigram_bpc", "bigram_bpc", "char_model", "random_windows", "train_char_model",
           "bits_per_char", "bits_by_position", "record_gates", "text_bpc",
           "validation_logits", "held_out_text"]


def _ids(ids, name: str) -> np.ndarray:
    a = np.asarray(ids)
    if a.ndim != 1 or a.size < 2 or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D integer id array of length >= 2, got dtype "
                         f"{a.dtype} and shape {a.shape}")
    if a.min() < 0:
        raise ValueError(f"{name} must hold ids >= 0, got a minimum of {a.min()}")
    return a


def _module(model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (e.g. char_model(V)), got "
                        f"{type(model).__name__}")
    return model


def _check_vocab_size(V: int, *arrays: np.ndarray) -> None:
    if isinstance(V, bool) or not isinstance(V, int) or V < 1:
        raise ValueError(f"V must be a positive int, got {V!r}")
    for a in arrays:
        if a.min() < 0 or a.max() >= V:
            raise ValueError(f"ids must lie in [0, V) = [0, {V}), got [{a.min()}, {a.max()}]")


def unigram_bpc(train_ids, val_ids, V: int) -> float:
    """Bits per character of the add-one unigram model of ``train_ids`` on ``val_ids``.

    p(k) = (count_k + 1) / (T_train + V); returns ``-mean(log2 p(val_ids))``.
    """
    train_ids, val_ids = _ids(train_ids, "train_ids"), _ids(val_ids, "val_ids")
    _check_vocab_size(V, train_ids, val_ids)
    counts = np.bincount(train_ids, minlength=V) + 1.0
    return float(-np.log2(counts[val_ids] / counts.sum()).mean())


def bigram_bpc(train_ids, val_ids, V: int) -> float:
    """Bits per character of the add-one bigram model p(x_t | x_{t-1}) on ``val_ids[1:]``.

    The best any model can do with one character of context, up to the difference between the
    training and the validation text.
    """
    train_ids, val_ids = _ids(train_ids, "train_ids"), _ids(val_ids, "val_ids")
    _check_vocab_size(V, train_ids, val_ids)
    pairs = np.ones((V, V))
    np.add.at(pairs, (train_ids[:-1], train_ids[1:]), 1)
    p = pairs / pairs.sum(1, keepdims=True)  # (V, V): row = previous character
    return float(-np.log2(p[val_ids[:-1], val_ids[1:]]).mean())


def char_model(V: int, hidden_size: int = 128, embed: int = 32, *, seed: int = 0,
               kind: str = "lstm", **kwargs) -> SequenceModel:
    """A character model: embedding (V -> embed) -> recurrent layer (H) -> linear (V) per step.

    Seeds everything with ``seed`` first, so the initial weights repeat. ``kwargs`` go to
    :class:`~lstm_lib.models.SequenceModel` (e.g. ``num_layers=2``, ``forget_bias=1.0``).
    """
    check_int("V", V, minimum=1)
    seed_everything(check_int("seed", seed, minimum=0))
    return SequenceModel(kind, embed, hidden_size, V, embedding=V, readout="all", **kwargs)


def random_windows(ids, n: int, window: int) -> Callable:
    """A ``batch_fn(step, rng)`` for :func:`~lstm_lib.train.fit`: ``n`` independent windows.

    Each batch is ``(x, y)``, both (n, window) int64, ``y = x`` shifted by one character, the
    windows starting at uniformly random positions of ``ids``.
    """
    ids = _ids(ids, "ids").astype(np.int64)
    n, window = check_int("n", n, minimum=1), check_int("window", window, minimum=1)
    if len(ids) < window + 2:
        raise ValueError(f"need n >= 1, window >= 1 and len(ids) >= window + 2; got n={n}, "
                         f"window={window}, len(ids)={len(ids)}")

    def batch_fn(step, rng):
        starts = rng.integers(0, len(ids) - window - 1, size=n)[:, None] + np.arange(window)
        return ids[starts], ids[starts + 1]  # (n, window) inputs and targets

    return batch_fn


def train_char_model(model: nn.Module, train_ids, *, window: int, batch_size: int, steps: int,
                     lr: float, carry: bool = True, clip_norm: float = 1.0, seed: int = 0,
                     val_ids=None, eval_every: int = 100,
                     callback: Callable | None = None) -> History:
    """Train ``model`` in place with Adam on windows of ``window`` characters; the History.

    ``carry=True``: truncated BPTT on ``bptt_batches(train_ids, batch_size, window)`` with the
    state carried from batch to batch, detached (``fit(..., stateful=True)``); each pass over
    the text starts from a zero state. ``carry=False``: ``batch_size`` independent windows per
    step, each from a zero state. With ``val_ids`` the history's ``val_loss`` holds validation
    bits per character (16 stateful rows) every ``eval_every`` steps. ``callback(step, model)``
    runs after every step (e.g. a :class:`lstm_lib.sampling.SampleRecorder`).
    """
    _module(model)
    train_ids = _ids(train_ids, "train_ids")
    carry = check_bool("carry", carry)
    window = check_int("window", window, minimum=1)
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, clip_norm=clip_norm,
                         seed=seed, eval_every=eval_every, progress=False)
    if carry:
        train = bptt_batches(train_ids, batch_size, window, drop_last=True)
    else:
        train = random_windows(train_ids, batch_size, window)
    val = None
    if val_ids is not None:
        val = bptt_batches(_ids(val_ids, "val_ids"), min(16, len(val_ids) - 1), 256)
    history = fit(model, train, val, config=config, loss="ce", stateful=carry,
                  callback=callback)
    if val is not None and not carry:  # fit evaluated independent batches: redo it statefully
        history.val_loss = [bits_per_char(model, val_ids) * math.log(2)]
        history.val_step = [history.step[-1]]
    history.val_loss = [v / math.log(2) for v in history.val_loss]  # nats -> bits
    return history


def _device_of(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def bits_per_char(model: nn.Module, ids, rows: int = 16, window: int = 256) -> float:
    """Mean ``-log2 p(next char)`` over ``ids``, read as ``rows`` streams with the state carried.

    Each of the ``rows`` rows of :func:`~lstm_lib.data.bptt_batches` is read from a zero state
    at its start; after that every prediction has the row's whole preceding text as context.
    """
    _module(model)
    ids = _ids(ids, "ids")
    rows, window = check_int("rows", rows, minimum=1), check_int("window", window, minimum=1)
    if len(ids) < rows + 1:
        raise ValueError(f"rows must be in [1, len(ids) - 1], got rows={rows} for "
                         f"{len(ids)} ids")
    result = evaluate(model, bptt_batches(ids, rows, window), loss="ce", stateful=True)
    return result["loss"] / math.log(2)


@torch.no_grad()
def bits_by_position(model: nn.Module, ids, window: int = 256, stride: int = 64) -> np.ndarray:
    """(window,) mean ``-log2 p`` of the character after position t, from a zero state at t = 0.

    Windows of ``window`` characters start every ``stride`` characters of ``ids`` (overlapping);
    the value at index t is the mean over windows of the loss of the prediction made with
    exactly t + 1 characters of context.
    """
    _module(model)
    ids = _ids(ids, "ids").astype(np.int64)
    window = check_int("window", window, minimum=1)
    stride = check_int("stride", stride, minimum=1)
    starts = np.arange(0, len(ids) - window - 1, stride)
    if len(starts) == 0:
        raise ValueError(f"ids (length {len(ids)}) is too short for window={window}")
    idx = starts[:, None] + np.arange(window)  # (n, window)
    x, y = torch.from_numpy(ids[idx]), torch.from_numpy(ids[idx + 1])
    dev, was_training = _device_of(model), model.training
    model.eval()
    total = torch.zeros(window, dtype=torch.float64)
    try:
        for k in range(0, len(x), 256):
            logits = model(x[k:k + 256].to(dev)).cpu()  # (n, window, V)
            nll = F.cross_entropy(logits.transpose(1, 2), y[k:k + 256], reduction="none")
            total += nll.sum(0).double()
    finally:
        model.train(was_training)
    return total.numpy() / len(x) / math.log(2)


@torch.no_grad()
def record_gates(model: SequenceModel, ids, rows: int = 20) -> dict[str, np.ndarray]:
    """Gate activations and cell states over ``ids``: ``{name: (T, H)}``, names ``i f g o c``.

    The text is cut into ``rows`` consecutive pieces read in parallel from a zero state
    (T is rounded down to a multiple of ``rows``), then put back in order, so row t of every
    array belongs to character t of the text. Needs an ``lstm_lib.nn`` kind (one layer is
    read: the first).
    """
    _module(model)
    ids = _ids(ids, "ids").astype(np.int64)
    rows = check_int("rows", rows, minimum=1)
    T = len(ids) // rows * rows
    if T == 0:
        raise ValueError(f"need at least rows={rows} ids, got {len(ids)}")
    x = torch.from_numpy(ids[:T]).reshape(rows, -1).to(_device_of(model))  # (rows, T / rows)
    was_training = model.training
    model.eval()
    try:
        _, gates = model(x, return_gates=True)
    finally:
        model.train(was_training)
    return {k: v.reshape(T, -1).cpu().numpy() for k, v in gates[0].items()}


@torch.no_grad()
def text_bpc(model: nn.Module, vocab, prime: str, text: str) -> float:
    """Bits per character the model needs to encode ``text`` after reading ``prime``."""
    _module(model)
    if not isinstance(prime, str) or not isinstance(text, str):
        raise TypeError(f"prime and text must be str, got {type(prime).__name__} and "
                        f"{type(text).__name__}")
    if not prime or not text:
        raise ValueError(f"prime and text must be non-empty, got {prime!r} and {text!r}")
    ids = torch.as_tensor(vocab.encode(prime + text))[None].to(_device_of(model))  # (1, T)
    was_training = model.training
    model.eval()
    try:
        logits = model(ids[:, :-1])[0, len(prime) - 1:]  # the predictions of `text`
    finally:
        model.train(was_training)
    return F.cross_entropy(logits, ids[0, len(prime):]).item() / math.log(2)


@torch.no_grad()
def validation_logits(model: nn.Module, ids, rows: int = 16,
                      window: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (n, V) and targets (n,) over ``ids`` read as ``rows`` stateful streams."""
    _module(model)
    ids = _ids(ids, "ids")
    rows, window = check_int("rows", rows, minimum=1), check_int("window", window, minimum=1)
    dev, was_training = _device_of(model), model.training
    model.eval()
    state, zs, ys = None, [], []
    try:
        for x, y in bptt_batches(ids, rows, window):
            logits, state = model(torch.from_numpy(x).to(dev), state, return_state=True)
            zs.append(logits.reshape(-1, logits.shape[-1]).cpu())
            ys.append(torch.from_numpy(y).reshape(-1))
    finally:
        model.train(was_training)
    return torch.cat(zs), torch.cat(ys)


def held_out_text(corpus: PythonCorpus, n_chars: int) -> str:
    """Whole standard-library files that come after those in ``corpus``: text it never saw.

    The corpus takes a prefix of :func:`~lstm_lib.data.stdlib_source_files`; this reads the
    following files (joined by a blank line, as the corpus is) up to ``n_chars`` characters.
    """
    n_chars = check_int("n_chars", n_chars, minimum=1)
    if not isinstance(corpus, PythonCorpus):
        raise TypeError(f"corpus must be a PythonCorpus, got {type(corpus).__name__}")
    pieces, size = [], 0
    for path in stdlib_source_files()[len(corpus.files):]:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            piece = fh.read() + "\n\n"
        pieces.append(piece)
        size += len(piece)
        if size >= n_chars:
            break
    return "".join(pieces)[:n_chars]
