"""ipywidgets explorers for the chapters.

Each explorer wraps a pure, tested function from the library and redraws its figure when a
control moves. ``ipywidgets`` is imported inside the functions, so the rest of ``lstm_lib`` works
without it. On the static website a widget cannot run; chapters therefore first draw the default
view with the same plotting function, then create the explorer in a cell tagged
``remove-output`` that a reader runs in Jupyter.
"""

from __future__ import annotations

from collections.abc import Mapping

from lstm_lib._checks import check_int, check_real, finite_array

# =================================================================================================
# LSTM gate explorer (chapter "The cell state and the gates"): gate biases and an input sequence
# in, i_t f_t o_t, c_t and h_t of a reference LSTM cell out.
# =================================================================================================

GATE_BLOCKS = ("i", "f", "g", "o")  # the order of the blocks in W, U, b (PyTorch's)


def latch_params(*, w: float = 10.0, bias: float = 5.0, w_g: float = 5.0,
                 b_o: float = 5.0) -> dict:
    """Hand-set weights of a one-unit LSTM (D = 1, H = 1) that works as a set/reset latch.

    The input x_t is +1 ("store"), -1 ("reset") or 0 ("nothing"); U = 0, so the gates look
    only at x_t::

        i_t = σ(w x_t - bias)      open (≈ 1) only for x_t = +1
        f_t = σ(w x_t + bias)      closed (≈ 0) only for x_t = -1
        g_t = tanh(w_g x_t)        ≈ +1 when storing
        o_t = σ(b_o)               always nearly open

    Returns:
        ``{"W": (4, 1), "U": (4, 1), "b": (4,)}``, blocks stacked i, f, g, o: the ``params`` of
        ``lstm_lib.reference.make_cell("lstm", 1, 1)``.
    """
    import numpy as np

    w, bias = check_real("w", w), check_real("bias", bias)
    w_g, b_o = check_real("w_g", w_g), check_real("b_o", b_o)
    W = np.array([[w], [w], [w_g], [0.0]])      # (4H, D) = (4, 1): rows i, f, g, o
    U = np.zeros((4, 1))                        # (4H, H): the gates ignore h_{t-1}
    b = np.array([-bias, bias, 0.0, b_o])       # (4H,)
    return {"W": W, "U": U, "b": b}


def lstm_trace(params: dict, xs) -> dict:
    """Run a reference LSTM cell with ``params`` over one sequence; return every step's values.

    Args:
        params: ``{"W": (4H, D), "U": (4H, H), "b": (4H,)}``, blocks i, f, g, o.
        xs: the inputs x_1 .. x_T, shape (T,) (for D = 1) or (T, D).

    Returns:
        ``{"x": (T, D), "i", "f", "g", "o", "c", "h": (T, H)}``, starting from h_0 = c_0 = 0.
    """
    from lstm_lib.reference import make_cell

    p = _lstm_params(params)
    H, D = p["U"].shape[1], p["W"].shape[1]
    xs = finite_array("xs", xs)
    if xs.ndim == 1:
        xs = xs[:, None]                        # (T,) -> (T, 1)
    if xs.ndim != 2 or xs.shape[1] != D or xs.shape[0] < 1:
        raise ValueError(f"xs must be (T,) or (T, D) with T >= 1 and D = {D}, got shape "
                         f"{xs.shape}")
    cell = make_cell("lstm", D, H)
    cell.params = p
    hs, cache = cell.forward(xs[:, None, :])   # (T, 1, D): a batch of one
    out = {"x": xs}
    out.update({name: cache.gates[name][:, 0] for name in GATE_BLOCKS})
    out.update(c=cache.cs[:, 0], h=hs[:, 0])
    return out


def _lstm_params(params) -> dict:
    """``params`` as float arrays W (4H, D), U (4H, H), b (4H,), finite; else ValueError."""
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict {{'W', 'U', 'b'}}, got {type(params).__name__}")
    missing = [k for k in ("W", "U", "b") if k not in params]
    if missing:
        raise ValueError(f"params lacks {missing}: it needs 'W' (4H, D), 'U' (4H, H), 'b' (4H,)")
    p = {k: finite_array(f"params[{k!r}]", params[k]) for k in ("W", "U", "b")}
    W, U, b = p["W"], p["U"], p["b"]
    if W.ndim != 2 or W.shape[0] % 4 or 0 in W.shape:
        raise ValueError(f"params['W'] must be (4H, D) with H, D >= 1, got shape {W.shape}")
    H = W.shape[0] // 4
    if U.shape != (4 * H, H):
        raise ValueError(f"params['U'] must be (4H, H) = {(4 * H, H)}, got shape {U.shape}")
    if b.shape != (4 * H,):
        raise ValueError(f"params['b'] must be (4H,) = ({4 * H},), got shape {b.shape}")
    return p


def plot_lstm_trace(params: dict, xs, fig=None):
    """Draw x_t, the gates i_t, f_t, o_t and the states c_t, h_t of :func:`lstm_trace`.

    Args:
        params, xs: as for :func:`lstm_trace`.
        fig: a matplotlib Figure to draw on (cleared first), or ``None`` for a new pyplot one.

    Returns:
        the Figure, with three Axes sharing the time axis: input, gates, states. Unit k of a
        multi-unit cell is drawn with line style k.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    tr = lstm_trace(params, xs)
    T = tr["x"].shape[0]
    t = np.arange(1, T + 1)
    if fig is None:
        fig = plt.figure(figsize=(7.5, 5.2))
    fig.clear()
    ax_x, ax_g, ax_s = fig.subplots(3, 1, sharex=True,
                                    gridspec_kw={"height_ratios": [1, 1.4, 1.6]})
    styles = ["-", "--", ":", "-."]
    for d in range(tr["x"].shape[1]):
        ax_x.step(t, tr["x"][:, d], where="mid", color="#222222", ls=styles[d % 4])
    ax_x.set_ylabel("$x_t$")
    colors = {"i": "#2ca02c", "f": "#d62728", "o": "#9467bd", "c": "#1f77b4", "h": "#ff7f0e"}
    for k in range(tr["c"].shape[1]):
        ls = styles[k % 4]
        for name in ("i", "f", "o"):
            ax_g.plot(t, tr[name][:, k], ls=ls, marker=".", color=colors[name],
                      label=f"${name}_t$" if k == 0 else None)
        ax_s.plot(t, tr["c"][:, k], ls=ls, marker="o", ms=3, color=colors["c"],
                  label="$c_t$" if k == 0 else None)
        ax_s.plot(t, tr["h"][:, k], ls=ls, marker=".", color=colors["h"],
                  label="$h_t$" if k == 0 else None)
    ax_g.set_ylim(-0.05, 1.05)
    ax_g.set_ylabel("gates")
    ax_s.axhline(0, color="#999999", lw=0.8)
    for a, y in ((ax_s, 1.0), (ax_s, -1.0)):
        a.axhline(y, color="#999999", lw=0.8, ls=":")  # h_t never leaves (-1, 1); c_t may
    ax_s.set_ylabel("states")
    ax_s.set_xlabel("t")
    for a in (ax_x, ax_g, ax_s):
        a.grid(alpha=0.3)
    for a in (ax_g, ax_s):
        a.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def _parse_sequence(text: str, D: int):
    """``"0 1 0 -1"`` (or commas) -> array (T, D) for D = 1; raises ValueError if malformed."""
    import numpy as np

    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"x_1..x_T must be numbers separated by spaces, got {text!r}") from None
    if not values or D != 1:
        raise ValueError(f"enter at least one number (D = 1 only), got {text!r}")
    if not all(np.isfinite(values)):
        raise ValueError(f"x_1..x_T must be finite numbers, got {text!r}")
    return np.array(values)


class _Explorer:
    """What every explorer shares: it shows ``widget`` and redraws ``figure`` into ``output``."""

    figure: object
    output: object
    widget: object
    redraws: int

    def _show(self) -> None:
        from IPython.display import display

        self.redraws += 1
        self.output.clear_output(wait=True)
        with self.output:
            display(self.figure)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


class GateExplorer(_Explorer):
    """The interactive view of :func:`plot_lstm_trace`: sliders for the four bias blocks.

    Each slider sets b for every unit of one block (i, f, g, o); the text box holds the input
    sequence (numbers separated by spaces; D = 1 cells only). Moving a control recomputes the
    trace and redraws. Display it as the last expression of a cell.

    Attributes:
        controls: ``{"b_i", "b_f", "b_g", "b_o", "xs": widget}``.
        figure: the matplotlib Figure redrawn in place.
        output: the ``ipywidgets.Output`` showing it; widget: the whole ``VBox``.
        redraws: how many times the figure has been drawn (1 after construction).
        error: the message of the last input that could not be drawn, else ``""``.
    """

    def __init__(self, params: dict | None = None, xs=None):
        import ipywidgets as w
        import numpy as np
        from matplotlib.figure import Figure

        self.params = _lstm_params(latch_params() if params is None else params)
        H = self.params["W"].shape[0] // 4
        if self.params["W"].shape[1] != 1:
            raise ValueError(f"the gate explorer takes D = 1 cells (one number per step); "
                             f"params['W'] has D = {self.params['W'].shape[1]}")
        xs = (np.array([0, 1, 0, 0, 0, 1, 0, 0, -1, 0, 0, 0]) if xs is None
              else finite_array("xs", xs).ravel())
        if len(xs) == 0:
            raise ValueError("xs must hold at least one step")
        b = self.params["b"]
        self.controls = {
            f"b_{name}": w.FloatSlider(value=float(b[k * H]), min=-10.0, max=10.0, step=0.5,
                                       description=f"b_{name}", continuous_update=False)
            for k, name in enumerate(GATE_BLOCKS)
        }
        self.controls["xs"] = w.Text(value=" ".join(f"{v:g}" for v in xs),
                                     description="x_1..x_T", continuous_update=False,
                                     layout=w.Layout(width="90%"))
        self.figure = Figure(figsize=(7.5, 5.2))
        self.output = w.Output()
        self.message = w.HTML()
        self.redraws = 0
        self.error = ""
        for c in self.controls.values():
            c.observe(lambda change: self.redraw(), names="value")
        self.widget = w.VBox([w.HBox(list(self.controls.values())[:2]),
                              w.HBox(list(self.controls.values())[2:4]),
                              self.controls["xs"], self.message, self.output])
        self.redraw()

    def current_params(self) -> dict:
        """``params`` with each bias block set to its slider's value."""
        H = self.params["W"].shape[0] // 4
        p = {k: v.copy() for k, v in self.params.items()}
        for k, name in enumerate(GATE_BLOCKS):
            p["b"][k * H:(k + 1) * H] = self.controls[f"b_{name}"].value
        return p

    def redraw(self) -> None:
        """Recompute the trace from the controls and draw it; a bad sequence shows a message."""

        try:
            xs = _parse_sequence(self.controls["xs"].value, self.params["W"].shape[1])
        except ValueError as err:
            self.error = str(err)
            self.message.value = f"<span style='color:#a33'>{self.error}</span>"
            return
        self.error = ""
        self.message.value = ""
        plot_lstm_trace(self.current_params(), xs, fig=self.figure)
        self._show()


def gate_explorer(params: dict | None = None, xs=None) -> GateExplorer:
    """An explorer of an LSTM cell's gates and states; ``params`` default to :func:`latch_params`.

    In Jupyter (or Binder) ``gate_explorer()`` as the last line of a cell shows sliders for
    b_i, b_f, b_g, b_o and a box for the input sequence; the figure is
    :func:`plot_lstm_trace` of the current values.
    """
    return GateExplorer(params, xs)


# =================================================================================================
# Gradient norm explorer (chapter "Vanishing and exploding gradients"): the spectral radius of U
# and the nonlinearity in, ‖∂h_T/∂h_k‖ against the lag T - k of a random vanilla RNN out.
# The pure function behind it is lstm_lib.gradients.plot_rnn_jacobian_norms.
# =================================================================================================


class GradientNormExplorer(_Explorer):
    """The interactive view of :func:`lstm_lib.gradients.plot_rnn_jacobian_norms`.

    Controls: the spectral radius ρ of U (slider, 0.1 .. 3), the nonlinearity (``"tanh"``,
    ``"relu"``, ``"identity"``), the sequence length T and the hidden size H. Moving a control
    redraws ‖∂h_T/∂h_k‖₂ against the lag with the Pascanu bound (γ λ1)^lag. Display it as the
    last expression of a cell.

    Attributes:
        controls: ``{"rho", "nonlinearity", "T", "H": widget}``.
        figure: the matplotlib Figure redrawn in place.
        output: the ``ipywidgets.Output`` showing it; widget: the whole ``VBox``.
        redraws: how many times the figure has been drawn (1 after construction).
    """

    def __init__(self, rho: float = 1.0, nonlinearity: str = "tanh", *, T: int = 60,
                 H: int = 32, n_seq: int = 8, seed: int = 0):
        import ipywidgets as w
        from matplotlib.figure import Figure

        from lstm_lib.gradients import NONLINEARITIES

        if not isinstance(nonlinearity, str) or nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got "
                             f"{nonlinearity!r}")
        # a slider would silently clamp a value outside its range
        rho = check_real("rho", rho, minimum=0.1, maximum=3.0)
        T = check_int("T", T, minimum=5, maximum=200)
        H = check_int("H", H, minimum=2, maximum=128)
        n_seq = check_int("n_seq", n_seq, minimum=1)
        seed = check_int("seed", seed, minimum=0)
        self.n_seq, self.seed = n_seq, seed
        self.controls = {
            "rho": w.FloatSlider(value=rho, min=0.1, max=3.0, step=0.05, description="ρ(U)",
                                 continuous_update=False),
            "nonlinearity": w.Dropdown(options=list(NONLINEARITIES), value=nonlinearity,
                                       description="φ"),
            "T": w.IntSlider(value=T, min=5, max=200, step=5, description="T",
                             continuous_update=False),
            "H": w.IntSlider(value=H, min=2, max=128, step=2, description="H",
                             continuous_update=False),
        }
        self.figure = Figure(figsize=(7, 4))
        self.output = w.Output()
        self.redraws = 0
        for c in self.controls.values():
            c.observe(lambda change: self.redraw(), names="value")
        self.widget = w.VBox([w.HBox([self.controls["rho"], self.controls["nonlinearity"]]),
                              w.HBox([self.controls["T"], self.controls["H"]]), self.output])
        self.redraw()

    def redraw(self) -> None:
        """Recompute the Jacobian norms for the current controls and draw them."""

        from lstm_lib.gradients import plot_rnn_jacobian_norms

        c = self.controls
        self.figure.clear()
        ax = self.figure.add_subplot()
        plot_rnn_jacobian_norms([c["rho"].value], c["nonlinearity"].value, T=c["T"].value,
                                H=c["H"].value, n_seq=self.n_seq, seed=self.seed, ax=ax)
        self.figure.tight_layout()
        self._show()


def gradient_norm_explorer(rho: float = 1.0, nonlinearity: str = "tanh", *, T: int = 60,
                           H: int = 32) -> GradientNormExplorer:
    """An explorer of vanishing/exploding gradients in a random vanilla RNN.

    In Jupyter (or Binder) ``gradient_norm_explorer()`` as the last line of a cell shows a
    slider for the spectral radius of U, a nonlinearity menu (tanh, relu, identity) and sliders
    for T and H; the figure is :func:`lstm_lib.gradients.plot_rnn_jacobian_norms` of the
    current values.
    """
    return GradientNormExplorer(rho, nonlinearity, T=T, H=H)
