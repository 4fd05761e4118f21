// Writing widget: E (or a click) opens the editor; Escape leaves it and
// Ctrl+Enter submits from inside it. Outside the editor, 1-9 tick the
// checklist items. The counter shows the length the server will check
// (leading and trailing spaces do not count).
(function () {
  "use strict";
  function count() {
    var a = document.getElementById("answer"), c = document.getElementById("answer-count");
    if (!a || !c) return;
    var n = a.value.trim().length, min = parseInt(a.getAttribute("data-min") || "1", 10);
    c.textContent = String(n);
    c.classList.toggle("short", n < min);
  }
  document.addEventListener("input", function (e) { if (e.target && e.target.id === "answer") count(); });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var t = event.target;
    if (t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && /^(text|search|number)$/i.test(t.type)))) {
      if (event.key === "Escape") { event.preventDefault(); t.blur(); }
      return;
    }
    var a = document.getElementById("answer");
    if (!a) return;
    if (event.key === "e" || event.key === "E") {
      event.preventDefault();
      a.focus();
      return;
    }
    if (/^[1-9]$/.test(event.key)) {
      var box = document.querySelector("#checklist input[data-key='" + event.key + "']");
      if (box) { event.preventDefault(); box.checked = !box.checked; }
    }
  });
  document.addEventListener("htmx:afterSwap", count);
  count();
})();
