"""Small models the chapters and the command line train: recurrent layer + linear readout.

* :class:`SequenceModel` -- (optional embedding) -> recurrent layer(s) -> dropout -> linear head,
  reading out the last step (``"last"``), every step (``"all"``) or the mean over time
  (``"mean"``). ``kind`` picks the recurrent layer: ``"rnn"``, ``"lstm"``, ``"gru"``,
  ``"peephole"``, ``"cifg"`` from :mod:`lstm_lib.nn`, or ``"torch-rnn"``, ``"torch-lstm"``,
  ``"torch-gru"`` from :mod:`torch.nn` for comparisons.
* :class:`Conv1dLSTM` -- a Conv1d + max-pool front end that shortens long sequences by ``pool``
  before the recurrent model.
* :class:`DenseBaseline` -- an MLP on the flattened window, the non-recurrent forecasting baseline.
* :func:`count_parameters`.

All models take batch-first input ``x`` (N, T, D) (or token ids (N, T) with ``embedding=``) and
return a tensor; they never plot.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstm_lib._checks import check_bool, check_int, check_real

__all__ = ["KINDS", "READOUTS", "SequenceModel", "Conv1dLSTM", "DenseBaseline",
           "recurrent_layer", "count_parameters"]

# kind -> (module, class name); lstm_lib.nn is imported on first use.
_LAYERS = {
    "rnn": ("lstm_lib.nn", "RNN"),
    "lstm": ("lstm_lib.nn", "LSTM"),
    "gru": ("lstm_lib.nn", "GRU"),
    "peephole": ("lstm_lib.nn", "PeepholeLSTM"),
    "cifg": ("lstm_lib.nn", "CIFG"),
    "torch-rnn": ("torch.nn", "RNN"),
    "torch-lstm": ("torch.nn", "LSTM"),
    "torch-gru": ("torch.nn", "GRU"),
}
KINDS = tuple(_LAYERS)
READOUTS = ("last", "all", "mean")
_BOOL_KWARGS = ("bias", "batch_first", "bidirectional")


def _check_kind(kind: str) -> None:
    if not isinstance(kind, str) or kind not in _LAYERS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}")


def recurrent_layer(kind: str, input_size: int, hidden_size: int, **kwargs) -> nn.Module:
    """The recurrent layer class named by ``kind``, constructed like ``torch.nn.LSTM``.

    ``recurrent_layer("lstm", 2, 32, batch_first=True)`` is ``lstm_lib.nn.LSTM(2, 32,
    batch_first=True)``; ``"torch-lstm"`` gives ``torch.nn.LSTM``.
    """
    _check_kind(kind)
    for flag in _BOOL_KWARGS:  # bias="no" would be truthy inside the layer
        if flag in kwargs:
            check_bool(flag, kwargs[flag])
    module, name = _LAYERS[kind]
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ImportError(f"kind={kind!r} needs {module}.{name}, which is not available "
                          f"({err}); the torch.nn kinds are {[k for k in KINDS if '-' in k]}"
                          ) from err
    return cls(input_size, hidden_size, **kwargs)


def _check_positive(**values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


class SequenceModel(nn.Module):
    r"""Embedding (optional) -> recurrent layers -> dropout -> linear readout.

    Args:
        kind: recurrent layer, one of ``KINDS``.
        input_size: D, features per step (the embedding dimension when ``embedding`` is set).
        hidden_size: H.
        output_size: outputs per read-out step (classes for ``loss="ce"``).
        num_layers: stacked recurrent layers.
        readout: ``"last"`` -> (N, output_size) from the final step (for a bidirectional layer,
            the forward direction at t = T and the backward direction at t = 1, i.e. both
            directions' final states); ``"all"`` -> (N, T, output_size); ``"mean"`` ->
            (N, output_size) from the time-averaged hidden states.
        bidirectional: a bidirectional recurrent layer (the head sees 2H features).
        dropout: dropout probability between recurrent layers (torch's ``dropout``) and on the
            features entering the head.
        embedding: vocabulary size V; inputs are then token ids (N, T) fed to
            ``nn.Embedding(V, input_size)``.
        pad_id: with ``embedding``, the id of right-padding: each row's length is then its
            number of ids ``!= pad_id`` (at least 1), as if passed as ``lengths``.
        **layer_kwargs: passed on to the recurrent layer (e.g. ``bias=False``).

    Inputs: x, state, lengths
        * x: (N, T, D) floats, or (N, T) integer token ids with ``embedding``.
        * state: optional initial state, as the recurrent layer takes it (``(h_0, c_0)`` for an
          LSTM, ``h_0`` otherwise), each (num_layers * num_directions, N, H).
        * lengths (keyword): optional (N,) integers in [1, T] for a right-padded batch. The
          recurrence then stops at each row's own last step (the ``lnn`` layers take
          ``lengths=``; the torch kinds get a packed sequence), so padding never changes the
          result: ``"last"`` reads each row's state at its last real step, ``"mean"`` averages
          over the real steps, ``"all"`` gives zeros' read-out past each length, and the
          returned state is each row's final state.

    Outputs: y, (state with ``return_state=True``), (gates with ``return_gates=True``)
        * y: (N, output_size) for ``"last"``/``"mean"``, (N, T, output_size) for ``"all"``.
        * gates (``lnn`` kinds only): the recurrent layer's recording,
          ``{layer: {name: (N, T, H)}}`` with names ``i f g o c`` for the LSTM (``c`` is c_t),
          ``r z n`` for the GRU; see :class:`lstm_lib.nn.LSTM`.

    Attributes:
        embedding (nn.Embedding or None), rnn (the recurrent layer, batch_first=True),
        dropout (nn.Dropout), head (nn.Linear (num_directions * H -> output_size)).
    """

    def __init__(self, kind: str, input_size: int, hidden_size: int, output_size: int, *,
                 num_layers: int = 1, readout: str = "last", bidirectional: bool = False,
                 dropout: float = 0.0, embedding: int | None = None, pad_id: int | None = None,
                 **layer_kwargs):
        super().__init__()
        _check_kind(kind)
        if not isinstance(readout, str) or readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        _check_positive(input_size=input_size, hidden_size=hidden_size,
                        output_size=output_size, num_layers=num_layers)
        bidirectional = check_bool("bidirectional", bidirectional)
        dropout = check_real("dropout", dropout, minimum=0.0)
        if not dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if embedding is not None:
            _check_positive(embedding=embedding)
            if pad_id is not None:
                check_int("pad_id", pad_id, minimum=0, maximum=embedding - 1)
        if pad_id is not None and embedding is None:
            raise ValueError("pad_id needs embedding= (token-id inputs); got pad_id="
                             f"{pad_id!r} with embedding=None")
        if "batch_first" in layer_kwargs:
            raise ValueError("SequenceModel is always batch_first=True; do not pass batch_first")
        self.kind, self.readout, self.pad_id = kind, readout, pad_id
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.num_layers, self.bidirectional = num_layers, bidirectional
        self.embedding = nn.Embedding(embedding, input_size) if embedding is not None else None
        # torch warns if dropout is set on a single layer; it only acts between layers anyway.
        layer_dropout = dropout if num_layers > 1 else 0.0
        self.rnn = recurrent_layer(kind, input_size, hidden_size, num_layers=num_layers,
                                   batch_first=True, bidirectional=bidirectional,
                                   dropout=layer_dropout, **layer_kwargs)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), output_size)

    def forward(self, x: torch.Tensor, state=None, *, lengths=None, return_state: bool = False,
                return_gates: bool = False):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        check_bool("return_state", return_state)
        check_bool("return_gates", return_gates)
        if self.embedding is not None:
            V = self.embedding.num_embeddings
            if x.ndim != 2 or x.is_floating_point() or x.dtype == torch.bool:
                raise ValueError(f"with embedding={V}, x must be "
                                 f"integer token ids (N, T); got {tuple(x.shape)} {x.dtype}")
            if x.numel() and bool((x < 0).any() | (x >= V).any()):  # else a bare IndexError
                raise ValueError(f"x must hold token ids in [0, V) = [0, {V}); got values in "
                                 f"[{int(x.min())}, {int(x.max())}]")
            if lengths is None and self.pad_id is not None:
                lengths = (x != self.pad_id).sum(1).clamp(min=1)  # (N,) right padding
            x = self.embedding(x)  # (N, T, D)
        elif x.ndim != 3 or x.shape[-1] != self.input_size:
            hint = " (x.unsqueeze(-1) makes (N, T) into (N, T, 1))" if x.ndim == 2 else ""
            raise ValueError(f"x must be (N, T, D) with D = input_size = {self.input_size}; "
                             f"got {tuple(x.shape)}{hint}")
        if lengths is not None:
            lengths = torch.as_tensor(lengths)
            if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
                raise TypeError(f"lengths must be integers, got dtype {lengths.dtype}")
            lengths = lengths.to(x.device).long()
            if lengths.shape != (x.shape[0],):
                raise ValueError(f"lengths must have shape (N,) = ({x.shape[0]},), got "
                                 f"{tuple(lengths.shape)}")
            T = x.shape[1]
            if lengths.numel() and bool((lengths < 1).any() | (lengths > T).any()):
                raise ValueError(f"lengths must lie in [1, T] = [1, {T}], got values in "
                                 f"[{int(lengths.min())}, {int(lengths.max())}]")
        # A forward layer is causal: its outputs up to each row's length do not depend on the
        # padding after it, so the layer needs the lengths only for the final state, the reverse
        # direction or the gate recording; otherwise it runs on the padded batch (the fused fast
        # path of lstm_lib.nn) and the steps past each length are masked here.
        layer_lengths = lengths if (self.bidirectional or return_state or return_gates) else None
        out, state, gates = self._run(x, state, layer_lengths, return_gates)  # (N, T, dirs * H)
        if lengths is not None and layer_lengths is None:
            keep = torch.arange(out.shape[1], device=out.device) < lengths[:, None]  # (N, T)
            out = out * keep[..., None].to(out.dtype)
        if self.readout == "last":
            H = self.hidden_size
            last = (out[:, -1] if lengths is None
                    else out[torch.arange(len(out), device=out.device), lengths - 1])
            # the backward direction ends at t = 1: its final state is out[:, 0, H:]
            feats = (torch.cat([last[:, :H], out[:, 0, H:]], dim=-1) if self.bidirectional
                     else last)  # (N, dirs * H)
        elif self.readout == "mean":
            feats = (out.mean(dim=1) if lengths is None  # (N, dirs * H); zeros past lengths
                     else out.sum(dim=1) / lengths[:, None].to(out.dtype))
        else:
            feats = out  # (N, T, dirs * H)
        y = self.head(self.dropout(feats))
        result = (y,) + ((state,) if return_state else ()) + ((gates,) if return_gates else ())
        return result[0] if len(result) == 1 else result

    def _run(self, x, state, lengths, return_gates: bool):
        """The recurrent layer on x (N, T, D): (output, state, gates or None)."""
        torch_kind = self.kind.startswith("torch-")
        if return_gates and torch_kind:
            raise ValueError(f"return_gates needs an lstm_lib.nn kind; kind={self.kind!r} is "
                             "torch.nn's, which does not record its gates")
        if lengths is None or not torch_kind:
            kwargs = {} if lengths is None else {"lengths": lengths}
            if return_gates:
                return self.rnn(x, state, return_gates=True, **kwargs)
            return (*self.rnn(x, state, **kwargs), None)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out, state, None

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, readout={self.readout!r}"


class Conv1dLSTM(nn.Module):
    """Conv1d + ReLU + max-pool over time, then a :class:`SequenceModel`.

    The convolution (``padding = kernel_size // 2``, so odd kernels keep T) extracts local
    features; pooling by ``pool`` shortens the sequence T -> T // pool, so the recurrent layer
    runs ``pool`` times fewer steps, and gradients cross ``pool`` times fewer steps.

    Args:
        input_size: D. hidden_size: H of the recurrent layer. output_size: as SequenceModel.
        channels: Conv1d output channels (the recurrent layer's input size).
        kernel_size, pool: convolution width and pooling factor (``pool=1`` disables pooling).
        conv_layers: number of conv + ReLU + pool blocks (T shrinks by ``pool**conv_layers``).
        kind, readout, **kwargs: passed on to :class:`SequenceModel`.

    Inputs: x (N, T, D). Outputs: (N, output_size), or (N, T', output_size) for
    ``readout="all"`` with T' = T // pool**conv_layers.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, *,
                 channels: int = 32, kernel_size: int = 5, pool: int = 4, conv_layers: int = 1,
                 kind: str = "lstm", readout: str = "last", **kwargs):
        super().__init__()
        _check_positive(input_size=input_size, channels=channels, kernel_size=kernel_size,
                        pool=pool, conv_layers=conv_layers)
        self.input_size, self.pool, self.conv_layers = input_size, pool, conv_layers
        blocks: list[nn.Module] = []
        in_ch = input_size
        for _ in range(conv_layers):
            blocks += [nn.Conv1d(in_ch, channels, kernel_size, padding=kernel_size // 2),
                       nn.ReLU()]
            if pool > 1:
                blocks.append(nn.MaxPool1d(pool))
            in_ch = channels
        self.conv = nn.Sequential(*blocks)
        self.rnn = SequenceModel(kind, channels, hidden_size, output_size, readout=readout,
                                 **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"x must be (N, T, D) with D = input_size = {self.input_size}; "
                             f"got {tuple(x.shape)}")
        if x.shape[1] < self.pool ** self.conv_layers:
            raise ValueError(f"T = {x.shape[1]} is shorter than the total pooling factor "
                             f"{self.pool ** self.conv_layers}")
        z = self.conv(x.transpose(1, 2))  # (N, C, T')  Conv1d wants channels first
        return self.rnn(z.transpose(1, 2))  # (N, T', C) -> head


class DenseBaseline(nn.Module):
    """An MLP on the flattened window: (N, T, D) -> (N, T*D) -> hidden layers -> (N, output_size).

    The recurrent models' honest competitor in forecasting: it sees the same window, has no
    recurrence, and must be beaten to claim the recurrence helps.

    Args:
        window: T, the fixed window length. input_size: D. output_size: outputs (e.g. horizon).
        hidden_sizes: widths of the hidden layers (``()`` gives a linear model).
        dropout: dropout after each hidden layer.
    """

    def __init__(self, window: int, input_size: int, output_size: int, *,
                 hidden_sizes: Sequence[int] = (64,), dropout: float = 0.0):
        super().__init__()
        _check_positive(window=window, input_size=input_size, output_size=output_size)
        dropout = check_real("dropout", dropout, minimum=0.0)
        if not dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.window, self.input_size = window, input_size
        layers: list[nn.Module] = []
        width = window * input_size
        if isinstance(hidden_sizes, int) or not hasattr(hidden_sizes, "__iter__"):
            raise TypeError(f"hidden_sizes must be a sequence of widths, e.g. (64,) or (), got "
                            f"{hidden_sizes!r}")
        for h in hidden_sizes:
            _check_positive(hidden_size=h)
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, output_size))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1:] != (self.window, self.input_size):
            raise ValueError(f"x must be (N, T, D) = (N, {self.window}, {self.input_size}); "
                             f"got {tuple(x.shape)}")
        return self.net(x.flatten(1))  # (N, T*D) -> (N, output_size)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters; all of them with ``trainable_only=False``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    trainable_only = check_bool("trainable_only", trainable_only)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
