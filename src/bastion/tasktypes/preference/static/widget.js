// Preference widget: A / B choose the better response (as shown: A left),
// T a tie, 1 2 3 the strength (slight, clear, strong), R writes the
// rationale (Escape leaves it; Ctrl+Enter submits from inside it).
// Criteria are radio rows: Tab to them, arrows to choose. Keys go to the live
// widget only (window.BastionWidgets, static/bastion.js): never to a read-only one.
(function () {
  "use strict";
  var WIDGETS = window.BastionWidgets;
  function typing(t) {
    return t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || (t.tagName === "INPUT" && /^(text|search|email|number)$/i.test(t.type)));
  }
  function mark(root) {
    var checked = root.querySelector("input[name=choice]:checked");
    root.querySelectorAll(".response[data-letter]").forEach(function (box) {
      box.classList.toggle("preferred", !!checked && checked.value === box.getAttribute("data-letter"));
    });
  }
  function markAll() { WIDGETS.roots("preference").forEach(mark); }
  document.addEventListener("change", function (event) {
    var root = event.target && event.target.closest ? event.target.closest('.widget[data-widget="preference"]') : null;
    if (root && event.target.name === "choice") mark(root);
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var t = event.target;
    if (typing(t)) {
      if (event.key === "Escape") { event.preventDefault(); t.blur(); }
      return;
    }
    var root = WIDGETS.active("preference");
    if (!root) return;
    var key = event.key.length === 1 ? event.key.toLowerCase() : "";
    if (!/^[a-z0-9]$/.test(key)) return;
    if (key === "r") {
      var r = root.querySelector(".pref-rationale");
      if (r) { event.preventDefault(); r.focus(); }
      return;
    }
    var input = root.querySelector(".pref-choice input[data-key='" + key + "'], .pref-strength input[data-key='" + key + "']");
    if (!input) return;
    event.preventDefault();
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });
  document.addEventListener("htmx:afterSwap", markAll);
  markAll();
})();
