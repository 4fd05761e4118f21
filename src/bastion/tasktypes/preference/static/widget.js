// Preference widget: A / B choose the better response (as shown: A left),
// T a tie, 1 2 3 the strength (slight, clear, strong), R writes the
// rationale (Escape leaves it; Ctrl+Enter submits from inside it).
// Criteria: Shift+A / Shift+T / Shift+B answer the highlighted criterion and move
// to the next (the highlight starts on the first unanswered one; a click answers
// any row and moves it on too); they are radio rows for Tab and arrows as well.
(function () {
  "use strict";
  var CRITERION = { A: "A", T: "tie", B: "B" };

  function criteriaRows() {
    var table = document.getElementById("criteria");
    return table ? Array.prototype.slice.call(table.querySelectorAll("tbody tr")) : [];
  }
  function firstOpen(rows) {
    for (var i = 0; i < rows.length; i++) if (!rows[i].querySelector("input:checked")) return i;
    return -1;
  }
  function current(rows) {
    var table = document.getElementById("criteria");
    var at = table ? table.getAttribute("data-current") : null;
    return at === null ? firstOpen(rows) : parseInt(at, 10);
  }
  function highlight(at) {
    var table = document.getElementById("criteria");
    if (!table) return;
    var rows = criteriaRows();
    table.setAttribute("data-current", String(at));
    rows.forEach(function (row, i) { row.classList.toggle("current", i === at); });
  }
  function moveOn(rows, answered) {  // the next row, else the first still open, else none
    highlight(answered + 1 < rows.length ? answered + 1 : firstOpen(rows));
  }
  function typing(t) {
    return t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || (t.tagName === "INPUT" && /^(text|search|email|number)$/i.test(t.type)));
  }
  function mark() {
    var form = document.getElementById("label-form");
    if (!form) return;
    var checked = form.querySelector("input[name=choice]:checked");
    ["A", "B"].forEach(function (letter) {
      var box = document.getElementById("response-" + letter);
      if (box) box.classList.toggle("preferred", !!checked && checked.value === letter);
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target && event.target.name === "choice") mark();
    var row = event.target && event.target.closest ? event.target.closest("#criteria tbody tr") : null;
    if (row) { var rows = criteriaRows(); moveOn(rows, rows.indexOf(row)); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var t = event.target;
    if (typing(t)) {
      if (event.key === "Escape") { event.preventDefault(); t.blur(); }
      return;
    }
    var form = document.getElementById("label-form");
    if (!form || !document.getElementById("pair")) return;
    if (event.shiftKey) {
      var value = CRITERION[event.key.toUpperCase()];
      var rows = criteriaRows();
      if (!value || !rows.length) return;
      event.preventDefault();
      var at = current(rows);
      if (at < 0) at = 0;  // every criterion answered: start again from the top
      var input = rows[at].querySelector("input[value='" + value + "']");
      input.checked = true;
      input.dispatchEvent(new Event("change", { bubbles: true }));  // moves the highlight on
      return;
    }
    var key = event.key.length === 1 ? event.key.toLowerCase() : "";
    if (!/^[a-z0-9]$/.test(key)) return;
    if (key === "r") {
      var r = document.getElementById("rationale");
      if (r) { event.preventDefault(); r.focus(); }
      return;
    }
    var input = form.querySelector("#choice input[data-key='" + key + "'], #strength input[data-key='" + key + "']");
    if (!input) return;
    event.preventDefault();
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });
  function ready() { mark(); var rows = criteriaRows(); if (rows.length) highlight(firstOpen(rows)); }
  document.addEventListener("htmx:afterSwap", ready);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready); else ready();
})();
