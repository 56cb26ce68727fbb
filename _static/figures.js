/* Figures a reader can read on any screen (issue 17).

   The chapters' multi-panel figures are drawn 9 to 13 inches wide. Squeezed into the text column
   their legends and tick labels shrink to ~7 px. Two remedies, for the figures in cell outputs:

   * Wide figures widen into the page's right margin, over the page contents column, as the
     theme's "full-width" cells do (class wide-figure). This happens only on screens of 1200 px
     and more, where that margin exists, and a figure is never drawn wider than its own size.
   * Every figure shown smaller than its own size opens full size on a click or tap (or Enter).
     It opens in a dialog that scrolls in both directions; Escape, a click or the close button
     closes it. On a phone that is how the figure is read; a line under it says so. */
(function () {
  "use strict";

  var MARGIN_FROM = 1200;  // px: the theme shows the page contents column from this width
  var READABLE = 0.75;     // below this scale, 10-pt figure text is smaller than ~10 CSS px

  function naturalCssWidth(img) {
    // Jupyter writes the figure's size (before the "retina" doubling) into the style attribute
    var width = parseFloat(img.style.width) || parseFloat(img.getAttribute("width"));
    return width || img.naturalWidth;
  }

  function layout(img) {
    var output = img.closest("div.cell_output");
    var width = naturalCssWidth(img);
    if (!output || !width) {
      return;
    }
    output.classList.remove("wide-figure");
    output.style.width = "";
    var column = output.getBoundingClientRect();
    if (window.innerWidth >= MARGIN_FROM && width > column.width * 1.02) {
      var room = document.documentElement.clientWidth - column.left - 16;
      output.classList.add("wide-figure");
      output.style.width = Math.round(Math.min(width, room)) + "px";
    }
    var shown = img.getBoundingClientRect().width;
    img.classList.toggle("figure-zoomable", shown > 0 && shown < width * 0.98);
    output.classList.toggle("figure-shrunk", shown > 0 && shown < width * READABLE);
  }

  var dialog = null;

  function openFull(img) {
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.className = "figure-zoom";
      dialog.setAttribute("aria-label", "Figure, full size");
      dialog.innerHTML = '<button type="button" class="figure-zoom-close" ' +
        'aria-label="Close">×</button><img alt="">';
      dialog.addEventListener("click", function () { dialog.close(); });
      document.body.appendChild(dialog);
    }
    var full = dialog.querySelector("img");
    full.src = img.currentSrc || img.src;
    full.alt = img.alt;
    full.style.width = naturalCssWidth(img) + "px";
    dialog.showModal();
  }

  function setUp(img) {
    // Sphinx links a scaled image to its file (html_scaled_image_link): without this script a
    // click opens the bare PNG; with it the figure opens over the page instead
    img.addEventListener("click", function (event) {
      if (img.classList.contains("figure-zoomable")) {
        event.preventDefault();
        openFull(img);
      }
    });
    img.addEventListener("keydown", function (event) {
      if ((event.key === "Enter" || event.key === " ") && img.classList.contains("figure-zoomable")) {
        event.preventDefault();
        openFull(img);
      }
    });
    img.tabIndex = 0;
    img.title = "Click to see the figure full size";
    if (img.complete) { layout(img); } else { img.addEventListener("load", function () { layout(img); }); }
  }

  function images() {
    return Array.prototype.slice.call(document.querySelectorAll("div.cell_output img"));
  }

  document.addEventListener("DOMContentLoaded", function () {
    images().forEach(setUp);
    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () { images().forEach(layout); }, 100);
    });
  });
  window.addEventListener("load", function () { images().forEach(layout); });
})();
