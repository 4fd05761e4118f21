// Review page: A / R / C choose accept, reject or correct (R and C move to the text
// they need); Enter submits (Ctrl+Enter inside a text field), as on the labelling page. Where
// nothing is held yet, Enter presses Start (leasing is a form POST: a link never leases).
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var t = event.target;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" && t.type === "text")) return;
    var form = document.getElementById("review-form");
    if (!form) {
      var start = document.getElementById("review-start");
      if (start && event.key === "Enter" && !(t && (t.tagName === "A" || t.tagName === "BUTTON"))) {
        event.preventDefault();
        start.requestSubmit();
      }
      return;
    }
    var key = event.key.length === 1 ? event.key.toLowerCase() : "";
    var input = key && form.querySelector("input[data-hotkey='" + key + "']");
    if (input) {
      event.preventDefault();
      input.checked = true;
      if (key === "r") document.getElementById("review-comment").focus();
      if (key === "c") document.getElementById("review-correction").focus();
      return;
    }
    if (event.key === "Enter") { event.preventDefault(); form.requestSubmit(); }
  });
  document.addEventListener("keydown", function (event) {
    var t = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && t && t.tagName === "TEXTAREA") {
      var form = document.getElementById("review-form");
      if (form) { event.preventDefault(); form.requestSubmit(); }
    }
  });
})();
