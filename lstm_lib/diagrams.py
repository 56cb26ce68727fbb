"""Cell diagrams drawn by the library, in the style of colah's "Understanding LSTM Networks".

Public API::

    from lstm_lib import diagrams
    ax = diagrams.draw_cell("lstm")                      # the whole cell, every gate in colour
    ax = diagrams.draw_cell("lstm", highlight="f")       # the forget gate's path; the rest grey
    ax = diagrams.draw_cell("lstm", highlight="backward")  # the gradient paths of BPTT
    hs, cache = ref.make_cell("lstm", 1, 1, rng=0).forward(xs)
    ax = diagrams.draw_cell("lstm", values=cache, t=2)   # step t's numbers on the wires
    diagrams.draw_unrolled("lstm", steps=3)              # the cell repeated along time
    diagrams.draw_stacked("lstm", layers=2)              # layers on top of each other
    diagrams.draw_bidirectional("lstm", steps=3)         # a forward and a backward row

Constants: ``KINDS``; ``MODERN_KINDS`` (``draw_cell`` only); ``HIGHLIGHTS[kind]``, the allowed
``highlight`` names; ``COLORS``, one colour per gate (and for the cell path, the backward flow
and the greys).

Kinds: ``"rnn"``, ``"lstm"``, ``"peephole"``, ``"cifg"``, ``"gru"`` (PyTorch's
reset-after convention, n_t = tanh(W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn))) and
``"gru_cho"`` (Cho et al. 2014: the reset gate scales h_{t-1} before U_n) and ``"mingru"``
(Feng et al. 2024: z_t and the candidate h̃_t = g(W_h x_t + b_h) read x_t only, so h_{t-1}
enters nothing but the update h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t; highlight ``"g"`` is the
candidate's path) and ``"slstm"`` (Beck et al. 2024, drawn stabilised: the LSTM's picture with
the exponential input gate i'_t = exp(ĩ_t − m_t), f'_t, the candidate z_t (highlight ``"g"``),
the stabilised cell c̄_t and h_t = o_t ⊙ c̄_t / n̄_t in place of tanh; the normaliser's own line
n̄_t = f'_t ⊙ n̄_{t-1} + i'_t and the stabiliser m_t are written in a note, not drawn).

What a cell drawing shows: the inputs x_t from below and h_{t-1} (and c_{t-1}) from the left,
h_t (and c_t) leaving to the right and h_t up; the LSTM family's cell state as the line across
the top; gate blocks (σ, tanh) as rounded boxes; pointwise ×, + and 1 − as circles; every wire and
block labelled as mathtext in the book's notation ($x_t$, $h_{t-1}$, $c_{t-1}$, $f_t$, $i_t$,
$g_t$, $o_t$, $c_t$, $h_t$; $r_t$, $z_t$, $n_t$; peepholes $p_f$, $p_i$, $p_o$ dashed). Each gate
has one colour (``COLORS``) in every drawing. The inputs x_t and h_{t-1} reach every gate through
one shared line (colah's simplification of the concatenation [h_{t-1}, x_t]).

``highlight``: a gate of the kind (``"f" "i" "g" "o"`` for the LSTM family, where the CIFG's
``"i"`` is its 1 − f_t path; ``"r" "z" "n"`` for the GRU), ``"c"`` for the cell-state path (LSTM
family only) or ``"backward"``: gradients enter from the right (dh_t, dc_t) and leave to the
left (dh_{t-1}, dc_{t-1}) and down (dx_t), drawn with reversed arrows in one colour, the direct
path (dc_t ⊙ f_t; the GRU's dh_t ⊙ z_t) thickest. A highlighted path is drawn thick in its
colour, everything else in grey.

``values``: a ``lstm_lib.reference`` forward cache; ``t`` indexes its steps from 0 (index t holds
step t + 1 of the text, h_{t+1} = hs[t]). The numbers of batch sample ``sample`` and hidden unit
``unit`` are written under the labels with 2 decimals (x_t shows its feature 0); a caption says
which step, sample and unit. One unit keeps the drawing legible on a phone; pick another with
``unit=``.

Every function takes ``ax=None`` (a new figure, 0.5 inch per drawing unit, at most 7.5 inches
wide) and returns the Axes. Text and line sizes follow the size of the Axes, so a drawing in a
smaller Axes is the same picture, smaller. Nothing changes ``rcParams``; the drawing is the same
on every backend (PNG, retina PNG, SVG, PDF).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyBboxPatch, Polygon

__all__ = ["COLORS", "KINDS", "MODERN_KINDS", "HIGHLIGHTS", "draw_cell", "draw_unrolled",
           "draw_stacked", "draw_bidirectional"]

KINDS = ("rnn", "lstm", "peephole", "cifg", "gru", "gru_cho")
MODERN_KINDS = ("mingru", "slstm")  # the 2024 descendants (chapter ch-lstm-today); draw_cell only
HIGHLIGHTS = {
    "rnn": ("backward",),
    "lstm": ("f", "i", "g", "o", "c", "backward"),
    "peephole": ("f", "i", "g", "o", "c", "backward"),
    "cifg": ("f", "i", "g", "o", "c", "backward"),
    "gru": ("r", "z", "n", "backward"),
    "gru_cho": ("r", "z", "n", "backward"),
    "mingru": ("z", "g", "backward"),
    "slstm": ("f", "i", "g", "o", "c", "backward"),
}
# Okabe-Ito colours (distinguishable with colour-blindness): one per gate, the same everywhere.
COLORS = {
    "f": "#D55E00", "i": "#009E73", "g": "#E69F00", "o": "#0072B2",
    "r": "#D55E00", "z": "#0072B2", "n": "#E69F00",
    "c": "#7B3294", "backward": "#C51B7D",
    "wire": "#2F2F2F", "grey": "#C4C4C4", "grey_text": "#8E8E8E", "grey_fill": "#F4F4F4",
}
_NAMES = {"rnn": "RNN", "lstm": "LSTM", "peephole": "Peephole", "cifg": "CIFG", "gru": "GRU",
          "gru_cho": "GRU", "mingru": "minGRU", "slstm": "sLSTM"}
_UNIT_IN = 0.5  # inches per drawing unit in a new figure
_MAX_WIDTH_IN = 7.5
_R = 0.3  # radius of the pointwise circles
# text heights in drawing units (0.46 is 16.6 pt in a new figure, 8 pt when shown 3.5 in wide)
_LABEL, _BLOCK, _VALUE, _SMALL = 0.46, 0.40, 0.36, 0.34
_BW, _BH = 1.1, 0.72  # gate block width and height
_BWT = 1.3  # a tanh block's width: "tanh" needs room at every resolution


# ---- drawing primitives -------------------------------------------------------------------------

def _tint(color: str, amount: float = 0.82) -> tuple:
    """``color`` mixed with white (``amount`` of white), for block fills."""
    return tuple(c + (1 - c) * amount for c in to_rgb(color))


@dataclass
class _Wire:
    points: list
    paths: frozenset
    tone: str | None
    arrow: bool
    dashed: bool
    emph: bool  # drawn thickest in the backward view (the direct gradient path)
    back_arrow: bool  # an arrowhead on the reversed wire of the backward view
    gid: str


class _Pen:
    """Draws on ``ax`` in data units; colours follow ``highlight`` and each element's paths."""

    def __init__(self, ax, xlim, ylim, highlight=None):
        if ax is None:
            unit = min(_UNIT_IN, _MAX_WIDTH_IN / (xlim[1] - xlim[0]))
            fig = plt.figure(figsize=((xlim[1] - xlim[0]) * unit, (ylim[1] - ylim[0]) * unit))
            ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_aspect("equal", adjustable="box")
        ax.set_axis_off()
        fig = ax.figure
        box = ax.get_position()
        w_in, h_in = box.width * fig.get_figwidth(), box.height * fig.get_figheight()
        self.s = 72 * min(w_in / (xlim[1] - xlim[0]), h_in / (ylim[1] - ylim[0]))  # pt per unit
        self.ax, self.highlight = ax, highlight
        self.wires: list[_Wire] = []

    def lw(self, thick=False):
        return self.s * (0.10 if thick else 0.05)

    def on(self, paths) -> bool:
        return self.highlight is not None and self.highlight in frozenset(paths)

    def color(self, paths, tone):
        """Colour of an element: its tone normally; strong if highlighted; grey otherwise."""
        if self.highlight is None:
            return COLORS[tone] if tone else COLORS["wire"]
        if self.on(paths):
            return COLORS[self.highlight]
        return COLORS["grey"]

    def text_color(self, paths, tone):
        if self.highlight is None or self.on(paths):
            return self.color(paths, tone)
        return COLORS["grey_text"]

    def text(self, x, y, s, *, color="#222222", size=_LABEL, gid=None, **kw):
        kw.setdefault("ha", "center")
        kw.setdefault("va", "center")
        return self.ax.text(x, y, s, color=color, fontsize=size * self.s, gid=gid, zorder=6, **kw)

    def line(self, points, color, lw, *, arrow=True, dashed=False, gid=None, z=2):
        pts = np.asarray(points, dtype=float)
        hl, hw = (0.30, 0.22) if lw > self.lw() else (0.24, 0.17)
        body = pts.copy()
        if arrow:
            d = pts[-1] - pts[-2]
            d /= np.hypot(*d)
            body[-1] = pts[-1] - d * hl * 0.8
            n = np.array([-d[1], d[0]])
            tip, base = pts[-1], pts[-1] - d * hl
            head = Polygon([tip, base + n * hw, base - n * hw], closed=True, color=color,
                           lw=0, zorder=z + 0.5, gid=None if gid is None else gid + ":head")
            self.ax.add_artist(head)
        ls = (0, (3.0, 2.0)) if dashed else "-"
        self.ax.add_artist(Line2D(body[:, 0], body[:, 1], color=color, lw=lw, ls=ls, zorder=z,
                                solid_capstyle="butt", solid_joinstyle="round", gid=gid))

    def wire(self, points, paths=(), tone=None, *, arrow=True, dashed=False, emph=False,
             gid="wire", thick=False, back_arrow=True):
        paths = frozenset(paths)
        w = _Wire(list(points), paths, tone, arrow, dashed, emph, back_arrow, gid)
        self.wires.append(w)
        if self.highlight == "backward":  # the forward flow as a grey background, no heads
            self.line(points, COLORS["grey"], self.lw(thick), arrow=False, dashed=dashed, gid=gid)
        else:
            on = self.on(paths)
            self.line(points, self.color(paths, tone),
                      self.lw(thick or on) * (1.35 if thick and on else 1.0),
                      arrow=arrow, dashed=dashed, gid=gid)

    def dot(self, x, y, paths=(), tone=None):
        c = COLORS["grey"] if self.highlight == "backward" else self.color(paths, tone)
        self.ax.add_artist(Circle((x, y), 0.075, color=c, lw=0, zorder=3))

    def block(self, x, y, text, paths=(), tone=None, *, w=_BW, h=_BH, gid="block"):
        """A rounded box (a layer with weights): σ, tanh, a matrix."""
        edge = self.color(paths, tone)
        fill = (_tint(COLORS[tone]) if tone else "#EDEDED") if (
            self.highlight is None or self.on(paths)) else COLORS["grey_fill"]
        patch = FancyBboxPatch((x - w / 2, y - h / 2), w, h, gid=gid, zorder=4,
                               boxstyle=f"round,pad=0,rounding_size={min(w, h) * 0.28}",
                               fc=fill, ec=edge, lw=self.lw(self.on(paths)))
        self.ax.add_artist(patch)
        dark = "#222222" if self.highlight is None or self.on(paths) else COLORS["grey_text"]
        self.text(x, y, text, color=dark, size=_BLOCK, gid=gid + ":text")

    def op(self, x, y, symbol, paths=(), tone=None, *, gid="op"):
        """A pointwise operation: a circle with ×, + or 1 −."""
        edge = self.color(paths, tone)
        self.ax.add_artist(Circle((x, y), _R, fc="white", ec=edge, lw=self.lw(self.on(paths)),
                                 zorder=4, gid=gid))
        dark = "#222222" if self.highlight is None or self.on(paths) else COLORS["grey_text"]
        if symbol == "1-":  # plain text: mathtext spaces the binary minus too widely
            self.text(x, y, "1\u2212", color=dark, size=0.31, gid=gid + ":text")
        else:
            self.text(x, y, f"${symbol}$", color=dark, size=0.44, gid=gid + ":text")

    def label(self, x, y, s, paths=(), tone=None, *, gid, **kw):
        return self.text(x, y, s, color=self.text_color(paths, tone), gid=gid, **kw)

    def backward_overlay(self, labels):
        """Every wire again, reversed, in the backward colour; ``labels``: (x, y, text, kw)."""
        col = COLORS["backward"]
        for w in self.wires:
            self.line(w.points[::-1], col, self.lw(True) * (1.5 if w.emph else 0.55),
                      arrow=w.back_arrow, dashed=w.dashed, gid="back:" + w.gid, z=5)
        for x, y, s, kw in labels:
            self.text(x, y, s, color=col, gid="back:" + s, **kw)


# ---- the cells ----------------------------------------------------------------------------------

# Common coordinates (drawing units): the cell box spans y in [0, TOP]; BY is the input line,
# GY the gate row, MY the middle row, CY the cell-state line (the GRU's h line).
_BY, _GY, _MY, _CY, _TOP = 0.8, 2.3, 3.95, 5.3, 6.3
_YB = -1.35  # where x_t enters
_YT = 7.5  # where h_t leaves upwards
_GAP = 0.25  # label distance from its wire


def _cell_box(pen, x0, x1, top):
    pen.ax.add_artist(FancyBboxPatch((x0, 0), x1 - x0, top, zorder=0, gid="cellbox",
                                    boxstyle="round,pad=0,rounding_size=0.5",
                                    fc="#F7F7F7", ec="#9A9A9A", lw=pen.lw() * 0.8))


def _draw_lstm(pen, kind, vals):
    """The LSTM family: cell line at the top, gates f i g o left to right, h_t out at bottom."""
    XL, XR = -1.6, 12.2
    xs = {"f": 2.3, "i": 4.1, "g": 5.6, "o": 7.2}
    XT, XH, XX = 9.0, 10.0, 0.8  # output tanh and ×, h_t upwards, x_t
    gates = ("f", "i", "g", "o") if kind != "cifg" else ("f", "g", "o")
    _cell_box(pen, 0, 10.8, _TOP)
    P = "figo"  # every gate path takes the inputs
    # cell state line
    pen.wire([(XL, _CY), (xs["f"] - _R, _CY)], "c", gid="wire:c_prev", emph=True, thick=True)
    pen.op(xs["f"], _CY, r"\times", {"c", "f"}, gid="op:forget")
    pen.wire([(xs["f"] + _R, _CY), (xs["g"] - _R, _CY)], "c", gid="wire:c_mid", emph=True,
             thick=True)
    pen.op(xs["g"], _CY, "+", {"c", "i", "g"}, gid="op:add")
    pen.wire([(xs["g"] + _R, _CY), (XR, _CY)], "c", gid="wire:c", emph=True, thick=True)
    # inputs: h_{t-1} along the bottom, x_t from below, risers into the gates
    # the input line in pieces: each piece belongs to the gates to its right
    stops = [XL, XX] + [xs[g] for g in gates]
    for a, b, k in zip(stops[:-1], stops[1:], range(len(stops) - 1), strict=True):
        last = b == xs["o"]
        pts = [(a, _BY), (b, _BY)] + ([(b, _GY - _BH / 2)] if last else [])
        pen.wire(pts, P if k < 2 else "".join(gates[k - 1:]),
                 arrow=last, back_arrow=k == 0, gid="wire:h_prev" if k == 0 else f"wire:in{k}")
    pen.wire([(XX, _YB), (XX, _BY)], P, gid="wire:x")
    pen.dot(XX, _BY, P)
    for g in gates:
        # the CIFG's i_t = 1 - f_t comes out of f's σ block, so that block is on i's path too
        paths = "fi" if kind == "cifg" and g == "f" else g
        if g != "o":
            pen.dot(xs[g], _BY, "".join(gates[gates.index(g):]) + paths)
            pen.wire([(xs[g], _BY), (xs[g], _GY - _BH / 2)], paths, gid=f"wire:in_{g}")
        text = r"$\tanh$" if g == "g" else r"$\sigma$"
        if kind == "slstm" and g == "i":
            text = r"$\exp$"
        pen.block(xs[g], _GY, text, paths, g, w=_BWT if g in "gi" and kind == "slstm" or g == "g"
                  else _BW, gid=f"block:{g}")
    # gate outputs
    top = _GY + _BH / 2
    pen.wire([(xs["f"], top), (xs["f"], _CY - _R)], "f", "f", gid="wire:f")
    if kind == "cifg":  # i_t = 1 - f_t: a branch of f_t through a 1 − circle
        yb = 3.05
        pen.dot(xs["f"], yb, "fi", "f")
        pen.wire([(xs["f"], yb), (xs["i"] - _R, yb)], "fi", "f", gid="wire:f_to_i")
        pen.op(xs["i"], yb, "1-", "i", "i", gid="op:one_minus")
        pen.wire([(xs["i"], yb + _R), (xs["i"], _MY), (xs["g"] - _R, _MY)], "i", "i",
                 gid="wire:i")
    else:
        pen.wire([(xs["i"], top), (xs["i"], _MY), (xs["g"] - _R, _MY)], "i", "i", gid="wire:i")
    pen.wire([(xs["g"], top), (xs["g"], _MY - _R)], "g", "g", gid="wire:g")
    pen.op(xs["g"], _MY, r"\times", "ig", gid="op:input")
    pen.wire([(xs["g"], _MY + _R), (xs["g"], _CY - _R)], "ig", gid="wire:ig")
    pen.wire([(xs["o"] + _BW / 2, _GY), (XT - _R, _GY)], "o", "o", gid="wire:o")
    # output: tanh(c_t) times o_t
    pen.dot(XT, _CY, "o")
    pen.wire([(XT, _CY), (XT, _MY + 0.31)], "o", gid="wire:c_to_tanh")
    if kind == "slstm":  # h_t = o_t ⊙ c̄_t / n̄_t: the normaliser instead of tanh
        pen.block(XT, _MY, r"$\div\,\bar n_t$", "o", w=_BWT, h=0.62, gid="block:norm")
    else:
        pen.block(XT, _MY, r"$\tanh$", "o", w=_BWT, h=0.62, gid="block:tanh_c")
    pen.wire([(XT, _MY - 0.31), (XT, _GY + _R)], "o", gid="wire:tanh_c")
    pen.op(XT, _GY, r"\times", "o", gid="op:output")
    pen.wire([(XT, _GY - _R), (XT, _BY), (XR, _BY)], "o", gid="wire:h")
    pen.dot(XH, _BY, "o")
    pen.wire([(XH, _BY), (XH, _YT)], "o", gid="wire:h_up")
    if kind == "peephole":  # dashed: c_{t-1} into f and i, c_t into o
        xp = 1.2
        pen.dot(xp, _CY, "fi")
        pen.wire([(xp, _CY), (xp, _GY), (xs["f"] - _BW / 2, _GY)], "f", "f", dashed=True,
                 gid="wire:p_f")
        pen.dot(xp, 3.15, "i")
        pen.wire([(xp, 3.15), (xs["i"] - 0.25, 3.15), (xs["i"] - 0.25, top)], "i", "i",
                 dashed=True, gid="wire:p_i")
        pen.dot(xs["o"] - 0.25, _CY, "o")
        pen.wire([(xs["o"] - 0.25, _CY), (xs["o"] - 0.25, top)], "o", "o", dashed=True,
                 gid="wire:p_o")
    # labels: (key, x, y, text, paths, tone, ha, va, where the value goes: a dy, a (dx, dy, ha),
    # "left" of a vertical wire, or None for no value)
    L = [
        ("c_prev", XL, _CY + _GAP, "$c_{t-1}$", "c", None, "left", "bottom", -2 * _GAP),
        ("c", XR, _CY + _GAP, "$c_t$", "c", None, "right", "bottom", -2 * _GAP),
        ("h_prev", XL, _BY + _GAP, "$h_{t-1}$", P, None, "left", "bottom", -2 * _GAP),
        ("h", XR, _BY + _GAP, "$h_t$", "o", None, "right", "bottom", -2 * _GAP),
        ("h_up", XH + 0.2, _YT - 0.05, "$h_t$", "o", None, "left", "top", None),
        ("x", XX + 0.2, _YB + 0.05, "$x_t$", P, None, "left", "bottom", "left"),
        ("f", xs["f"] + 0.2, 4.3, "$f_t$", "f", "f", "left", "center", -0.5),
        ("i", (xs["i"] + xs["g"] - _R) / 2, _MY + 0.12, "$i_t$", "i", "i", "center", "bottom",
         0.5),
        ("g", xs["g"] + 0.2, 3.42, "$g_t$", "g", "g", "left", "center", -0.48),
        ("o", (xs["o"] + _BW / 2 + XT - _R) / 2, _GY + 0.12, "$o_t$", "o", "o", "center",
         "bottom", -0.5),
    ]
    if kind == "slstm":  # the stabilised quantities: c̄, i', f'; the candidate is z_t
        names = {"c_prev": r"$\bar c_{t-1}$", "c": r"$\bar c_t$", "f": "$f'_t$", "i": "$i'_t$",
                 "g": "$z_t$"}
        L = [(k, x, y, names.get(k, s), *rest) for k, x, y, s, *rest in L]
        pen.text((XL + XR) / 2 + 1.0, _YB + 0.2, r"$\bar n_t = f'_t \bar n_{t-1} + i'_t$, "
                 r"$m_t$ rescales both (not drawn)", color="#555555", size=_SMALL, gid="note")
    if kind == "peephole":
        L += [("p_f", 1.05, 4.3, "$p_f$", "f", "f", "right", "center", -0.5),
              ("p_i", (xs["f"] + xs["i"] - 0.25) / 2, 3.25, "$p_i$", "i", "i", "right",
               "bottom", (0.12, 0.0, "left")),
              ("p_o", xs["o"] - 0.4, 4.5, "$p_o$", "o", "o", "right", "center", -0.5)]
    _labels(pen, L, vals)
    if pen.highlight == "backward":
        d = r"\mathrm{d}"
        pen.backward_overlay([
            (XL, _CY + _GAP, f"${d}c_{{t-1}}$", dict(ha="left", va="bottom")),
            (XR, _CY + _GAP, f"${d}c_t$", dict(ha="right", va="bottom")),
            (XL, _BY + _GAP, f"${d}h_{{t-1}}$", dict(ha="left", va="bottom")),
            (XR, _BY + _GAP, f"${d}h_t$", dict(ha="right", va="bottom")),
            (XX - 0.2, _YB + 0.05, f"${d}x_t$", dict(ha="right", va="bottom")),
            (XH + 0.2, _YT - 0.05, r"$\partial L_t/\partial h_t$", dict(ha="left", va="top")),
            ((XL + xs["f"] - _R) / 2 + 0.6, _CY + _GAP,
             r"$\odot\, f'_t$" if kind == "slstm" else r"$\odot\, f_t$",
             dict(ha="center", va="bottom")),
        ])
    return (XL - 0.1, XR + 0.1), (_YB - 0.35, _YT + 0.1)


def _draw_gru(pen, kind, vals):
    """The GRU: h line at the top (z_t ⊙ h_{t-1} + (1 − z_t) ⊙ n_t), gates z r n below."""
    XL, XR = -1.6, 12.2
    xz, xr, xm, xn, x1 = 2.6, 4.8, 6.5, 8.3, 4.5  # z, r, the r multiply, n, the 1 − circle
    XH, XX, XD = 10.0, 1.4, 0.6  # h_t up, x_t, where h_{t-1} drops to the input line
    _cell_box(pen, 0, 10.8, _TOP)
    P = "rzn"
    pen.wire([(XL, _CY), (XD, _CY)], P, gid="wire:h_prev", arrow=False, emph=True, thick=True)
    pen.wire([(XD, _CY), (xz - _R, _CY)], "z", gid="wire:h_keep", emph=True, thick=True,
             back_arrow=False)
    pen.op(xz, _CY, r"\times", "z", "z", gid="op:keep")
    pen.wire([(xz + _R, _CY), (xn - _R, _CY)], "z", gid="wire:h_mid", emph=True, thick=True)
    pen.op(xn, _CY, "+", "zn", gid="op:add")
    pen.wire([(xn + _R, _CY), (XR, _CY)], "zn", gid="wire:h", emph=True, thick=True)
    pen.dot(XH, _CY, "zn")
    pen.wire([(XH, _CY), (XH, _YT)], "zn", gid="wire:h_up")
    # inputs
    pen.dot(XD, _CY, P)
    pen.wire([(XD, _CY), (XD, _BY), (XX, _BY)], P, arrow=False, back_arrow=True, gid="wire:in")
    for k, (a, b, paths) in enumerate([(XX, xz, P), (xz, xr, "rn"), (xr, xm, "n"),
                                       (xm, xn, "n")]):
        last = b == xn
        pts = [(a, _BY), (b, _BY)] + ([(b, _GY - _BH / 2)] if last else [])
        pen.wire(pts, paths, arrow=last, back_arrow=False, gid=f"wire:in{k + 1}")
    pen.wire([(XX, _YB), (XX, _BY)], P, gid="wire:x")
    pen.dot(XX, _BY, P)
    for g, x in (("z", xz), ("r", xr)):
        pen.dot(x, _BY, g)
        pen.wire([(x, _BY), (x, _GY - _BH / 2)], g, gid=f"wire:in_{g}")
        pen.block(x, _GY, r"$\sigma$", g, g, gid=f"block:{g}")
    pen.block(xn, _GY, r"$\tanh$", "n", "n", w=_BWT, gid="block:n")
    # the reset path: r_t scales U_n h_{t-1} + b_hn (PyTorch) or h_{t-1} (Cho et al.)
    pen.dot(xm, _BY, "n")
    if kind == "gru":
        pen.wire([(xm, _BY), (xm, 1.15)], "n", gid="wire:in_U")
        pen.block(xm, 1.4, "$U_n$", "n", w=0.8, h=0.5, gid="block:U_n")
        pen.wire([(xm, 1.65), (xm, _GY - _R)], "n", gid="wire:U_n")
    else:
        pen.wire([(xm, _BY), (xm, _GY - _R)], "n", gid="wire:h_to_r")
    pen.wire([(xr + _BW / 2, _GY), (xm - _R, _GY)], "r", "r", gid="wire:r")
    pen.op(xm, _GY, r"\times", "rn", gid="op:reset")
    pen.wire([(xm + _R, _GY), (xn - _BWT / 2, _GY)], "rn", gid="wire:reset")
    # the update: z_t up to the h line, 1 − z_t across to n_t
    pen.wire([(xz, _GY + _BH / 2), (xz, _CY - _R)], "z", "z", gid="wire:z")
    pen.dot(xz, _MY, "z", "z")
    pen.wire([(xz, _MY), (x1 - _R, _MY)], "z", "z", gid="wire:z_to_1")
    pen.op(x1, _MY, "1-", "z", "z", gid="op:one_minus")
    pen.wire([(x1 + _R, _MY), (xn - _R, _MY)], "z", "z", gid="wire:one_minus_z")
    pen.wire([(xn, _GY + _BH / 2), (xn, _MY - _R)], "n", "n", gid="wire:n")
    pen.op(xn, _MY, r"\times", "zn", gid="op:mix")
    pen.wire([(xn, _MY + _R), (xn, _CY - _R)], "zn", gid="wire:mix")
    L = [
        ("h_prev", XL, _CY + _GAP, "$h_{t-1}$", P, None, "left", "bottom", -2 * _GAP),
        ("h", XR, _CY + _GAP, "$h_t$", "zn", None, "right", "bottom", -2 * _GAP),
        ("h_up", XH + 0.2, _YT - 0.05, "$h_t$", "zn", None, "left", "top", None),
        ("x", XX + 0.2, _YB + 0.05, "$x_t$", P, None, "left", "bottom", "left"),
        ("z", xz + 0.2, 3.4, "$z_t$", "z", "z", "left", "center", -0.5),
        ("r", (xr + _BW / 2 + xm - _R) / 2, _GY + 0.12, "$r_t$", "r", "r", "center", "bottom",
         0.5),
        ("n", xn + 0.2, 3.4, "$n_t$", "n", "n", "left", "center", -0.5),
    ]
    _labels(pen, L, vals)
    note = ("reset after $U_n h_{t-1}$ (PyTorch)" if kind == "gru"
            else "reset before $U_n$ (Cho et al. 2014)")
    pen.text((XL + XR) / 2 + 1.6, _YB + 0.2, note, color="#555555", size=_SMALL, gid="note")
    if pen.highlight == "backward":
        d = r"\mathrm{d}"
        pen.backward_overlay([
            (XL, _CY + _GAP, f"${d}h_{{t-1}}$", dict(ha="left", va="bottom")),
            (XR, _CY + _GAP, f"${d}h_t$", dict(ha="right", va="bottom")),
            (XX - 0.2, _YB + 0.05, f"${d}x_t$", dict(ha="right", va="bottom")),
            (XH + 0.2, _YT - 0.05, r"$\partial L_t/\partial h_t$", dict(ha="left", va="top")),
            (xz + 0.65, _CY + _GAP, r"$\odot\, z_t$", dict(ha="left", va="bottom")),
        ])
    return (XL - 0.1, XR + 0.1), (_YB - 0.35, _YT + 0.1)


def _draw_mingru(pen, kind, vals):
    """The minGRU: h line at the top, ((1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t); x_t alone feeds z, h̃."""
    XL, XR = -1.6, 12.2
    xz, xn, XH, XX, yb = 3.0, 7.5, 10.0, 1.2, 3.2  # z, the candidate, h_t up, x_t, z's branch
    _cell_box(pen, 0, 10.8, _TOP)
    P = "zg"
    pen.wire([(XL, _CY), (xz - _R, _CY)], "z", gid="wire:h_prev", emph=True, thick=True)
    pen.op(xz, _CY, r"\times", "z", "z", gid="op:keep")
    pen.wire([(xz + _R, _CY), (xn - _R, _CY)], "z", gid="wire:h_mid", emph=True, thick=True)
    pen.op(xn, _CY, "+", "zg", gid="op:add")
    pen.wire([(xn + _R, _CY), (XR, _CY)], "zg", gid="wire:h", emph=True, thick=True)
    pen.dot(XH, _CY, "zg")
    pen.wire([(XH, _CY), (XH, _YT)], "zg", gid="wire:h_up")
    # the input line carries x_t only: no h_{t-1} reaches a gate
    pen.wire([(XX, _YB), (XX, _BY)], P, gid="wire:x")
    pen.dot(XX, _BY, P)
    pen.wire([(XX, _BY), (xz, _BY)], P, arrow=False, gid="wire:in1")
    pen.dot(xz, _BY, P)
    pen.wire([(xz, _BY), (xz, _GY - _BH / 2)], "z", gid="wire:in_z")
    pen.wire([(xz, _BY), (xn, _BY), (xn, _GY - _BH / 2)], "g", gid="wire:in_g")
    pen.block(xz, _GY, r"$\sigma$", "z", "z", gid="block:z")
    pen.block(xn, _GY, "$g$", "g", "g", gid="block:g")
    # 1 − z_t scales h_{t-1}; z_t scales the candidate
    top = _GY + _BH / 2
    pen.wire([(xz, top), (xz, _MY - _R)], "z", "z", gid="wire:z")
    pen.op(xz, _MY, "1-", "z", "z", gid="op:one_minus")
    pen.wire([(xz, _MY + _R), (xz, _CY - _R)], "z", "z", gid="wire:one_minus_z")
    pen.dot(xz, yb, "z", "z")
    pen.wire([(xz, yb), (xn - 1.0, yb), (xn - 1.0, _MY), (xn - _R, _MY)], "zg", "z",
             gid="wire:z_to_mix")
    pen.wire([(xn, top), (xn, _MY - _R)], "g", "g", gid="wire:g")
    pen.op(xn, _MY, r"\times", "zg", gid="op:mix")
    pen.wire([(xn, _MY + _R), (xn, _CY - _R)], "zg", gid="wire:mix")
    L = [
        ("h_prev", XL, _CY + _GAP, "$h_{t-1}$", "z", None, "left", "bottom", -2 * _GAP),
        ("h", XR, _CY + _GAP, "$h_t$", "zg", None, "right", "bottom", -2 * _GAP),
        ("h_up", XH + 0.2, _YT - 0.05, "$h_t$", "zg", None, "left", "top", None),
        ("x", XX + 0.2, _YB + 0.05, "$x_t$", P, None, "left", "bottom", "left"),
        ("z", xz + 0.2, 2.95, "$z_t$", "z", "z", "left", "center", "left"),
        ("g", xn + 0.2, 3.3, r"$\tilde h_t$", "g", "g", "left", "center", -0.45),
    ]
    _labels(pen, L, vals)
    pen.text((XL + XR) / 2 + 1.6, _YB + 0.2, "gates read $x_t$ only", color="#555555",
             size=_SMALL, gid="note")
    if pen.highlight == "backward":
        d = r"\mathrm{d}"
        pen.backward_overlay([
            (XL, _CY + _GAP, f"${d}h_{{t-1}}$", dict(ha="left", va="bottom")),
            (XR, _CY + _GAP, f"${d}h_t$", dict(ha="right", va="bottom")),
            (XX - 0.2, _YB + 0.05, f"${d}x_t$", dict(ha="right", va="bottom")),
            (XH + 0.2, _YT - 0.05, r"$\partial L_t/\partial h_t$", dict(ha="left", va="top")),
            (xz + 0.5, _CY + _GAP, r"$\odot\, (1 - z_t)$", dict(ha="left", va="bottom")),
        ])
    return (XL - 0.1, XR + 0.1), (_YB - 0.35, _YT + 0.1)


def _draw_rnn(pen, kind, vals):
    """The vanilla RNN: h_{t-1} and x_t into one tanh block, h_t out to the right and up."""
    XL, XR, BY = -1.6, 7.6, 1.5
    XX, XB, XH = 1.3, 3.3, 5.2
    _cell_box(pen, 0, 6.4, 3.0)
    pen.wire([(XL, BY), (XB - _BWT / 2, BY)], "h", gid="wire:h_prev", emph=True)
    pen.wire([(XX, _YB), (XX, BY)], "h", gid="wire:x")
    pen.dot(XX, BY, "h")
    pen.block(XB, BY, r"$\tanh$", "h", w=_BWT, h=0.72, gid="block:tanh")
    pen.wire([(XB + _BWT / 2, BY), (XR, BY)], "h", gid="wire:h", emph=True)
    pen.dot(XH, BY, "h")
    pen.wire([(XH, BY), (XH, 4.4)], "h", gid="wire:h_up")
    L = [
        ("h_prev", XL, BY + _GAP, "$h_{t-1}$", "h", None, "left", "bottom", -2 * _GAP),
        ("h", XR, BY + _GAP, "$h_t$", "h", None, "right", "bottom", -2 * _GAP),
        ("h_up", XH + 0.2, 4.35, "$h_t$", "h", None, "left", "top", None),
        ("x", XX + 0.2, _YB + 0.05, "$x_t$", "h", None, "left", "bottom", "left"),
    ]
    _labels(pen, L, vals)
    if pen.highlight == "backward":
        d = r"\mathrm{d}"
        pen.backward_overlay([
            (XL, BY + _GAP, f"${d}h_{{t-1}}$", dict(ha="left", va="bottom")),
            (XR, BY + _GAP, f"${d}h_t$", dict(ha="right", va="bottom")),
            (XX - 0.2, _YB + 0.05, f"${d}x_t$", dict(ha="right", va="bottom")),
            (XH + 0.2, 4.35, r"$\partial L_t/\partial h_t$", dict(ha="left", va="top")),
        ])
    return (XL - 0.1, XR + 0.1), (_YB - 0.35, 4.5)


def _labels(pen, labels, vals):
    """Write the labels; with ``vals`` also each value, under (or beside) its label."""
    for key, x, y, s, paths, tone, ha, va, voff in labels:
        if pen.highlight == "backward" and tone is None:
            continue  # the state labels become dh, dc in the backward view
        pen.label(x, y, s, paths, tone, gid=f"label:{key}", ha=ha, va=va)
        if vals is None or key not in vals or voff is None:
            continue
        color = pen.text_color(frozenset(paths), tone)
        v = _fmt(vals[key])
        if voff == "left":  # beside a vertical wire, on its other side
            pen.text(x - 0.4, y, v, color=color, size=_VALUE, gid=f"value:{key}", ha="right",
                     va=va)
        else:
            dx, voff, vha = voff if isinstance(voff, tuple) else (0.0, voff, ha)
            vva = va if va == "center" or voff == 0 else ("top" if voff < 0 else "bottom")
            pen.text(x + dx, y + voff, v, color=color, size=_VALUE, gid=f"value:{key}", ha=vha,
                     va=vva)


def _fmt(v: float) -> str:
    return f"{v:.2f}".replace("-", "\u2212")


# ---- values from a reference cache --------------------------------------------------------------

def _check_int(value, name, lo, hi, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value < hi:
        raise ValueError(f"{name} must be an int in 0..{hi - 1} ({what}): got {value!r}")


def _step_values(kind, cache, t, sample, unit):
    """Step ``t``'s numbers of sample ``sample``, hidden unit ``unit``, keyed like the labels."""
    from lstm_lib.reference import ForwardCache

    if not isinstance(cache, ForwardCache):
        raise TypeError(f"values must be a lstm_lib.reference ForwardCache (what cell.forward "
                        f"returns second): got {type(cache).__name__}")
    want = "gru" if kind == "gru_cho" else kind
    got = cache.kind
    if got == "gru":
        got = "gru" if hasattr(cache.steps[0], "hn") else "gru_cho"
    if got != kind:
        hint = {"gru": " (make_cell('gru', ..., reset_after=True))",
                "gru_cho": " (make_cell('gru', ..., reset_after=False))"}.get(kind, "")
        raise ValueError(f"values must come from a {want!r} cell to draw kind {kind!r}{hint}: "
                         f"got a cache of kind {got!r}")
    T, N, H = cache.hs.shape
    _check_int(t, "t", 0, T, f"the cache's steps, T = {T}")
    _check_int(sample, "sample", 0, N, f"the batch, N = {N}")
    _check_int(unit, "unit", 0, H, f"the hidden units, H = {H}")
    prev = cache.h0 if t == 0 else cache.hs[t - 1]
    v = {"x": cache.xs[t, sample, 0], "h_prev": prev[sample, unit],
         "h": cache.hs[t, sample, unit]}
    for name, a in cache.gates.items():
        v[name] = a[t, sample, unit]
    if cache.cs is not None:
        v["c_prev"] = (cache.c0 if t == 0 else cache.cs[t - 1])[sample, unit]
        v["c"] = cache.cs[t, sample, unit]
    if kind == "mingru":  # the reference names the candidate "h"; the drawing calls it "g"
        v["g"], v["h"] = v["h"], cache.hs[t, sample, unit]
    if kind == "slstm":  # the drawing is the stabilised step: i', f' and the candidate z
        step = cache.steps[t]
        v["i"], v["f"], v["g"] = (step.i_s[sample, unit], step.f_s[sample, unit],
                                  step.z[sample, unit])
    if kind == "peephole":
        for p in ("p_f", "p_i", "p_o"):
            v[p] = getattr(cache.steps[t], p)[unit]
    D = cache.xs.shape[2]
    which = ([f"sample {sample} of N = {N}"] if N > 1 else []) + (
        [f"unit {unit} of H = {H}"] if H > 1 else []) + (
        [f"$x_t$: feature 0 of D = {D}"] if D > 1 else [])
    lines = [f"step {t + 1} of {T} (cache index t = {t})"]
    width = 40 if kind == "rnn" else 75  # characters that fit under the drawing
    for k, item in enumerate(which):
        if k and len(lines[-1]) + len(item) + 3 <= width:
            lines[-1] += " \u00b7 " + item
        else:
            lines.append(item)
    caption = "\n".join(lines)
    return {k: float(x) for k, x in v.items()}, caption


# ---- public functions ---------------------------------------------------------------------------

def _check_kind(kind, name="kind", modern=False):
    allowed = KINDS + MODERN_KINDS if modern else KINDS
    if kind not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}: got {kind!r}")


def draw_cell(kind: str, *, ax=None, highlight: str | None = None, values=None, t: int = 0,
              sample: int = 0, unit: int = 0):
    """Draw one cell of ``kind``, colah-style, with every wire and block labelled.

    Args:
        kind: one of ``KINDS`` or ``MODERN_KINDS``.
        ax: the Axes to draw on; ``None`` makes a new figure sized to the drawing.
        highlight: ``None``; a gate of the kind (``HIGHLIGHTS[kind]``); ``"c"`` (the cell
            state's path, LSTM family); ``"backward"`` (the gradient flow of BPTT).
        values: a ``lstm_lib.reference`` forward cache of this kind (for ``"gru_cho"`` a
            ``"gru"`` cell with ``reset_after=False``); its step ``t`` is written on the wires.
        t: 0-based step index into ``values`` (h_{t+1} = hs[t]).
        sample, unit: which batch row and hidden unit of ``values`` to show.

    Returns:
        The Axes (equal aspect, axis off).
    """
    _check_kind(kind, modern=True)
    if highlight is not None and highlight not in HIGHLIGHTS[kind]:
        why = (" (the cell path 'c' needs a cell state, which this kind has none of)"
               if highlight == "c" else "")
        raise ValueError(f"highlight for kind {kind!r} must be None or one of "
                         f"{list(HIGHLIGHTS[kind])}{why}: got {highlight!r}")
    vals = caption = None
    if values is not None:
        if highlight == "backward":
            raise ValueError("values cannot be combined with highlight='backward': expected "
                             "values=None (the numbers are forward values), got a cache")
        vals, caption = _step_values(kind, values, t, sample, unit)
    draw = {"rnn": _draw_rnn, "gru": _draw_gru, "gru_cho": _draw_gru,
            "mingru": _draw_mingru}.get(kind, _draw_lstm)
    xlim, ylim = _EXTENTS[kind]
    if caption:  # room for its one or two lines under the drawing
        ylim = (ylim[0] - 0.2 - 0.5 * (caption.count("\n") + 1), ylim[1])
    pen = _Pen(ax, xlim, ylim, highlight)
    draw(pen, kind, vals)
    if caption:
        pen.text((xlim[0] + xlim[1]) / 2, ylim[0] + 0.1, caption, color="#444444", size=_SMALL,
                 va="bottom", linespacing=1.3, gid="caption")
    return pen.ax


_EXTENTS = {"rnn": ((-1.7, 7.7), (-1.7, 4.5)),
            **{k: ((-1.7, 12.3), (-1.7, 7.6)) for k in ("lstm", "peephole", "cifg", "gru",
                                                       "gru_cho", "mingru", "slstm")}}


def _sub(k: int) -> str:
    """The subscript of step t + k, braced when needed: ``t``, ``{t-1}``, ``{t+1}``."""
    return "t" if k == 0 else f"{{t{k:+d}}}"


def _check_count(value, name, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= hi:
        raise ValueError(f"{name} must be an int in 1..{hi}: got {value!r}")


def _steps(steps: int) -> list[int]:
    """The offsets k of the steps t + k drawn: 3 steps are t-1, t, t+1."""
    _check_count(steps, "steps", 8)
    return list(range(-(steps // 2), steps - steps // 2))


def _name_width(kind: str, extra: float) -> float:
    """Width of a layout box that holds the kind's name (0.24 units a character) and ``extra``."""
    return 0.24 * len(_NAMES[kind]) + 0.5 + extra


def _box(pen, x, y, text, w=1.5, h=1.0, color=None, gid="box"):
    col = color or COLORS["wire"]
    pen.ax.add_artist(FancyBboxPatch((x - w / 2, y - h / 2), w, h, zorder=4, gid=gid,
                                    boxstyle="round,pad=0,rounding_size=0.25",
                                    fc=_tint(col, 0.85), ec=col, lw=pen.lw()))
    pen.text(x, y, text, size=_BLOCK, gid=gid + ":text")


def draw_unrolled(kind: str = "rnn", steps: int = 3, *, ax=None):
    """The cell unrolled in time: one box per step (the same weights), h (and c) carried right.

    Labels: x_{t-1}, x_t, ... below, h_{t-1}, h_t, ... above, the carried states on the arrows
    between the boxes. Returns the Axes.
    """
    _check_kind(kind)
    ks = _steps(steps)
    cell = kind in ("lstm", "peephole", "cifg")
    w = max(1.6, _name_width(kind, 0))
    dx = w + 2.0
    x0 = 1.2
    xl, xr = x0 - dx / 2 - 0.6, x0 + dx * (len(ks) - 1) + dx / 2 + 0.6
    pen = _Pen(ax, (xl - 0.4, xr + 0.4), (-1.4, 3.9))
    yh, yc = (0.25, 0.75) if cell else (0.5, None)
    for j, k in enumerate(ks):
        x = x0 + dx * j
        _box(pen, x, 0.5, _NAMES[kind], w=w, h=1.4 if cell else 1.0, color=COLORS["o"],
             gid=f"box:{k}")
        pen.line([(x, -0.85), (x, 0.5 - (0.7 if cell else 0.5))], COLORS["wire"], pen.lw())
        pen.text(x, -0.95, f"$x_{_sub(k)}$", va="top", gid=f"label:x_{k}")
        top = 0.5 + (0.7 if cell else 0.5)
        pen.line([(x, top), (x, 2.9)], COLORS["wire"], pen.lw())
        pen.text(x, 3.0, f"$h_{_sub(k)}$", va="bottom", gid=f"label:h_{k}")
    # the carried states: into the first box, between boxes, out of the last
    for j in range(len(ks) + 1):
        a = xl if j == 0 else x0 + dx * (j - 1) + w / 2
        b = xr if j == len(ks) else x0 + dx * j - w / 2
        k = ks[0] - 1 + j
        for y, name, col in ((yh, "h", COLORS["wire"]), (yc, "c", COLORS["c"])):
            if y is None:
                continue
            pen.line([(a, y), (b, y)], col, pen.lw(name == "c"))
            pos = y + 0.12 if name == "c" else y - 0.12
            pen.text((a + b) / 2, pos, f"${name}_{_sub(k)}$", size=_SMALL, color=col,
                     va="bottom" if name == "c" else "top", gid=f"label:{name}_{k}")
    return pen.ax


def draw_stacked(kind: str = "lstm", layers: int = 2, *, steps: int = 3, ax=None):
    """A stacked (deep) recurrent network: ``layers`` rows of cells, ``steps`` columns.

    Layer 1 reads x_t; layer l + 1 reads layer l's h_t^{(l)}; the top layer's h_t^{(L)} is the
    output. Each layer carries its own state to the right. Returns the Axes.
    """
    _check_kind(kind)
    ks = _steps(steps)
    _check_count(layers, "layers", 4)
    cell = kind in ("lstm", "peephole", "cifg")
    dy, h = 2.6, 1.0
    w = max(2.3, _name_width(kind, 0.6))
    dx = w + 1.5
    x0 = 1.2
    xl, xr = x0 - dx / 2 - 0.5, x0 + dx * (len(ks) - 1) + dx / 2 + 0.5
    top = dy * (layers - 1) + h / 2
    pen = _Pen(ax, (xl - 0.3, xr + 0.3), (-2.0, top + 2.05))
    state = "(h, c)" if cell else "h"
    for layer in range(layers):
        y = dy * layer
        for j, k in enumerate(ks):
            x = x0 + dx * j
            _box(pen, x, y, f"{_NAMES[kind]}$^{{({layer + 1})}}$", w=w, h=h,
                 color=COLORS["o"], gid=f"box:{layer + 1}:{k}")
            y_in = y - h / 2
            start = -1.25 if layer == 0 else y - dy + h / 2
            pen.line([(x, start), (x, y_in)], COLORS["wire"], pen.lw())
            if layer == 0:
                pen.text(x, -1.35, f"$x_{_sub(k)}$", va="top", gid=f"label:x_{k}")
            else:
                pen.text(x + 0.15, y - dy / 2, f"$h^{{({layer})}}_{_sub(k)}$", ha="left",
                         size=_SMALL, gid=f"label:h{layer}_{k}")
            if layer == layers - 1:
                pen.line([(x, y + h / 2), (x, top + 0.9)], COLORS["wire"], pen.lw())
                pen.text(x, top + 1.0, f"$h^{{({layers})}}_{_sub(k)}$", va="bottom",
                         gid=f"label:h{layers}_{k}")
        for j in range(len(ks) + 1):
            a = xl if j == 0 else x0 + dx * (j - 1) + w / 2
            b = xr if j == len(ks) else x0 + dx * j - w / 2
            pen.line([(a, y), (b, y)], COLORS["c"] if cell else COLORS["wire"],
                     pen.lw(cell))
        pen.text(xl, y + 0.12, f"${state}^{{({layer + 1})}}$".replace("$(h, c)", "$(h, c)"),
                 ha="left", va="bottom", size=_SMALL, gid=f"label:state{layer + 1}")
    return pen.ax


def draw_bidirectional(kind: str = "lstm", steps: int = 3, *, ax=None):
    """A bidirectional layer: a forward row (left to right) and a backward row (right to left)
    read the same x_t; the output at t is the concatenation [h→_t; h←_t]. Returns the Axes."""
    _check_kind(kind)
    ks = _steps(steps)
    h = 0.9
    w = max(2.1, _name_width(kind, 0.5))
    dx, side = w + 2.3, w / 2 + 0.3  # side: the wires that pass beside a box
    x0 = 1.4
    yf, yb, yo = 1.9, 4.1, 6.2
    xl, xr = x0 - dx / 2 - 0.2, x0 + dx * (len(ks) - 1) + dx / 2 + 0.2
    pen = _Pen(ax, (xl - 0.3, xr + 0.3), (-1.0, yo + 1.95))
    fw, bw = COLORS["o"], COLORS["f"]
    for j, k in enumerate(ks):
        x = x0 + dx * j
        _box(pen, x, yf, _NAMES[kind] + r" $\rightarrow$", w=w, h=h, color=fw, gid=f"box:f:{k}")
        _box(pen, x, yb, _NAMES[kind] + r" $\leftarrow$", w=w, h=h, color=bw, gid=f"box:b:{k}")
        c = COLORS["wire"]
        # x_t into both rows: straight into the forward row, around it into the backward row
        pen.line([(x - 0.3, -0.3), (x - 0.3, yf - h / 2)], c, pen.lw())
        pen.text(x - 0.3, -0.4, f"$x_{_sub(k)}$", va="top", gid=f"label:x_{k}")
        pen.ax.add_artist(Circle((x - 0.3, 0.7), 0.075, color=c, zorder=3))
        pen.line([(x - 0.3, 0.7), (x + side, 0.7), (x + side, 3.2), (x + 0.3, 3.2),
                  (x + 0.3, yb - h / 2)], c, pen.lw())
        # outputs to the concatenation
        pen.line([(x - 0.3, yf + h / 2), (x - 0.3, 2.9), (x - side, 2.9), (x - side, yo),
                  (x - 0.3, yo)], fw, pen.lw())
        pen.line([(x, yb + h / 2), (x, yo - 0.3)], bw, pen.lw())
        pen.ax.add_artist(Circle((x, yo), 0.3, fc="white", ec=c, lw=pen.lw(), zorder=4))
        pen.text(x, yo, "$;$", size=0.4)
        pen.line([(x, yo + 0.3), (x, yo + 0.85)], c, pen.lw())
        pen.text(x, yo + 0.95, rf"$[\overrightarrow{{h}}_{_sub(k)};\,"
                 rf"\overleftarrow{{h}}_{_sub(k)}]$", va="bottom", size=0.36,
                 gid=f"label:y_{k}")
    for j in range(len(ks) + 1):
        a = xl if j == 0 else x0 + dx * (j - 1) + w / 2
        b = xr if j == len(ks) else x0 + dx * j - w / 2
        k = ks[0] - 1 + j
        pen.line([(a, yf), (b, yf)], fw, pen.lw())
        pen.text((a + b) / 2 + 0.15, yf - 0.12, rf"$\overrightarrow{{h}}_{_sub(k)}$",
                 va="top", size=_SMALL, color=fw, gid=f"label:hf_{k}")
        pen.line([(b, yb), (a, yb)], bw, pen.lw())
        pen.text((a + b) / 2 - 0.15, yb + 0.12, rf"$\overleftarrow{{h}}_{_sub(k + 1)}$",
                 va="bottom", size=_SMALL, color=bw, gid=f"label:hb_{k + 1}")
    return pen.ax
