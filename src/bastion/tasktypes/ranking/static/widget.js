// Ranking widget: the card list is the ranking, best first.
// Keys: a card's number places it next (press them in order of preference);
// "=" ties the last placed card with the one before it; Backspace starts over (with
// nothing placed yet it is the page's: undo the last answer);
// Up/Down (or K/J) move the focus; Alt+Up/Down move the focused card.
// Cards can be dragged. Every change writes the ranks into the per-response
// <select name="rank_<index>"> fields, which are what the form submits (and
// what a page without JavaScript uses directly).
(function () {
  "use strict";
  var WIDGETS = window.BastionWidgets;

  // Every instance is ordered by its ranks; only the live one (WIDGETS.live) takes keys and drags.
  function init() {
    WIDGETS.roots("ranking").forEach(setUp);
  }

  function setUp(widget) {
    var list = widget.querySelector(".ranking");
    if (!list || list.getAttribute("data-ready")) return;
    list.setAttribute("data-ready", "1");
    var r = { widget: widget, list: list, allowTies: list.getAttribute("data-allow-ties") === "true", placed: 0, tied: new Set(), touched: false, focus: null, drag: null };
    widget.bastionRanking = r;
    function live() { return WIDGETS.live(widget); }
    cards(r).forEach(function (card) {
      card.addEventListener("dragstart", function (e) {
        if (!live()) { e.preventDefault(); return; }
        r.drag = card; card.classList.add("dragging"); e.dataTransfer.effectAllowed = "move"; e.dataTransfer.setData("text/plain", card.getAttribute("data-number"));
      });
      card.addEventListener("dragend", function () { card.classList.remove("dragging"); r.drag = null; });
      card.addEventListener("dragover", function (e) {
        if (!r.drag || r.drag === card) return;
        e.preventDefault();
        var box = card.getBoundingClientRect();
        list.insertBefore(r.drag, e.clientY < box.top + box.height / 2 ? card : card.nextSibling);
      });
      card.addEventListener("drop", function (e) { if (!r.drag) return; e.preventDefault(); r.touched = true; r.tied.clear(); sync(r); });
      card.addEventListener("click", function (e) { if (live() && e.target.tagName !== "SELECT" && e.target.tagName !== "OPTION") focusCard(r, card); });
      card.querySelector("select").addEventListener("change", function () { fromSelects(r); });
    });
    fromSelects(r);
  }

  function cards(r) { return Array.prototype.slice.call(r.list.querySelectorAll(".rank-card")); }
  function ordinal(k) { return k + (k % 10 === 1 && k !== 11 ? "st" : k % 10 === 2 && k !== 12 ? "nd" : k % 10 === 3 && k !== 13 ? "rd" : "th"); }

  function ranks(r) { // rank per card in list order (dense, ties share)
    var out = [], rank = 0;
    cards(r).forEach(function (card, p) {
      if (p === 0 || !r.tied.has(card)) rank += 1;
      out.push(rank);
    });
    return out;
  }

  function sync(r) {
    var list = cards(r), rk = ranks(r);
    list.forEach(function (card, p) {
      card.querySelector("select").value = r.touched ? String(rk[p]) : "";
      card.querySelector(".rank-place").textContent = r.touched ? ordinal(rk[p]) + (r.tied.has(card) && p > 0 ? " (tie)" : "") : (p < r.placed ? ordinal(p + 1) + "…" : "");
      card.classList.toggle("placed", p < r.placed);
      card.classList.toggle("tied", r.tied.has(card) && p > 0);
    });
  }

  function fromSelects(r) { // the selects are complete: order the cards by them
    var list = cards(r);
    var values = list.map(function (c) { return parseInt(c.querySelector("select").value, 10); });
    if (values.some(isNaN)) return;
    var sorted = list.map(function (c, p) { return [values[p], p, c]; }).sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    r.tied.clear();
    sorted.forEach(function (entry, p) {
      r.list.appendChild(entry[2]);
      if (p > 0 && sorted[p - 1][0] === entry[0]) r.tied.add(entry[2]);
    });
    r.touched = true;
    sync(r);
  }

  function focusCard(r, card) {
    cards(r).forEach(function (c) { c.classList.toggle("focused", c === card); });
    r.focus = card;
    if (card) card.focus({ preventScroll: false });
  }

  function place(r, card) {
    var list = cards(r);
    if (r.placed >= list.length) { r.placed = 0; r.tied.clear(); }
    var at = list.indexOf(card);
    if (at < r.placed) return; // already placed in this round
    r.list.insertBefore(card, list[r.placed]);
    r.tied.delete(card);
    r.placed += 1;
    if (r.placed >= list.length - 1) { r.placed = list.length; r.touched = true; }
    focusCard(r, card);
    sync(r);
  }

  document.addEventListener("keydown", function (event) {
    var live = WIDGETS.active("ranking");
    var r = live && live.bastionRanking;
    if (!r) return;
    if (event.ctrlKey || event.metaKey || event.defaultPrevented) return;
    var t = event.target, key = event.key;
    // The rank menus are the widget's own: the placing keys work from them too
    // (the browser focuses one when a submit finds a response unranked).
    var inMenu = t && t.tagName === "SELECT" && r.list.contains(t);
    if (inMenu && !/^[1-9=]$/.test(key) && key !== "Backspace") return;
    if (!inMenu && t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || (t.tagName === "INPUT" && t.type !== "hidden"))) return;
    var list = cards(r);
    var at = r.focus ? list.indexOf(r.focus) : -1;
    if (event.altKey) {
      if ((key === "ArrowUp" || key === "ArrowDown") && r.focus) {
        event.preventDefault();
        var to = key === "ArrowUp" ? at - 1 : at + 1;
        if (to < 0 || to >= list.length) return;
        r.list.insertBefore(r.focus, key === "ArrowUp" ? list[to] : list[to].nextSibling);
        r.touched = true;
        r.tied.delete(r.focus);
        sync(r);
        r.focus.focus();
      }
      return;
    }
    if (key === "ArrowUp" || key === "ArrowDown" || key === "k" || key === "j") {
      event.preventDefault();
      var next = key === "ArrowUp" || key === "k" ? Math.max(0, at - 1) : Math.min(list.length - 1, at + 1);
      focusCard(r, list[next]);
      return;
    }
    if (key === "Backspace") {
      if (!r.placed && !r.touched && !r.tied.size) return;  // nothing to start over: the page's undo
      event.preventDefault();
      r.placed = 0; r.touched = false; r.tied.clear();
      sync(r);
      return;
    }
    if (key === "=" && r.allowTies) {
      event.preventDefault();
      var last = r.placed > 0 ? list[Math.min(r.placed, list.length) - 1] : r.focus;
      if (last && list.indexOf(last) > 0) {
        if (r.tied.has(last)) r.tied.delete(last); else r.tied.add(last);
        sync(r);
      }
      return;
    }
    if (/^[1-9]$/.test(key)) {
      var card = r.list.querySelector(".rank-card[data-number='" + key + "']");
      if (card) { event.preventDefault(); place(r, card); }
    }
  });

  init();
  document.addEventListener("htmx:afterSwap", init);
})();
