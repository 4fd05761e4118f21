// Rubric widget: one criterion is current (highlighted). A grade's key grades
// it and moves on to the next; Up/Down (or K/J) change the current criterion;
// C writes its comment (Escape leaves the comment, Enter inside it submits
// only with Ctrl). Keys and clicks go to the live widget only
// (window.BastionWidgets, static/bastion.js): never to a read-only one.
(function () {
  "use strict";
  var WIDGETS = window.BastionWidgets;
  function criteria(root) { return Array.prototype.slice.call(root.querySelectorAll(".rubric .criterion")); }
  function current(root) { return root.querySelector(".rubric .criterion.current"); }
  function setCurrent(root, el) {
    criteria(root).forEach(function (c) { c.classList.toggle("current", c === el); });
    if (el) el.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("click", function (e) {
    var c = e.target && e.target.closest ? e.target.closest(".rubric .criterion") : null;
    var root = c && c.closest('.widget[data-widget="rubric"]');
    if (root && WIDGETS.live(root)) setCurrent(root, c);
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var t = event.target;
    if (t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && /^(text|search|number)$/i.test(t.type)))) {
      if (event.key === "Escape") { event.preventDefault(); t.blur(); }
      return;
    }
    var root = WIDGETS.active("rubric");
    if (!root) return;
    var list = criteria(root), cur = current(root), at = list.indexOf(cur), key = event.key;
    if (key === "ArrowDown" || key === "ArrowUp" || key === "j" || key === "k") {
      event.preventDefault();
      setCurrent(root, list[key === "ArrowUp" || key === "k" ? Math.max(0, at - 1) : Math.min(list.length - 1, at + 1)]);
      return;
    }
    if (!cur) return;
    if (key === "c" || key === "C") {
      var box = cur.querySelector("input.comment");
      if (box) { event.preventDefault(); box.focus(); }
      return;
    }
    if (!/^[0-9]$/.test(key)) return;
    var input = cur.querySelector("input[data-key='" + key + "']");
    if (!input) return;
    event.preventDefault();
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    if (at + 1 < list.length) setCurrent(root, list[at + 1]);
  });
})();
