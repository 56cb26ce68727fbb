/* Search result snippets without raw TeX (issue 17).

   Sphinx's search page shows, under each hit, a snippet of the page's text. It takes that text
   from the page's HTML, where MathJax has not run, so a formula reads "\(h_t = \tanh(W x_t ...)\)".
   Before Sphinx turns a page into text (Search.htmlToText), each formula (MyST and Sphinx mark
   them with the class "math") is replaced by a plain reading of its TeX: h_t = tanh(W x_t ...),
   σ for \sigma, ⊙ for \odot, subscripts written with Unicode where they exist. */
(function () {
  "use strict";

  var SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ",
    eta: "η", theta: "θ", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π",
    rho: "ρ", sigma: "σ", tau: "τ", phi: "φ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω",
    Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ", Pi: "Π", Sigma: "Σ", Phi: "Φ", Psi: "Ψ",
    Omega: "Ω", odot: "⊙", otimes: "⊗", oplus: "⊕", cdot: "·", times: "×", partial: "∂",
    nabla: "∇", sum: "Σ", prod: "Π", infty: "∞", le: "≤", leq: "≤", ge: "≥", geq: "≥",
    ne: "≠", neq: "≠", approx: "≈", sim: "~", propto: "∝", to: "→", rightarrow: "→",
    leftarrow: "←", Rightarrow: "⇒", mapsto: "↦", in: "∈", top: "T", ldots: "…", cdots: "…",
    dots: "…", pm: "±", mp: "∓", sqrt: "√", lVert: "‖", rVert: "‖", Vert: "‖", lvert: "|",
    rvert: "|", mid: "|", langle: "⟨", rangle: "⟩", circ: "∘", forall: "∀", exists: "∃",
    ell: "ℓ", log: "log", exp: "exp", tanh: "tanh", max: "max", min: "min", det: "det",
    sin: "sin", cos: "cos", lim: "lim", arg: "arg", quad: " ", qquad: " ",
  };
  var SUB = { "0": "₀", "1": "₁", "2": "₂", "3": "₃", "4": "₄", "5": "₅", "6": "₆", "7": "₇",
    "8": "₈", "9": "₉", "+": "₊", "-": "₋", "=": "₌", "(": "₍", ")": "₎", a: "ₐ", e: "ₑ",
    h: "ₕ", i: "ᵢ", j: "ⱼ", k: "ₖ", l: "ₗ", m: "ₘ", n: "ₙ", o: "ₒ", p: "ₚ", r: "ᵣ", s: "ₛ",
    t: "ₜ", u: "ᵤ", v: "ᵥ", x: "ₓ" };
  var SUP = { "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷",
    "8": "⁸", "9": "⁹", "+": "⁺", "-": "⁻", "=": "⁼", "(": "⁽", ")": "⁾", n: "ⁿ", i: "ⁱ",
    T: "ᵀ", "⊤": "ᵀ" };

  function script(text, table, mark) {
    var chars = Array.from(text.replace(/\s+/g, ""));
    if (chars.length && chars.every(function (c) { return table[c]; })) {
      return chars.map(function (c) { return table[c]; }).join("");
    }
    return mark + (chars.length > 1 ? "(" + text + ")" : text);
  }

  /* A plain-text reading of a TeX formula: no backslash, brace or dollar sign is left. */
  function texToText(tex) {
    var s = tex.trim()
      .replace(/^\$\$?|\$\$?$/g, "").replace(/^\\[([]|\\[)\]]$/g, "")
      .replace(/\\(begin|end)\{[^}]*\}/g, " ")
      .replace(/\\(label|tag)\{[^}]*\}/g, "")
      .replace(/\\\\|&/g, " ")
      .replace(/\\(left|right|big|Big|bigg|Bigg)\b\\?/g, "")
      .replace(/\\[,;:! ]/g, " ")
      .replace(/\\([A-Za-z]+)/g, function (m, name) {
        return Object.prototype.hasOwnProperty.call(SYMBOLS, name) ? SYMBOLS[name] : m;
      });
    var previous;
    do {  // innermost groups first: \frac{a}{b}, accents, fonts and text
      previous = s;
      s = s.replace(/\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}/g, "($1)/($2)")
        .replace(/\\(?:tilde|widetilde)\{([^{}]*)\}/g, "$1\u0303")
        .replace(/\\(?:hat|widehat)\{([^{}]*)\}/g, "$1\u0302")
        .replace(/\\(?:bar|overline)\{([^{}]*)\}/g, "$1\u0304")
        .replace(/\\(?:mathrm|mathbf|mathit|mathsf|mathtt|mathcal|mathbb|boldsymbol|text|textrm|textit|textbf|operatorname|mbox)\{([^{}]*)\}/g, "$1")
        .replace(/_\{([^{}]*)\}/g, function (m, g) { return script(g, SUB, "_"); })
        .replace(/\^\{([^{}]*)\}/g, function (m, g) { return script(g, SUP, "^"); });
    } while (s !== previous);
    s = s.replace(/\\([A-Za-z]+)/g, "$1")
      .replace(/\\(.)/g, "$1")
      .replace(/_([A-Za-z0-9])/g, function (m, c) { return script(c, SUB, "_"); })
      .replace(/\^([A-Za-z0-9])/g, function (m, c) { return script(c, SUP, "^"); })
      .replace(/[{}$]/g, "")
      .replace(/\s+/g, " ");
    return s.trim();
  }

  function patch() {
    if (typeof Search === "undefined" || !Search.htmlToText || Search.htmlToText.texFree) {
      return;
    }
    var original = Search.htmlToText;
    Search.htmlToText = function (htmlString, anchor) {
      var doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc.querySelectorAll(".math").forEach(function (el) {
        el.textContent = " " + texToText(el.textContent) + " ";
      });
      return original(doc.documentElement.outerHTML, anchor);
    };
    Search.htmlToText.texFree = true;
  }

  window.lstmBookTexToText = texToText;  // for tests/test_browser.py
  patch();
  document.addEventListener("DOMContentLoaded", patch);
})();
