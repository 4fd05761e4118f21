// Review page: A / R / C choose accept, reject or correct; Enter submits (Ctrl+Enter inside a text
// field), as on the labelling page. Where nothing is held yet, Enter presses Start (leasing is a
// form POST: a link never leases).
//
// The annotation under review is shown in its task type's widget, locked (a disabled
// fieldset.widget-lock: inert, not posted). Correct unlocks it — its own keys and mouse then
// edit it, and its fields are the correction the form posts; any other decision locks it again.
// While it is unlocked its keys come first: this listener sits on window, after the widget
// scripts' document listeners, and skips a key a widget took (defaultPrevented).
(function () {
  "use strict";
  function lock() {
    var form = document.getElementById("review-form");
    var widget = form && form.querySelector(".reviewed .widget");
    return widget ? widget.querySelector("fieldset.widget-lock") : null;
  }
  function sync(focus) {
    var form = document.getElementById("review-form");
    var fieldset = lock();
    if (!form || !fieldset) return;
    var chosen = form.querySelector("input[name=decision]:checked");
    var correcting = !!chosen && chosen.value === "correct";
    fieldset.disabled = !correcting;
    var help = document.getElementById("correct-help");
    if (help) help.classList.toggle("muted", !correcting);
    if (correcting && focus) {
      // The widget's own focus point: its chosen answer, its text to mark, else its first field.
      var wanted = ["input:checked:not([type=hidden])", "[tabindex='0']", "input:not([type=hidden]), select, textarea, button"];
      for (var i = 0; i < wanted.length; i++) {
        var first = fieldset.querySelector(wanted[i]);
        if (first) { first.focus({ preventScroll: false }); break; }
      }
    }
  }
  document.addEventListener("change", function (event) {
    if (event.target && event.target.name === "decision") sync(event.target.value === "correct");
  });
  document.addEventListener("htmx:afterSwap", function () { sync(false); });
  window.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var t = event.target;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.tagName === "INPUT" && /^(text|search|number|email)$/i.test(t.type))) return;
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
    var input = key && form.querySelector("#review-decision input[data-hotkey='" + key + "']");
    if (input) {
      event.preventDefault();
      input.checked = true;
      sync(key === "c");
      if (key === "r") document.getElementById("review-comment").focus();
      return;
    }
    if (event.key === "Enter" && !(t && (t.tagName === "A" || t.tagName === "BUTTON"))) { event.preventDefault(); form.requestSubmit(); }
  });
  document.addEventListener("keydown", function (event) {
    var t = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT")) {
      var form = document.getElementById("review-form");
      if (form && form.contains(t)) { event.preventDefault(); form.requestSubmit(); }
    }
  });
  sync(false);
})();
