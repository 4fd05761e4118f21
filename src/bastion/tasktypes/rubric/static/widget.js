// Rubric widget: one criterion is current (highlighted). A grade's key grades
// it and moves on to the next; Up/Down (or K/J) change the current criterion;
// C writes its comment (Escape leaves the comment, Enter inside it submits
// only with Ctrl).
(function () {
  "use strict";
  function criteria() { return Array.prototype.slice.call(document.querySelectorAll("#rubric .criterion")); }
  function current() { return document.querySelector("#rubric .criterion.current"); }
  function setCurrent(el) {
    criteria().forEach(function (c) { c.classList.toggle("current", c === el); });
    if (el) el.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("click", function (e) {
    var c = e.target && e.target.closest ? e.target.closest("#rubric .criterion") : null;
    if (c) setCurrent(c);
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var t = event.target;
    if (t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && /^(text|search|number)$/i.test(t.type)))) {
      if (event.key === "Escape") { event.preventDefault(); t.blur(); }
      return;
    }
    if (!document.getElementById("rubric")) return;
    var list = criteria(), cur = current(), at = list.indexOf(cur), key = event.key;
    if (key === "ArrowDown" || key === "ArrowUp" || key === "j" || key === "k") {
      event.preventDefault();
      setCurrent(list[key === "ArrowUp" || key === "k" ? Math.max(0, at - 1) : Math.min(list.length - 1, at + 1)]);
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
    if (at + 1 < list.length) setCurrent(list[at + 1]);
  });
})();
