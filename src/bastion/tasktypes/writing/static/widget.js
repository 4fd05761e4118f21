// Writing widget: E (or a click) opens the editor; Escape leaves it and
// Ctrl+Enter submits from inside it. Outside the editor, 1-9 tick the
// checklist items. The counter shows the length the server will check
// (leading and trailing spaces do not count). Keys go to the live widget only
// (window.BastionWidgets, static/bastion.js): never to a read-only one.
(function () {
  "use strict";
  var WIDGETS = window.BastionWidgets;
  function count(root) {
    var a = root.querySelector(".writing-answer"), c = root.querySelector(".writing-counter");
    if (!a || !c) return;
    var n = a.value.trim().length, min = parseInt(a.getAttribute("data-min") || "1", 10);
    c.textContent = String(n);
    c.classList.toggle("short", n < min);
  }
  function countAll() { WIDGETS.roots("writing").forEach(count); }
  document.addEventListener("input", function (e) {
    var root = e.target && e.target.classList && e.target.classList.contains("writing-answer") ? e.target.closest(".widget") : null;
    if (root) count(root);
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var t = event.target;
    if (t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && /^(text|search|number)$/i.test(t.type)))) {
      if (event.key === "Escape") { event.preventDefault(); t.blur(); }
      return;
    }
    var root = WIDGETS.active("writing");
    var a = root && root.querySelector(".writing-answer");
    if (!a) return;
    if (event.key === "e" || event.key === "E") {
      event.preventDefault();
      a.focus();
      return;
    }
    if (/^[1-9]$/.test(event.key)) {
      var box = root.querySelector(".checklist input[data-key='" + event.key + "']");
      if (box) { event.preventDefault(); box.checked = !box.checked; }
    }
  });
  document.addEventListener("htmx:afterSwap", countAll);
  countAll();
})();
