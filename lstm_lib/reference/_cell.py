"""The sequence machinery every reference cell shares: the time loop, BPTT and torch loading.

A concrete cell (``rnn.py``, ``lstm.py``, ``gru.py``) only says what one step does, by calling
its ``*_step_forward`` / ``*_step_backward`` pair; :class:`Cell` unrolls that step over time.

The recurrent state is handled here as a tuple: ``(h,)`` for the RNN and GRU, ``(h, c)`` for the
LSTM kinds. At the public boundary it is an array ``h`` or a pair ``(h, c)``, as in torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_lib.reference._common import (
    as_float_array,
    as_generator,
    check_array,
    check_sequence,
    check_size,
    uniform_init,
)


@dataclass(frozen=True, eq=False)
class ForwardCache:
    """Everything :meth:`Cell.forward` computed; chapters read it, :meth:`Cell.backward` needs it.

    Attributes:
        kind: the cell's kind, e.g. ``"lstm"``.
        xs: (T, N, D) the inputs x_1 .. x_T (float64).
        h0: (N, H) the initial hidden state (zeros if none was given).
        c0: (N, H) the initial cell state; ``None`` for the RNN and GRU.
        hs: (T, N, H) the hidden states h_1 .. h_T (the same array forward returned).
        cs: (T, N, H) the cell states c_1 .. c_T; ``None`` for the RNN and GRU.
        gates: gate name -> (T, N, H) activations at every step: ``i f g o`` for the LSTM,
            peephole and CIFG cells (the CIFG's ``i`` is 1 - f), ``r z n`` for the GRU, none for
            the RNN. ``gates["f"][t]`` belongs to step t + 1 (h_{t+1} = hs[t]).
        steps: one step cache per time step, the argument of the ``*_step_backward`` functions.
    """

    kind: str
    xs: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None
    hs: np.ndarray
    cs: np.ndarray | None
    gates: dict[str, np.ndarray]
    steps: tuple

    @property
    def state0(self):
        """The initial state as forward took it: ``h0``, or ``(h0, c0)`` for the LSTM kinds."""
        return self.h0 if self.c0 is None else (self.h0, self.c0)

    @property
    def state_T(self):
        """The final state, ``h_T`` or ``(h_T, c_T)``: pass it as the next chunk's ``state0``."""
        return self.hs[-1] if self.cs is None else (self.hs[-1], self.cs[-1])


class Cell:
    """Base class of the reference cells: parameters, forward over time, BPTT, torch loading.

    Subclasses set the class attributes and implement ``_step_forward``, ``_step_backward`` and
    ``_step_gates`` by calling their module's step functions.

    Attributes:
        kind: ``"rnn"``, ``"lstm"``, ``"peephole"``, ``"cifg"`` or ``"gru"``.
        gates: names of the blocks stacked in ``W``, ``U`` and ``b``, in order (PyTorch's);
            empty for the RNN, whose weights are one block.
        input_size: D. hidden_size: H.
        params: name -> float64 array; ``W`` (gH, D), ``U`` (gH, H), ``b`` (gH,) with g =
            ``len(gates)`` (1 for the RNN), plus any extra vectors of the kind (peepholes,
            the GRU's ``b_hn``).
    """

    kind: str = ""
    gates: tuple[str, ...] = ()
    has_cell_state: bool = False
    torch_cell: str | None = None  # the torch.nn class whose state_dict this cell can load

    def __init__(self, input_size: int, hidden_size: int, rng=None):
        self.input_size = check_size(input_size, "input_size")
        self.hidden_size = check_size(hidden_size, "hidden_size")
        rng = as_generator(rng)
        # Like torch: every weight and bias from U(-1/sqrt(H), 1/sqrt(H)), so biases are non-zero.
        self.params = {name: uniform_init(rng, shape, self.hidden_size)
                       for name, shape in self.param_shapes().items()}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(input_size={self.input_size}, "
                f"hidden_size={self.hidden_size})")

    @property
    def _n_blocks(self) -> int:
        return max(1, len(self.gates))  # the RNN has no gates but one block of weights

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Parameter name -> expected shape, in the order of ``params``."""
        gH, D, H = self._n_blocks * self.hidden_size, self.input_size, self.hidden_size
        return {"W": (gH, D), "U": (gH, H), "b": (gH,)}

    # ---- one step: implemented by each kind with its step functions ------------------------

    def _step_forward(self, x, state, p):
        """(N, D) input, state tuple, params -> new state tuple, step cache."""
        raise NotImplementedError

    def _step_backward(self, dstate, step_cache):
        """dL/d(state_t) tuple, step cache -> dx, dL/d(state_{t-1}) tuple, dict of param grads."""
        raise NotImplementedError

    def _step_gates(self, step_cache) -> dict[str, np.ndarray]:
        """The gate activations, each (N, H), stored in a step cache."""
        return {}

    # ---- the sequence ------------------------------------------------------------------------

    def forward(self, xs, state0=None):
        """Run the cell over a sequence.

        Args:
            xs: (T, N, D) float array, time-major; finite.
            state0: the state before x_1: ``h0`` (N, H) for the RNN and GRU, ``(h0, c0)`` for
                the LSTM kinds; zeros if ``None``.

        Returns:
            hs: (T, N, H) the hidden states h_1 .. h_T.
            cache: a :class:`ForwardCache` (gate activations, cell states, step caches).

        The inputs and parameters are copied at the start, so changing ``params`` or ``xs``
        between ``forward`` and ``backward`` does not corrupt the backward pass of that cache.
        """
        # Copies: the cache must not change if the caller later edits its arrays in place.
        xs = check_sequence(xs, self.input_size).copy()
        N = xs.shape[1]
        state = tuple(s.copy() for s in self._state_tuple(state0, N, ("h0", "c0"), "state0"))
        p = self._checked_params()
        state0 = state
        hs, cs, steps = [], [], []
        for x in xs:  # x: (N, D)
            state, step_cache = self._step_forward(x, state, p)
            hs.append(state[0])
            if self.has_cell_state:
                cs.append(state[1])
            steps.append(step_cache)
        step_gates = [self._step_gates(sc) for sc in steps]
        gates = {name: np.stack([g[name] for g in step_gates]) for name in step_gates[0]}
        cache = ForwardCache(
            kind=self.kind, xs=xs, h0=state0[0],
            c0=state0[1] if self.has_cell_state else None,
            hs=np.stack(hs), cs=np.stack(cs) if self.has_cell_state else None,
            gates=gates, steps=tuple(steps),
        )
        return cache.hs, cache

    def backward(self, dhs, cache, *, dstate_T=None, truncate=None, return_dstate0=False):
        """Backpropagation through time over the sequence of ``cache``.

        Args:
            dhs: (T, N, H) dL/dh_t for t = 1 .. T, the gradient each output receives directly
                (e.g. from a loss on every step; zeros where a step has no loss).
            cache: what :meth:`forward` returned.
            dstate_T: gradient arriving from beyond the sequence (a later chunk, or a loss on the
                final state): ``dh_T`` (N, H), or ``(dh_T, dc_T)`` for the LSTM kinds. It is
                added to dL/dh_T (and is dL/dc_T). ``None`` means zeros.
            truncate: ``None`` for full BPTT. An int k >= 1 for truncated BPTT: the gradient of
                each loss term, dhs[t - 1] at step t (and ``dstate_T`` at step T), flows back
                through at most k steps, t, t-1, ..., t-k+1, and what would reach the state
                h_{t-k} (and c_{t-k}) is dropped. So ``truncate=1`` treats h_{t-1}, c_{t-1} as
                constants in each step, and any k >= T equals full BPTT. Each loss has its own
                window (Williams & Peng's BPTT(h)), which costs O(T k) steps; chunked
                truncation, which cuts the sequence into pieces and detaches the state between
                them, is ``forward`` per chunk with ``state0=previous_cache.state_T``.
            return_dstate0: also return dL/d(state0).

        Returns:
            grads: dict with exactly the keys of ``params``, each dL/dparam of the same shape.
            dxs: (T, N, D) dL/dx_t.
            dstate0 (only if ``return_dstate0``): ``dh0`` (N, H), or ``(dh0, dc0)``.
        """
        self._check_cache(cache)
        dhs = check_array(dhs, cache.hs.shape, "dhs", "the shape of hs, (T, N, H)")
        T, N, _ = cache.hs.shape
        dstate_T = self._state_tuple(dstate_T, N, ("dh_T", "dc_T"), "dstate_T")
        if truncate is not None and (isinstance(truncate, bool)
                                     or not isinstance(truncate, (int, np.integer))
                                     or truncate < 1):
            raise ValueError(f"truncate must be None (full BPTT) or an int k >= 1: "
                             f"expected None or k >= 1, got {truncate!r}")

        grads = {name: np.zeros(shape) for name, shape in self.param_shapes().items()}
        dxs = np.zeros(cache.xs.shape)  # (T, N, D)

        def step_back(t, dstate):  # one step of the chain rule, accumulating into grads, dxs
            dx, dstate_prev, dparams = self._step_backward(dstate, cache.steps[t])
            dxs[t] += dx
            for name, dp in dparams.items():
                grads[name] += dp
            return dstate_prev

        if truncate is None:  # full BPTT: one backward sweep carries everything
            dstate = dstate_T
            for t in reversed(range(T)):
                # dh = the loss at h_t plus what step t+1 sent back; dc_next passes unchanged
                dstate = (dstate[0] + dhs[t],) + dstate[1:]
                dstate = step_back(t, dstate)
            dstate0 = dstate
        else:  # every loss term gets its own window of `truncate` steps
            dstate0 = tuple(np.zeros((N, self.hidden_size)) for _ in dstate_T)
            for t in reversed(range(T)):
                dstate = (dhs[t],) + tuple(np.zeros((N, self.hidden_size)) for _ in dstate_T[1:])
                if t == T - 1:
                    dstate = tuple(a + b for a, b in zip(dstate, dstate_T, strict=True))
                for s in range(t, max(t - truncate, -1), -1):  # steps t, t-1, ..., t-k+1
                    dstate = step_back(s, dstate)
                if t < truncate:  # the window reached the initial state
                    dstate0 = tuple(a + b for a, b in zip(dstate0, dstate, strict=True))

        if return_dstate0:
            return grads, dxs, self._pack_state(dstate0)
        return grads, dxs

    # ---- checks and conversions ----------------------------------------------------------------

    def _check_cache(self, cache) -> None:
        """Raise unless ``cache`` came from ``forward`` of a cell like this one."""
        if not isinstance(cache, ForwardCache):
            raise TypeError(f"cache must be what forward returned: expected a ForwardCache, "
                            f"got {type(cache).__name__}")
        if cache.kind != self.kind:
            raise ValueError(f"cache comes from another kind of cell: expected kind "
                             f"{self.kind!r}, got {cache.kind!r}")
        got = (cache.xs.shape[2], cache.hs.shape[2])
        if got != (self.input_size, self.hidden_size):
            raise ValueError(f"cache comes from a cell of other sizes: expected (D, H) = "
                             f"{(self.input_size, self.hidden_size)}, got {got}")

    def _pack_state(self, state: tuple):
        return state if self.has_cell_state else state[0]

    def _state_tuple(self, state, N: int, names: tuple[str, str], arg: str) -> tuple:
        """A public state (``h`` or ``(h, c)``, or ``None`` for zeros) as a checked tuple."""
        H = self.hidden_size
        if state is None:
            return tuple(np.zeros((N, H)) for _ in range(1 + self.has_cell_state))
        if self.has_cell_state:
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                got = (f"a {type(state).__name__} of length {len(state)}"
                       if isinstance(state, (tuple, list)) else type(state).__name__)
                raise ValueError(f"{arg} of an LSTM-kind cell must be a pair: expected "
                                 f"({names[0]}, {names[1]}), each of shape (N, H) = {(N, H)}, "
                                 f"got {got}")
            return tuple(check_array(s, (N, H), name, "(N, H)")
                         for s, name in zip(state, names, strict=True))
        if isinstance(state, (tuple, list)):
            raise ValueError(f"{arg} of a {self.kind!r} cell is one array: expected {names[0]} "
                             f"of shape (N, H) = {(N, H)}, got a {type(state).__name__}")
        return (check_array(state, (N, H), names[0], "(N, H)"),)

    def _checked_params(self) -> dict[str, np.ndarray]:
        """A float64 copy of ``params`` after checking its keys and shapes."""
        expected = self.param_shapes()
        if set(self.params) != set(expected):
            raise ValueError(f"params of a {self.kind!r} cell must have exactly the keys "
                             f"{sorted(expected)}: got {sorted(self.params)}")
        return {name: check_array(self.params[name], shape, f"params[{name!r}]").copy()
                for name, shape in expected.items()}

    # ---- torch -------------------------------------------------------------------------------

    def load_torch_state_dict(self, state_dict):
        """Take the weights of a torch cell (see ``torch_cell``) or a one-layer torch layer.

        Accepts the keys of ``torch.nn.{RNN,LSTM,GRU}Cell`` (``weight_ih``, ``weight_hh``,
        ``bias_ih``, ``bias_hh``) or of layer 0 of ``torch.nn.{RNN,LSTM,GRU}``
        (``weight_ih_l0``, ...); values are tensors or arrays. Without bias keys (``bias=False``)
        the biases are zero. The book's single bias is b = bias_ih + bias_hh (the GRU with
        ``reset_after=True`` keeps the n block of bias_hh apart as ``b_hn``). The RNN must use
        torch's default ``nonlinearity="tanh"``, which a state_dict cannot show.

        Returns ``self``, so ``make_cell("lstm", D, H).load_torch_state_dict(sd)`` works.
        """
        if self.torch_cell is None:
            raise ValueError(self._no_torch_reason())
        g = self._n_blocks
        gH, D, H = g * self.hidden_size, self.input_size, self.hidden_size
        keys = set(state_dict)
        suffix = "_l0" if "weight_ih_l0" in keys else ""
        names = [f"{n}{suffix}" for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        if names[0] not in keys or names[1] not in keys:
            raise ValueError(f"state_dict of a torch.nn.{self.torch_cell} expected: expected "
                             f"keys weight_ih, weight_hh, bias_ih, bias_hh (or weight_ih_l0, "
                             f"...), got {sorted(keys)}")
        unexpected = keys - set(names)
        if unexpected:
            raise ValueError(f"state_dict has keys a one-layer, one-direction torch.nn."
                             f"{self.torch_cell} does not have (more layers, bidirectional or "
                             f"proj_size are not supported): expected only {names}, got "
                             f"unexpected {sorted(unexpected)}")
        if (names[2] in keys) != (names[3] in keys):
            raise ValueError(f"state_dict must hold both biases or neither: expected "
                             f"{names[2]} and {names[3]}, got only "
                             f"{names[2] if names[2] in keys else names[3]}")
        sizes = f" for D={D}, H={H}"  # the sizes the cell was made with
        desc = {names[0]: f"({g}H, D){sizes}", names[1]: f"({g}H, H){sizes}",
                names[2]: f"({g}H,){sizes}", names[3]: f"({g}H,){sizes}"}
        shapes = {names[0]: (gH, D), names[1]: (gH, H), names[2]: (gH,), names[3]: (gH,)}
        w = {}
        for name, short in zip(names, ("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
                               strict=True):
            if name in keys:
                w[short] = check_array(as_float_array(state_dict[name], f"state_dict[{name!r}]"),
                                       shapes[name], f"state_dict[{name!r}]", desc[name]).copy()
            else:
                w[short] = np.zeros(shapes[name])
        self.params = self._params_from_torch(**w)
        return self

    def _params_from_torch(self, weight_ih, weight_hh, bias_ih, bias_hh):
        return {"W": weight_ih, "U": weight_hh, "b": bias_ih + bias_hh}

    def _no_torch_reason(self) -> str:
        return f"a {self.kind!r} cell has no torch.nn counterpart to load weights from"
