// The leak-tracing overlay: the person's id and the time, faint and tiled over the labelling page,
// so a screenshot or a photo of the screen names who took it (never over the task itself: the
// stylesheet layers the task's form and the instructions above it, so what is read stays clear). The server puts the text in
// data-overlay; this draws it as an SVG tile (a data: image, which the CSP allows) through the
// CSSOM (no inline style attribute, no inline script). Re-drawn when htmx swaps in the next task.
(function () {
  "use strict";

  function escapeXml(text) {
    return text.replace(/[<>&"']/g, function (c) {
      return { "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" }[c];
    });
  }

  function draw() {
    var el = document.querySelector(".overlay[data-overlay]");
    if (!el || el.dataset.drawn === "1") return;
    var text = escapeXml(el.getAttribute("data-overlay") || "");
    // The page's text colour (bastion.css sets it per colour scheme), so the tile shows on light and dark.
    var fill = escapeXml(getComputedStyle(el).color || "#000");
    var svg = '<svg xmlns="http://www.w3.org/2000/svg" width="420" height="180">' +
      '<text x="10" y="110" transform="rotate(-18 210 90)" font-family="sans-serif" font-size="15" fill="' + fill + '">' +
      text + "</text></svg>";
    el.style.backgroundImage = 'url("data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg) + '")';
    el.dataset.drawn = "1";
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSwap", draw);
  if (document.readyState !== "loading") draw();
})();
