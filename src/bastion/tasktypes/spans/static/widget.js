// Spans widget: mark entities in a text by character offsets.
//
// Keys: Right/Left select the next/previous word (Shift extends the selection),
// a label's key marks the selection (or relabels the clicked span), Delete or
// Backspace removes the span under the selection, Escape clears it. The mouse
// selects text as usual; clicking a marked span selects it.
//
// Offsets: the DOM counts UTF-16 units, results count code points (Python
// string indices); toCp/toU16 convert at the edges. The text is re-rendered
// only when spans change; moving the selection uses the browser's own
// selection, so long documents (50,000+ characters) stay responsive.
(function () {
  "use strict";

  var WIDGETS = window.BastionWidgets;
  var WORD = /[\p{L}\p{N}_]+(?:['\u2019.\-][\p{L}\p{N}_]+)*|\S/gu;

  // Every instance on the page (a labelling form, annotations side by side, a correction)
  // is drawn; only the live one (WIDGETS.live) takes keys, clicks and selections.
  function init() {
    WIDGETS.roots("spans").forEach(setUp);
  }

  function setUp(widget) {
    var root = widget.querySelector(".spans");
    if (!root || root.getAttribute("data-ready")) return;
    root.setAttribute("data-ready", "1");
    var text = JSON.parse(root.getAttribute("data-text"));
    var initial = JSON.parse(root.getAttribute("data-initial"));
    var part = function (cls) { return root.querySelector("." + cls); };
    var w = {
      widget: widget,
      root: root,
      text: text,
      el: part("span-text"),
      list: part("span-list"),
      count: part("span-count"),
      more: part("span-more"),
      status: part("span-status"),
      result: part("widget-result"),
      relFrom: part("rel-from"),
      relTo: part("rel-to"),
      relLabel: part("rel-label"),
      relList: part("rel-list"),
      allowOverlap: root.getAttribute("data-allow-overlap") === "true",
      differs: WIDGETS.differs(widget),
      labels: {},
      spans: [],
      relations: [],
      tokens: [],
      sel: null, // {anchor: token index, focus: token index} of the keyboard selection
      picked: null, // a span chosen by clicking
      segStarts: [],
      segNodes: [],
      u16: null,
    };
    widget.bastionSpans = w;
    root.querySelectorAll(".span-label").forEach(function (b) {
      w.labels[b.getAttribute("data-label")] = { color: b.getAttribute("data-color"), hotkey: (b.getAttribute("data-hotkey") || "").toLowerCase() };
    });
    // Code point <-> UTF-16 maps, only when the text has characters outside the BMP.
    if (/[\uD800-\uDFFF]/.test(text)) {
      w.u16 = [];
      for (var i = 0, cp = 0; i < text.length; cp++) {
        w.u16[cp] = i;
        var c = text.charCodeAt(i);
        i += c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
      }
      w.u16.push(text.length);
    }
    var m;
    WORD.lastIndex = 0;
    while ((m = WORD.exec(text)) !== null) w.tokens.push([m.index, m.index + m[0].length]);
    (initial.spans || []).forEach(function (s) {
      if (w.labels[s.label]) w.spans.push({ start: toU16(w, s.start), end: toU16(w, s.end), label: s.label });
    });
    sortSpans(w);
    var sorted = (initial.spans || []).filter(function (s) { return w.labels[s.label]; });
    (initial.relations || []).forEach(function (r) {
      var a = sorted[r.from], b = sorted[r.to];
      if (!a || !b) return;
      var sa = findSpan(w, toU16(w, a.start), toU16(w, a.end), a.label), sb = findSpan(w, toU16(w, b.start), toU16(w, b.end), b.label);
      if (sa && sb) w.relations.push({ from: sa, to: sb, label: r.label });
    });

    function live() { return WIDGETS.live(widget); }
    w.el.addEventListener("mouseup", function () { if (live()) fromDomSelection(w); });
    w.el.addEventListener("click", function (event) {
      if (!live()) return;
      var mark = event.target.closest ? event.target.closest("mark[data-span]") : null;
      var s = window.getSelection();
      if (mark && (!s || s.isCollapsed)) pick(w, w.spans[+mark.getAttribute("data-span")]);
    });
    root.querySelectorAll("button.span-label").forEach(function (b) {
      b.addEventListener("click", function () { if (live()) applyLabel(w, b.getAttribute("data-label")); });
    });
    w.list.addEventListener("scroll", function () { updateMore(w); });
    window.addEventListener("resize", function () { updateMore(w); });
    w.list.addEventListener("click", function (event) {
      if (!live()) return;
      var t = event.target;
      var li = t.closest ? t.closest("li[data-span]") : null;
      if (!li) return;
      var span = w.spans[+li.getAttribute("data-span")];
      if (t.classList.contains("span-remove")) removeSpans(w, [span]);
      else pick(w, span);
    });
    var add = part("rel-add");
    if (add) {
      add.addEventListener("click", function () {
        if (!live()) return;
        var a = w.spans[+w.relFrom.value], b = w.spans[+w.relTo.value];
        var label = w.relLabel.value;
        if (!a || !b || a === b) { say(w, "Choose two different spans to relate."); return; }
        if (!w.relations.some(function (r) { return r.from === a && r.to === b && r.label === label; })) w.relations.push({ from: a, to: b, label: label });
        renderLists(w); save(w);
      });
    }
    if (w.relList) {
      w.relList.addEventListener("click", function (event) {
        if (!live()) return;
        var li = event.target.closest ? event.target.closest("li[data-rel]") : null;
        if (li && event.target.classList.contains("rel-remove")) {
          w.relations.splice(+li.getAttribute("data-rel"), 1);
          renderLists(w); save(w);
        }
      });
    }
    render(w);
    save(w);
  }

  function keyOf(w, s) { return "span:" + toCp(w, s.start) + ":" + toCp(w, s.end) + ":" + s.label; }
  function differs(w, s) { return w.differs.indexOf(keyOf(w, s)) >= 0; }

  function toU16(w, cp) { return w.u16 ? w.u16[Math.max(0, Math.min(cp, w.u16.length - 1))] : cp; }
  function toCp(w, u) {
    if (!w.u16) return u;
    var lo = 0, hi = w.u16.length - 1;
    while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (w.u16[mid] <= u) lo = mid; else hi = mid - 1; }
    return lo;
  }
  function sortSpans(w) {
    w.spans.sort(function (a, b) { return a.start - b.start || a.end - b.end || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0); });
  }
  function findSpan(w, start, end, label) {
    for (var i = 0; i < w.spans.length; i++) {
      var s = w.spans[i];
      if (s.start === start && s.end === end && s.label === label) return s;
    }
    return null;
  }
  function say(w, message) { w.status.textContent = message; }

  // -- rendering -------------------------------------------------------------

  function render(w) {
    var text = w.text, spans = w.spans;
    var cuts = [0, text.length];
    spans.forEach(function (s) { cuts.push(s.start, s.end); });
    cuts.sort(function (a, b) { return a - b; });
    var frag = document.createDocumentFragment();
    w.segStarts = [];
    w.segNodes = [];
    var active = [], next = 0; // spans sorted by start: a sweep over the cuts
    for (var i = 0; i + 1 < cuts.length; i++) {
      var a = cuts[i], b = cuts[i + 1];
      if (a === b) continue;
      while (next < spans.length && spans[next].start <= a) active.push(spans[next++]);
      active = active.filter(function (s) { return s.end > a; });
      var node;
      if (active.length) {
        var inner = active[0];
        active.forEach(function (s) { if (s.end - s.start < inner.end - inner.start) inner = s; });
        node = document.createElement("mark");
        node.className = "sp sp-c" + w.labels[inner.label].color + (active.length > 1 ? " sp-overlap" : "") + (active.indexOf(w.picked) >= 0 ? " sp-picked" : "") +
          (active.some(function (s) { return differs(w, s); }) ? " sp-differs" : "");
        node.setAttribute("data-span", String(spans.indexOf(inner)));
        node.title = active.map(function (s) { return s.label; }).join(" + ");
        node.textContent = text.slice(a, b);
      } else {
        node = document.createTextNode(text.slice(a, b));
      }
      w.segStarts.push(a);
      w.segNodes.push(node);
      frag.appendChild(node);
    }
    w.el.textContent = "";
    w.el.appendChild(frag);
    renderLists(w);
  }

  function excerpt(w, s) {
    var t = w.text.slice(s.start, s.end);
    return t.length > 60 ? t.slice(0, 57) + "…" : t;
  }

  function renderLists(w) {
    var list = w.list;
    list.textContent = "";
    w.spans.forEach(function (s, i) {
      var li = document.createElement("li");
      li.setAttribute("data-span", String(i));
      li.className = (s === w.picked ? "picked" : "") + (differs(w, s) ? " differs" : "");
      var tag = document.createElement("span");
      tag.className = "span-tag sp-c" + w.labels[s.label].color;
      tag.textContent = s.label;
      var quote = document.createElement("q");
      quote.textContent = excerpt(w, s);
      var rm = document.createElement("button");
      rm.type = "button";
      rm.className = "link span-remove";
      rm.textContent = "remove";
      li.append(tag, " ", quote);
      if (w.widget.getAttribute("data-mode") !== "read") li.append(" ", rm);
      list.appendChild(li);
    });
    w.count.textContent = "(" + w.spans.length + ")";
    updateMore(w);
    if (!w.relList) return;
    [w.relFrom, w.relTo].forEach(function (sel) {
      if (!sel) return;
      var keep = sel.value;
      sel.textContent = "";
      w.spans.forEach(function (s, i) {
        var o = document.createElement("option");
        o.value = String(i);
        o.textContent = (i + 1) + ". " + s.label + ": " + excerpt(w, s);
        sel.appendChild(o);
      });
      if (keep && +keep < w.spans.length) sel.value = keep;
    });
    var rl = w.relList;
    rl.textContent = "";
    w.relations.forEach(function (r, i) {
      var li = document.createElement("li");
      li.setAttribute("data-rel", String(i));
      li.textContent = (w.spans.indexOf(r.from) + 1) + " —" + r.label + "→ " + (w.spans.indexOf(r.to) + 1) + " ";
      if (w.widget.getAttribute("data-mode") === "read") { rl.appendChild(li); return; }
      var rm = document.createElement("button");
      rm.type = "button";
      rm.className = "link rel-remove";
      rm.textContent = "remove";
      li.appendChild(rm);
      rl.appendChild(li);
    });
  }

  // The list scrolls past a few rows: say how many spans it hides, so none is missed unseen.
  function updateMore(w) {
    var more = w.more;
    if (!more) return;
    var box = w.list.getBoundingClientRect(), above = 0, below = 0;
    for (var i = 0; i < w.list.children.length; i++) {
      var r = w.list.children[i].getBoundingClientRect();
      if (r.bottom > box.bottom + 1) below++;
      else if (r.top < box.top - 1) above++;
    }
    var parts = [];
    if (below) parts.push(below + " more below");
    if (above) parts.push(above + " above");
    more.textContent = parts.length ? parts.join(", ") + " — scroll the list to see " + (below + above === 1 ? "it" : "them") : "";
    more.hidden = !parts.length;
  }

  function save(w) {
    var out = {
      spans: w.spans.map(function (s) { return { start: toCp(w, s.start), end: toCp(w, s.end), label: s.label }; }),
    };
    if (w.relList) {
      out.relations = w.relations.map(function (r) { return { from: w.spans.indexOf(r.from), to: w.spans.indexOf(r.to), label: r.label }; });
    }
    w.result.value = JSON.stringify(out);
  }

  // -- selection ---------------------------------------------------------------

  function locate(w, offset) { // DOM position of a text offset
    var lo = 0, hi = w.segStarts.length - 1;
    while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (w.segStarts[mid] <= offset) lo = mid; else hi = mid - 1; }
    var node = w.segNodes[lo];
    var textNode = node.nodeType === 3 ? node : node.firstChild;
    return [textNode, offset - w.segStarts[lo]];
  }

  function range(w) { // current selection as [start, end) or null
    if (w.sel) {
      var a = w.tokens[Math.min(w.sel.anchor, w.sel.focus)], b = w.tokens[Math.max(w.sel.anchor, w.sel.focus)];
      return [a[0], b[1]];
    }
    return null;
  }

  function showSelection(w) {
    var r = range(w);
    var s = window.getSelection();
    if (!r) { if (s) s.removeAllRanges(); return; }
    var start = locate(w, r[0]), end = locate(w, r[1]);
    if (r[1] > 0 && end[1] === 0) end = locate(w, r[1] - 1), end = [end[0], end[1] + 1];
    s.setBaseAndExtent(start[0], start[1], end[0], end[1]);
    var box = s.getRangeAt(0).getBoundingClientRect(), view = w.el.getBoundingClientRect();
    if (box.top < view.top || box.bottom > view.bottom) w.el.scrollTop += box.top - view.top - view.height / 3;
  }

  function tokenAt(w, offset) { // the first token ending after offset
    var lo = 0, hi = w.tokens.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (w.tokens[mid][1] <= offset) lo = mid + 1; else hi = mid; }
    return Math.min(lo, w.tokens.length - 1);
  }

  function offsetIn(w, node, offset) {
    var r = document.createRange();
    r.setStart(w.el, 0);
    r.setEnd(node, offset);
    return r.toString().length;
  }

  function fromDomSelection(w) { // a mouse selection: exact characters, whitespace trimmed
    var s = window.getSelection();
    if (!s || s.isCollapsed || !w.el.contains(s.anchorNode) || !w.el.contains(s.focusNode)) return;
    var a = offsetIn(w, s.anchorNode, s.anchorOffset), b = offsetIn(w, s.focusNode, s.focusOffset);
    w.mouse = [Math.min(a, b), Math.max(a, b)];
    w.sel = null;
  }

  function currentRange(w) {
    var r = range(w);
    if (!r && w.mouse) {
      var s = window.getSelection();
      if (s && !s.isCollapsed) r = w.mouse;
    }
    if (!r) return null;
    var a = r[0], b = r[1];
    while (a < b && /\s/.test(w.text[a])) a++;
    while (b > a && /\s/.test(w.text[b - 1])) b--;
    return a < b ? [a, b] : null;
  }

  function move(w, step, extend) {
    if (!w.tokens.length) return;
    w.mouse = null;
    if (!w.sel) {
      var from = w.lastEnd != null ? tokenAt(w, w.lastEnd) - (step > 0 ? 0 : 1) : (step > 0 ? 0 : w.tokens.length - 1);
      from = Math.max(0, Math.min(from, w.tokens.length - 1));
      w.sel = { anchor: from, focus: from };
    } else {
      var f = Math.max(0, Math.min(w.sel.focus + step, w.tokens.length - 1));
      w.sel = extend ? { anchor: w.sel.anchor, focus: f } : { anchor: f, focus: f };
    }
    w.picked = null;
    showSelection(w);
    var r = range(w);
    say(w, "Selected: “" + w.text.slice(r[0], r[1]).slice(0, 80) + "”");
  }

  function pick(w, span) {
    w.picked = span;
    w.sel = null;
    w.mouse = null;
    var s = window.getSelection();
    if (s) s.removeAllRanges();
    render(w);
    say(w, "Span “" + excerpt(w, span) + "” (" + span.label + "): press a label key to change it, Delete to remove it.");
  }

  // -- editing -----------------------------------------------------------------

  function applyLabel(w, label) {
    var r = currentRange(w);
    if (!r && w.picked) { // relabel the clicked span
      var p = w.picked;
      if (findSpan(w, p.start, p.end, label)) { say(w, "That span already has this label."); return; }
      p.label = label;
      sortSpans(w);
      render(w); save(w);
      return;
    }
    if (!r) { say(w, "Select some text first (mouse, or the arrow keys)."); return; }
    if (findSpan(w, r[0], r[1], label)) { say(w, "Already marked."); return; }
    var span = { start: r[0], end: r[1], label: label };
    if (!w.allowOverlap) {
      var clash = w.spans.filter(function (s) { return s.start < span.end && span.start < s.end; });
      if (clash.length) removeSpans(w, clash, true);
    }
    w.spans.push(span);
    sortSpans(w);
    w.lastEnd = span.end;
    var fromKeys = !!w.sel;
    w.mouse = null;
    w.picked = null;
    render(w); save(w);
    // A keyboard selection stays on the span (Delete undoes, arrows go on from it).
    if (fromKeys) showSelection(w); else window.getSelection().removeAllRanges();
    say(w, "Marked “" + excerpt(w, span) + "” as " + label + ".");
  }

  function removeSpans(w, gone, quiet) {
    w.spans = w.spans.filter(function (s) { return gone.indexOf(s) < 0; });
    w.relations = w.relations.filter(function (r) { return gone.indexOf(r.from) < 0 && gone.indexOf(r.to) < 0; });
    if (gone.indexOf(w.picked) >= 0) w.picked = null;
    if (quiet) return;
    render(w); save(w);
    if (w.sel) showSelection(w);
    say(w, "Removed " + gone.length + " span" + (gone.length > 1 ? "s" : "") + ".");
  }

  function removeAtSelection(w) {
    if (w.picked) { removeSpans(w, [w.picked]); return; }
    var r = currentRange(w);
    if (!r) return;
    var hit = w.spans.filter(function (s) { return s.start < r[1] && r[0] < s.end; });
    if (!hit.length) { say(w, "No span under the selection."); return; }
    hit.sort(function (a, b) { return (a.end - a.start) - (b.end - b.start); });
    removeSpans(w, [hit[0]]);
  }

  document.addEventListener("keydown", function (event) {
    var live = WIDGETS.active("spans");
    var w = live && live.bastionSpans;
    if (!w) return;
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var t = event.target;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || (t.tagName === "INPUT" && t.type !== "hidden"))) return;
    var key = event.key;
    if (key === "ArrowRight" || key === "ArrowLeft") {
      event.preventDefault();
      move(w, key === "ArrowRight" ? 1 : -1, event.shiftKey);
      return;
    }
    if (key === "Backspace" && !w.picked && !currentRange(w)) return;  // nothing to remove: the page's undo
    if (key === "Delete" || key === "Backspace") { event.preventDefault(); removeAtSelection(w); return; }
    if (key === "Escape") {
      w.sel = null; w.mouse = null; w.picked = null;
      window.getSelection().removeAllRanges();
      render(w);
      say(w, "");
      return;
    }
    if (key.length !== 1) return;
    var k = key.toLowerCase();
    for (var label in w.labels) {
      if (w.labels[label].hotkey === k) { event.preventDefault(); applyLabel(w, label); return; }
    }
  });

  init();
  document.addEventListener("htmx:afterSwap", init);
})();
