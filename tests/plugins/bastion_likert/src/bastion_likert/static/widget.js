// Likert widget: a point's number selects it; the left and right arrows move the
// choice along the scale. Enter submits the form (the page's own key).
(function () {
  "use strict";
  function points() {
    var form = document.getElementById("label-form");
    return form ? form.querySelectorAll("input[data-point]") : [];
  }
  function choose(input) {
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var t = event.target;
    if (t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && t.type === "text"))) return;
    var inputs = points();
    if (!inputs.length) return;
    if (/^[1-9]$/.test(event.key)) {
      for (var i = 0; i < inputs.length; i++) {
        if (inputs[i].getAttribute("data-point") === event.key) { event.preventDefault(); choose(inputs[i]); return; }
      }
      return;
    }
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    var at = -1;
    for (var j = 0; j < inputs.length; j++) { if (inputs[j].checked) at = j; }
    var next = event.key === "ArrowRight" ? Math.min(inputs.length - 1, at + 1) : Math.max(0, at < 0 ? 0 : at - 1);
    event.preventDefault();
    choose(inputs[next]);
  });
})();
