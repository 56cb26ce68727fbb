"""The docstrings' plain-text equations as TeX, for the library reference (``tools/api_docs.py``).

``lstm_lib``'s docstrings write equations to be read in ``help()`` and an editor::

    (L1)  i_t = σ(W_i x_t + U_i h_{t-1} + b_i)          input gate
    (L7)  dc = dc_next + dh ⊙ o_t ⊙ (1 - tanh²(c_t))     the total dL/dc_t, via (L6)

:func:`equations_as_math` finds the blocks made only of such lines (a literal block after
``::``, or a paragraph of its own) and writes each as a ``.. math::`` ``align`` block: one row
per line, aligned at its first ``=``, ``(L1)`` as ``\\tag{L1}``, a comment (what follows two or
more spaces and has no ``=``) as text in a column of its own. :func:`to_tex` converts one piece:
Greek letters and operators (σ, ⊙, ∂, Π, −, ², ...) become TeX commands, combining accents
``\\tilde``/``\\hat``, a multi-letter subscript ``b_in`` becomes ``b_{in}``,
``tanh``/``exp``/``log`` and ``diag``-like names become operators, runs of English words
become ``\\text``. A block with any line that is not an equation (code, prose) is left as it is.
"""

from __future__ import annotations

import re
import unicodedata

_SYMBOLS = {
    "σ": r"\sigma", "⊙": r"\odot", "∂": r"\partial", "Π": r"\prod", "∏": r"\prod", "Σ": r"\sum",
    "∑": r"\sum", "−": "-", "·": r"\cdot", "×": r"\times", "≤": r"\le", "≥": r"\ge",
    "≈": r"\approx", "≠": r"\ne", "→": r"\to", "←": r"\leftarrow", "√": r"\sqrt", "∞": r"\infty",
    "∈": r"\in", "…": r"\ldots", "‖": r"\|", "⊤": r"^\top", "ᵀ": r"^\top", "′": "'", "∇": r"\nabla",
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon",
    "η": r"\eta", "θ": r"\theta", "κ": r"\kappa", "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu",
    "ξ": r"\xi", "π": r"\pi", "ρ": r"\rho", "τ": r"\tau", "φ": r"\phi", "χ": r"\chi",
    "ψ": r"\psi", "ω": r"\omega", "Γ": r"\Gamma", "Δ": r"\Delta", "Θ": r"\Theta",
    "Λ": r"\Lambda", "Φ": r"\Phi", "Ψ": r"\Psi", "Ω": r"\Omega",
}
_SUBSCRIPTS = {chr(0x2080 + k): str(k) for k in range(10)}
_SUPERSCRIPTS = {"²": "2", "³": "3", "¹": "1", "⁰": "0", "⁻": "-", "⁺": "+", "ⁿ": "n"}
_ACCENTS = {"\u0303": r"\tilde", "\u0302": r"\hat", "\u0304": r"\bar", "\u0307": r"\dot"}
_TEX_FUNCTIONS = {"tanh", "exp", "log", "sin", "cos", "max", "min", "det", "ln", "arg", "lim"}
_STOPWORDS = {"so", "as", "if", "or", "in", "of", "at", "by", "to", "is", "it", "on", "an", "be",
              "and", "for", "with", "where", "all", "each", "else"}
_SPECIAL = str.maketrans({"%": r"\%", "#": r"\#", "&": r"\&", "$": r"\$"})

_TAG = re.compile(r"^\((?P<tag>[A-Z]{1,3}\d+[a-z]?'?)\)\s+")
_END_TAG = re.compile(r"^\((?P<tag>[A-Z]{1,3}\d+[a-z]?'?)\)$")
_CODE = re.compile(r"^\s*(?:for|if|while|return|import|from|def|class|with|print|assert)\b|>>>"
                   r"|==|!=|:=|\b\w+\[\w+\]|\b[A-Za-z_]\w*\.[A-Za-z_]|\"|'\w+'|#|`")
_MATH_SIGNAL = re.compile(r"[σ⊙∂Π∏∑Σ²³√≤≥≈→∞∈θλγαβ\u0303\u0302]|[A-Za-z]_[{A-Za-z0-9]"
                          r"|\b(?:tanh|exp|log|diag)\(")
_EQUALS = re.compile(r"(?<![=<>!:])=(?!=)")


def _is_word(token: str) -> bool:
    """An English word (with its punctuation), not a symbol: 'gate', '(summed', 'batch).'."""
    core = token.strip("(),.:;")
    if not core.isalpha() or not core.isascii():
        return False
    return core.lower() in _STOPWORDS or (len(core) >= 3 and core not in _TEX_FUNCTIONS
                                          and not token.rstrip(",.:;").endswith("("))


def _math_token(token: str) -> str:
    """One space-free piece of math in TeX."""
    out: list[str] = []
    for char in unicodedata.normalize("NFD", token):
        if char in _ACCENTS and out:
            out[-1] = f"{_ACCENTS[char]}{{{out[-1]}}}"
        elif char in _SUPERSCRIPTS:
            out.append("^" + _SUPERSCRIPTS[char])
        elif char in _SUBSCRIPTS:
            out.append("_" + _SUBSCRIPTS[char])
        elif char in _SYMBOLS:
            command = _SYMBOLS[char]
            out.append(command + (" " if command[-1].isalpha() else ""))
        else:
            out.append(char.translate(_SPECIAL))
    tex = "".join(out)
    # an identifier with two underscores is a code name (weight_ih_l0): typewriter
    tex = re.sub(r"\b[A-Za-z]\w*_\w*_\w*\b",
                 lambda m: r"\mathtt{" + m.group(0).replace("_", r"\_") + "}", tex)
    tex = re.sub(r"(?<!\\)_([A-Za-z0-9]{2,})", r"_{\1}", tex)  # b_in -> b_{in}
    tex = re.sub(r"(?<![\\\w])(" + "|".join(sorted(_TEX_FUNCTIONS)) + r")\b", r"\\\1 ", tex)
    tex = re.sub(r"(?<![\\\w])([a-z]{3,})(?=\()", r"\\operatorname{\1}", tex)  # diag(, softplus(
    return tex.replace(" (", "(").replace(" ^", "^").replace(" _", "_").rstrip()


def to_tex(text: str) -> str:
    """TeX for one plain-text formula; runs of English words become ``\\text{...}``."""
    pieces: list[tuple[bool, str]] = []  # (is text, content)
    tokens = text.split()
    for k, token in enumerate(tokens):
        # "a" is a variable, except between words: "it is a separate part", "(a fixed function"
        word = _is_word(token) or (token.lstrip("(") == "a" and k + 1 < len(tokens)
                                   and _is_word(tokens[k + 1])
                                   and (token == "(a" or bool(pieces) and pieces[-1][0]))
        if pieces and pieces[-1][0] and word:
            pieces[-1] = (True, pieces[-1][1] + " " + token)
        else:
            pieces.append((word, token))
    out = []
    for k, (word, content) in enumerate(pieces):
        if word:
            before = " " if k > 0 else ""
            after = " " if k < len(pieces) - 1 else ""
            out.append(r"\text{" + before + content.translate(_SPECIAL) + after + "}")
        else:
            out.append(_math_token(content))
    return " ".join(out)


def is_equation(line: str) -> bool:
    """A line in the docstrings' equation notation, not code and not prose."""
    body = _TAG.sub("", line.strip())
    if not body or _CODE.search(body) or not _MATH_SIGNAL.search(body):
        return False
    if body[0] in "+-−⊙·":
        return True  # a continuation line
    at = _top_level_equals(body)
    if at is None:
        return False
    lhs = body[:at].split()
    return 0 < len(lhs) <= 2 and not any(_is_word(token) for token in lhs)


def _row(line: str) -> str:
    body = line.strip()
    tag = _TAG.match(body)
    body = re.sub(r"\s*(?<![=<>!:])=(?!=)\s*", " = ", _TAG.sub("", body))  # "dc     = ..."
    segments = re.split(r"\s{2,}", body)
    end_tag = _END_TAG.match(segments[-1]) if len(segments) > 1 else None
    if end_tag:
        segments.pop()
        tag = tag or end_tag
    comment = ""
    if len(segments) > 1 and _top_level_equals(segments[-1]) is None and all(
            _is_word(t) or not _MATH_SIGNAL.search(t) for t in segments[-1].split()[:1]):
        comment = segments.pop()
    parts = []
    for segment in segments:
        if all(_is_word(t) for t in segment.split()):
            parts.append(r"\text{" + segment.translate(_SPECIAL) + "}")
        else:
            parts.append(to_tex(segment))
    tex = r" \quad ".join(parts)
    at = _top_level_equals(tex)
    tex = tex[:at] + "&" + tex[at:] if at is not None else r"&\quad " + tex
    if comment:
        tex += r" && " + to_tex(comment) if not all(_is_word(t) for t in comment.split()) \
            else r" && \text{" + comment.translate(_SPECIAL) + "}"
    if tag:
        tex += r" \tag{" + tag["tag"] + "}"
    return tex


_RELATION = re.compile(r"(?<![=<>!:])=(?!=)|[←≤≥≈]|\\(?:leftarrow|le|ge|approx)(?![A-Za-z])")


def _top_level_equals(tex: str) -> int | None:
    """Where the first relation (=, ←, ≤, ≥, ≈) outside braces is, or None: the row's
    alignment point in TeX, the end of the left-hand side in plain text."""
    depth = 0
    for k, char in enumerate(tex):
        if char in "{}" and k and tex[k - 1] == "\\":
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0 and _RELATION.match(tex, k):
            return k
    return None


def _balanced(tex: str) -> bool:
    depth = 0
    for k, char in enumerate(tex):
        if char in "{}" and k and tex[k - 1] == "\\":
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def math_block(lines: list[str], indent: str) -> list[str] | None:
    """``lines`` (equations) as a ``.. math::`` block at ``indent``, or None if one is not."""
    if not lines or not all(is_equation(line) for line in lines) or is_equation(
            lines[0]) and lines[0].strip()[0] in "+-−⊙·":
        return None
    rows = [_row(line) for line in lines]
    if not all(_balanced(row) for row in rows):
        return None
    body = [indent + "   " + row + (r" \\" if k < len(rows) - 1 else "")
            for k, row in enumerate(rows)]
    return [indent + ".. math::", indent + "   :nowrap:", "",
            indent + r"   \begin{align}", *body, indent + r"   \end{align}", ""]


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip())


def equations_as_math(lines: list[str]) -> list[str]:
    """The docstring ``lines`` with every block of equations as a ``.. math::`` block.

    A block is a literal block (after a line ending in ``::``) or a paragraph (after a blank
    line, before a blank line) whose every line :func:`is_equation`; the line that opened a
    literal block keeps one colon ("Equations::" -> "Equations:"; a bare "::" goes).
    """
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.endswith("::") and not stripped.startswith(".."):
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            k = j
            while k < len(lines) and (not lines[k].strip()
                                      or _indent_of(lines[k]) > _indent_of(line)):
                k += 1
            block = [b for b in lines[j:k] if b.strip()]
            math = math_block(block, " " * _indent_of(line)) if j > i + 1 else None
            if math is not None:
                opener = line.rstrip()[:-1] if stripped != "::" else ""
                if opener.strip():
                    out += [opener, ""]
                out += math
                i = k
                continue
            out += lines[i:k]
            i = k
            continue
        # a paragraph of two or more equations, not the summary: the layers' equations
        starts_paragraph = stripped and i > 0 and not lines[i - 1].strip() and any(
            b.strip() for b in lines[:i])
        if starts_paragraph and not stripped.startswith((":", "..", "* ", "- ", ">>>")):
            k = i
            while k < len(lines) and lines[k].strip() and _indent_of(lines[k]) == _indent_of(line):
                k += 1
            ends = k == len(lines) or not lines[k].strip()
            math = math_block(lines[i:k], " " * _indent_of(line)) if ends and k - i >= 2 else None
            if math is not None:
                out += math
                i = k
                continue
        out.append(line)
        i += 1
    return out
