// Classification widget: a label's hotkey (1-9, 0, or the key set in the config)
// selects it (toggles it when several labels may be chosen). Choosing "other"
// moves the focus to its free-text field; Escape leaves the field. Keys go to the
// live widget only (window.BastionWidgets, static/bastion.js): never to a read-only one.
(function () {
  "use strict";
  function typing(t) {
    return t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && /^(text|search|email|password|number)$/i.test(t.type)));
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var t = event.target;
    if (typing(t)) {
      if (event.key === "Escape") { t.blur(); event.preventDefault(); }
      return;
    }
    var root = window.BastionWidgets.active("classification");
    if (!root) return;
    var key = event.key.length === 1 ? event.key.toLowerCase() : "";
    if (!key) return;
    var inputs = root.querySelectorAll("input[data-hotkey]");
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i].getAttribute("data-hotkey").toLowerCase() === key) {
        event.preventDefault();
        var input = inputs[i];
        input.checked = input.type === "checkbox" ? !input.checked : true;
        input.dispatchEvent(new Event("change", { bubbles: true }));
        if (input.classList.contains("other-choice") && input.checked) {
          var text = root.querySelector(".other-text-input");
          if (text) text.focus();
        }
        return;
      }
    }
  });
})();
