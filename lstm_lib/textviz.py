"""Looking for interpretable cells in a character model of Python source.

* :func:`python_indicators` -- per character of a text: inside a string literal (0/1), bracket
  depth, indentation of its line; a small scanner (single, double and triple quotes, backslash
  escapes, comments), enough for the standard library;
* :func:`correlations` -- Pearson r of every unit's state with an indicator;
* :func:`current_char_r` -- the memoryless baseline: the correlation an indicator has with its
  own mean per character (what the current character alone explains);
* :func:`pick_passage` -- a short passage where the indicators vary;
* :func:`draw_colored_text` -- the text on a grid, each character's background coloured by a
  value (Karpathy et al. 2015's figures).

After Karpathy, Johnson & Fei-Fei, "Visualizing and understanding recurrent networks" (2015).
"""

from __future__ import annotations

import numpy as np

from lstm_lib._checks import check_ids, check_int, check_real, finite_array

__all__ = ["python_indicators", "correlations", "current_char_r", "pick_passage",
           "draw_colored_text"]


def python_indicators(text: str) -> dict[str, np.ndarray]:
    """Per character: ``"inside a string"`` (0/1), ``"bracket depth"``, ``"indentation"``.

    Each value is a float array (len(text),). Quotes (``'``, ``"``, ``'''``, ``\"\"\"``) count as
    inside; a backslash escapes the next character; a one-line string ends at a newline; ``#``
    starts a comment (no brackets or strings counted in it); depth never goes below 0;
    indentation is the number of leading spaces of the character's line.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    n = len(text)
    in_string, depth, indent = np.zeros(n), np.zeros(n), np.zeros(n)
    quote, comment, d, i = None, False, 0, 0
    while i < n:
        ch, width = text[i], 1
        if quote is not None:  # inside a string literal
            if ch == "\\":
                width = 2  # an escape: skip the next character
            elif text.startswith(quote, i):
                width, quote = len(quote), None  # the closing quote
            elif ch == "\n" and len(quote) == 1:
                quote = None  # an unterminated one-line string
            in_string[i:i + width] = 1
        elif comment:
            comment = ch != "\n"
        elif ch == "#":
            comment = True
        elif text.startswith('"""', i) or text.startswith("'''", i):
            quote, width = text[i:i + 3], 3
            in_string[i:i + 3] = 1
        elif ch in "\"'":
            quote = ch
            in_string[i] = 1
        elif ch in "([{":
            d += 1
        elif ch in ")]}":
            d = max(d - 1, 0)
        depth[i:i + width] = d
        i += width
    start = 0
    for line in text.split("\n"):
        indent[start:start + len(line) + 1] = len(line) - len(line.lstrip(" "))
        start += len(line) + 1
    return {"inside a string": in_string, "bracket depth": depth, "indentation": indent}


def correlations(states: np.ndarray, indicator: np.ndarray) -> np.ndarray:
    """Pearson r of every unit's state (T, H) with an indicator (T,): shape (H,).

    A unit that never changes gets r = 0.
    """
    states, indicator = finite_array("states", states), finite_array("indicator", indicator)
    if states.ndim != 2 or indicator.shape != (states.shape[0],):
        raise ValueError(f"states must be (T, H) and indicator (T,); got {states.shape} and "
                         f"{indicator.shape}")
    if indicator.std() == 0:
        raise ValueError("indicator is constant: its correlation is undefined")
    zc = (states - states.mean(0)) / (states.std(0) + 1e-12)
    zv = (indicator - indicator.mean()) / indicator.std()
    return zc.T @ zv / len(zv)


def current_char_r(ids, indicator: np.ndarray) -> float:
    """Correlation of ``indicator`` with its mean per character id: no memory at all.

    Predicting the indicator from the current character alone by its mean for that character
    is the best memoryless predictor in the least-squares sense; a unit whose state tracks the
    indicator better must carry information from earlier characters.
    """
    ids = check_ids("ids", ids)  # np.bincount would fail on a negative id with a bare error
    indicator = finite_array("indicator", indicator)
    if ids.shape != indicator.shape or ids.ndim != 1 or ids.size < 2:
        raise ValueError(f"ids and indicator must be 1-D of the same length >= 2; got "
                         f"{ids.shape} and {indicator.shape}")
    if indicator.std() == 0:
        raise ValueError("indicator is constant: its correlation is undefined")
    V = int(ids.max()) + 1
    sums = np.bincount(ids, weights=indicator, minlength=V)
    means = sums / np.maximum(np.bincount(ids, minlength=V), 1)
    return float(np.corrcoef(means[ids], indicator)[0, 1])


def pick_passage(text: str, indicators: dict[str, np.ndarray], n_lines: int = 9,
                 max_width: int = 78) -> slice:
    """The slice of ``n_lines`` whole lines (none wider than ``max_width``) on which the
    indicators take the most distinct values together: a passage that shows them all."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    n_lines = check_int("n_lines", n_lines, minimum=1)
    max_width = check_int("max_width", max_width, minimum=1)
    if not isinstance(indicators, dict) or not indicators:
        raise ValueError("indicators must be a non-empty dict {name: (len(text),) values}")
    for name, v in indicators.items():
        if np.shape(v) != (len(text),):
            raise ValueError(f"indicators[{name!r}] must have one value per character, shape "
                             f"({len(text)},); got {np.shape(v)}")
    lines = text.split("\n")
    offsets = np.cumsum([0] + [len(line) + 1 for line in lines])
    best, best_score = None, -1
    for j in range(len(lines) - n_lines):
        if max(len(line) for line in lines[j:j + n_lines]) > max_width:
            continue
        a, b = offsets[j], offsets[j + n_lines]
        score = sum(len(np.unique(v[a:b])) for v in indicators.values())
        if score > best_score:
            best, best_score = j, score
    if best is None:
        raise ValueError(f"no {n_lines} consecutive lines of at most {max_width} characters")
    return slice(int(offsets[best]), int(offsets[best + n_lines]) - 1)


def draw_colored_text(text: str, values, *, ax=None, title: str = "", fontsize: float = 7):
    """Each character on a grid, its background coloured by ``values`` (red > 0, blue < 0).

    The colour scale is symmetric, ``[-max|v|, max|v|]``; newlines start a new row. Returns
    the Axes.
    """
    import matplotlib.pyplot as plt

    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    fontsize = check_real("fontsize", fontsize, minimum=0.0, strict_minimum=True)
    values = finite_array("values", values)
    if values.shape != (len(text),):
        raise ValueError(f"values must have one entry per character, shape ({len(text)},); "
                         f"got {values.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 2.5))
    m = (float(np.abs(values).max()) if values.size else 0.0) or 1.0
    cmap, norm = plt.get_cmap("RdBu_r"), plt.Normalize(-m, m)
    row = col = width = 0
    for ch, v in zip(text, values, strict=True):
        ax.add_patch(plt.Rectangle((col, -row - 1), 1, 1, color=cmap(norm(v)), lw=0))
        if ch == "\n":
            row, col = row + 1, 0
            continue
        ax.text(col + 0.5, -row - 0.5, ch, ha="center", va="center", family="monospace",
                fontsize=fontsize)
        col += 1
        width = max(width, col)
    ax.set_xlim(0, width + 1)
    ax.set_ylim(-row - 1, 0)
    ax.set_title(title, fontsize=9, loc="left")
    ax.axis("off")
    return ax
