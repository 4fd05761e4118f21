// Preference widget: A / B choose the better response (as shown: A left),
// T a tie, 1 2 3 the strength (slight, clear, strong), R writes the
// rationale (Escape leaves it; Ctrl+Enter submits from inside it).
// Criteria: Shift+A / Shift+T / Shift+B answer the highlighted criterion and move
// to the next (the highlight starts on the first unanswered one; a click answers
// any row and moves it on too); they are radio rows for Tab and arrows as well.
// Keys go to the live widget only (window.BastionWidgets, static/bastion.js): never
// to a read-only one.
(function () {
  "use strict";
  var WIDGETS = window.BastionWidgets;
  var CRITERION = { A: "A", T: "tie", B: "B" };

  function table(root) { return root.querySelector("table.criteria"); }
  function criteriaRows(root) {
    var t = table(root);
    return t ? Array.prototype.slice.call(t.querySelectorAll("tbody tr")) : [];
  }
  function firstOpen(rows) {
    for (var i = 0; i < rows.length; i++) if (!rows[i].querySelector("input:checked")) return i;
    return -1;
  }
  function current(root, rows) {
    var t = table(root);
    var at = t ? t.getAttribute("data-current") : null;
    return at === null ? firstOpen(rows) : parseInt(at, 10);
  }
  function highlight(root, at) {
    var t = table(root);
    if (!t) return;
    t.setAttribute("data-current", String(at));
    criteriaRows(root).forEach(function (row, i) { row.classList.toggle("current", i === at); });
  }
  function moveOn(root, rows, answered) {  // the next row, else the first still open, else none
    highlight(root, answered + 1 < rows.length ? answered + 1 : firstOpen(rows));
  }
  function typing(t) {
    return t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || (t.tagName === "INPUT" && /^(text|search|email|number)$/i.test(t.type)));
  }
  function mark(root) {
    var checked = root.querySelector("input[name=choice]:checked");
    root.querySelectorAll(".response[data-letter]").forEach(function (box) {
      box.classList.toggle("preferred", !!checked && checked.value === box.getAttribute("data-letter"));
    });
  }
  function ready() {
    WIDGETS.roots("preference").forEach(function (root) {
      mark(root);
      if (!WIDGETS.live(root)) return;
      var rows = criteriaRows(root);
      if (rows.length) highlight(root, firstOpen(rows));
    });
  }
  document.addEventListener("change", function (event) {
    var root = event.target && event.target.closest ? event.target.closest('.widget[data-widget="preference"]') : null;
    if (!root) return;
    if (event.target.name === "choice") mark(root);
    var row = event.target.closest("table.criteria tbody tr");
    if (row) { var rows = criteriaRows(root); moveOn(root, rows, rows.indexOf(row)); }
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
    if (event.shiftKey) {
      var value = CRITERION[event.key.toUpperCase()];
      var rows = criteriaRows(root);
      if (!value || !rows.length) return;
      event.preventDefault();
      var at = current(root, rows);
      if (at < 0) at = 0;  // every criterion answered: start again from the top
      var pick = rows[at].querySelector("input[value='" + value + "']");
      pick.checked = true;
      pick.dispatchEvent(new Event("change", { bubbles: true }));  // moves the highlight on
      return;
    }
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
  document.addEventListener("htmx:afterSwap", ready);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready); else ready();
})();
