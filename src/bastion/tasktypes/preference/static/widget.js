// Preference widget: A / B choose the better response (as shown: A left),
// T a tie, 1 2 3 the strength (slight, clear, strong), R writes the
// rationale (Escape leaves it; Ctrl+Enter submits from inside it).
// Criteria are radio rows: Tab to them, arrows to choose.
(function () {
  "use strict";
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
  document.addEventListener("htmx:afterSwap", mark);
  mark();
})();
