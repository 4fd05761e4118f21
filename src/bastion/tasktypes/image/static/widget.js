// Image widget: labelled bounding boxes over an image (and image labels).
//
// Mouse: drag on the image to draw a box with the current label; drag a box
// to move it, its corner handle to resize it. Keys: a box label's key sets the
// current label and relabels the selected box; N adds a box in the middle;
// [ and ] select the previous/next box; arrows move it (Shift: 10 px);
// Alt+arrows resize it; Delete/Backspace removes it; Escape deselects.
// An image label's key toggles it. Boxes are kept in the image's own pixels
// (naturalWidth/Height) and only scaled for display.
(function () {
  "use strict";
  var WIDGETS = window.BastionWidgets;

  // Every instance on the page is drawn; only the live one (WIDGETS.live) takes the
  // mouse and the keys (a read-only instance is inert).
  function init() {
    WIDGETS.roots("image").forEach(setUp);
  }

  function setUp(widget) {
    var root = widget.querySelector(".image-widget");
    if (!root || root.getAttribute("data-ready")) return;
    root.setAttribute("data-ready", "1");
    var initial = JSON.parse(root.getAttribute("data-initial"));
    var s = {
      widget: widget,
      root: root,
      img: root.querySelector(".task-image"),
      layer: root.querySelector(".box-layer"),
      stage: root.querySelector(".image-stage"),
      list: root.querySelector(".box-list"),
      result: root.querySelector(".widget-result"),
      differs: WIDGETS.differs(widget),
      labels: {},
      current: null,
      boxes: [],
      selected: -1,
      hasBoxes: !!root.querySelector(".box-list"),
    };
    widget.bastionImage = s;
    root.querySelectorAll(".box-label").forEach(function (b, i) {
      var name = b.getAttribute("data-label");
      s.labels[name] = { color: b.getAttribute("data-color"), hotkey: (b.getAttribute("data-hotkey") || "").toLowerCase(), button: b };
      if (i === 0) s.current = name;
      b.addEventListener("click", function () { if (WIDGETS.live(widget)) setLabel(s, name); });
    });
    (initial.boxes || []).forEach(function (b) { if (s.labels[b.label]) s.boxes.push({ x: b.x, y: b.y, w: b.w, h: b.h, label: b.label }); });
    if (!s.img) return;
    if (s.img.complete && s.img.naturalWidth) render(s); else s.img.addEventListener("load", function () { render(s); });
    window.addEventListener("resize", function () { if (document.body.contains(root)) render(s); });
    if (s.hasBoxes) {
      s.stage.addEventListener("mousedown", function (e) { if (WIDGETS.live(widget)) down(s, e); });
      s.list.addEventListener("click", function (e) {
        if (!WIDGETS.live(widget)) return;
        var li = e.target.closest ? e.target.closest("li[data-box]") : null;
        if (!li) return;
        var i = +li.getAttribute("data-box");
        if (e.target.classList.contains("box-remove")) { s.boxes.splice(i, 1); s.selected = -1; }
        else s.selected = i;
        render(s); save(s);
      });
    }
    save(s);
  }

  function keyOf(b) { return "box:" + b.x + ":" + b.y + ":" + b.w + ":" + b.h + ":" + b.label; }
  function differs(s, b) { return s.differs.indexOf(keyOf(b)) >= 0; }

  function natural(s) { return { w: s.img.naturalWidth || 1, h: s.img.naturalHeight || 1 }; }
  function scale(s) { return s.img.clientWidth / natural(s).w; }
  function round(v) { return Math.round(v * 100) / 100; }

  function clamp(s, b) {
    var n = natural(s);
    b.w = Math.max(1, Math.min(b.w, n.w));
    b.h = Math.max(1, Math.min(b.h, n.h));
    b.x = Math.max(0, Math.min(b.x, n.w - b.w));
    b.y = Math.max(0, Math.min(b.y, n.h - b.h));
    b.x = round(b.x); b.y = round(b.y); b.w = round(b.w); b.h = round(b.h);
  }

  function render(s) {
    if (!s.img || !s.img.naturalWidth) return;
    var k = scale(s);
    // The layer covers the image by the stylesheet (.box-layer: inset 0), never by a style set here:
    // htmx copies an id'd element's style attribute onto the next task's while it settles, and the
    // CSP refuses inline styles. Only the boxes, made afresh each time and without ids, carry styles.
    s.layer.textContent = "";
    s.boxes.forEach(function (b, i) {
      var el = document.createElement("div");
      el.className = "bbox sp-c" + s.labels[b.label].color + (i === s.selected ? " selected" : "") + (differs(s, b) ? " differs" : "");
      el.setAttribute("data-box", String(i));
      el.style.left = b.x * k + "px";
      el.style.top = b.y * k + "px";
      el.style.width = b.w * k + "px";
      el.style.height = b.h * k + "px";
      var tag = document.createElement("span");
      tag.className = "bbox-tag";
      tag.textContent = (i + 1) + " " + b.label;
      var handle = document.createElement("span");
      handle.className = "bbox-handle";
      el.append(tag, handle);
      s.layer.appendChild(el);
    });
    if (!s.list) return;
    s.list.textContent = "";
    s.boxes.forEach(function (b, i) {
      var li = document.createElement("li");
      li.setAttribute("data-box", String(i));
      li.className = (i === s.selected ? "picked" : "") + (differs(s, b) ? " differs" : "");
      var tag = document.createElement("span");
      tag.className = "span-tag sp-c" + s.labels[b.label].color;
      tag.textContent = b.label;
      var rm = document.createElement("button");
      rm.type = "button";
      rm.className = "link box-remove";
      rm.textContent = "remove";
      li.append(tag, " x " + Math.round(b.x) + ", y " + Math.round(b.y) + ", " + Math.round(b.w) + "×" + Math.round(b.h) + " px ");
      if (s.widget.getAttribute("data-mode") !== "read") li.append(rm);
      s.list.appendChild(li);
    });
  }

  function save(s) {
    if (!s.hasBoxes) { s.result.value = "{}"; return; }
    s.result.value = JSON.stringify({ boxes: s.boxes.map(function (b) { return { x: b.x, y: b.y, w: b.w, h: b.h, label: b.label }; }) });
  }

  function setLabel(s, name) {
    s.current = name;
    Object.keys(s.labels).forEach(function (l) { s.labels[l].button.classList.toggle("current", l === name); });
    if (s.selected >= 0) { s.boxes[s.selected].label = name; render(s); save(s); }
  }

  function point(s, e) {
    var r = s.img.getBoundingClientRect(), k = scale(s);
    return { x: (e.clientX - r.left) / k, y: (e.clientY - r.top) / k };
  }

  function down(s, e) {
    if (e.button !== 0 || !s.img.naturalWidth) return;
    e.preventDefault();
    var target = e.target.closest ? e.target.closest(".bbox") : null;
    var start = point(s, e), box, mode, orig;
    if (target) {
      s.selected = +target.getAttribute("data-box");
      box = s.boxes[s.selected];
      mode = e.target.classList.contains("bbox-handle") ? "resize" : "move";
      orig = { x: box.x, y: box.y, w: box.w, h: box.h };
    } else {
      if (!s.current) return;
      box = { x: start.x, y: start.y, w: 0, h: 0, label: s.current };
      mode = "draw";
    }
    function moveTo(ev) {
      var p = point(s, ev);
      if (mode === "draw") {
        box.x = Math.min(start.x, p.x); box.y = Math.min(start.y, p.y);
        box.w = Math.abs(p.x - start.x); box.h = Math.abs(p.y - start.y);
        if (s.boxes.indexOf(box) < 0 && box.w > 2 && box.h > 2) { s.boxes.push(box); s.selected = s.boxes.length - 1; }
      } else if (mode === "move") {
        box.x = orig.x + p.x - start.x; box.y = orig.y + p.y - start.y;
      } else {
        box.w = Math.max(2, orig.w + p.x - start.x); box.h = Math.max(2, orig.h + p.y - start.y);
      }
      if (s.boxes.indexOf(box) >= 0) clamp(s, box);
      render(s);
    }
    function up(ev) {
      document.removeEventListener("mousemove", moveTo);
      document.removeEventListener("mouseup", up);
      moveTo(ev);
      save(s);
    }
    document.addEventListener("mousemove", moveTo);
    document.addEventListener("mouseup", up);
    render(s);
  }

  document.addEventListener("keydown", function (event) {
    var live = WIDGETS.active("image");
    var s = live && live.bastionImage;
    if (!s) return;
    if (event.ctrlKey || event.metaKey || event.defaultPrevented) return;
    var t = event.target;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || (t.tagName === "INPUT" && /^(text|search|number)$/i.test(t.type)))) return;
    var key = event.key, b = s.selected >= 0 ? s.boxes[s.selected] : null;
    if (key.indexOf("Arrow") === 0 && b) {
      event.preventDefault();
      var step = event.shiftKey ? 10 : 1;
      var dx = key === "ArrowLeft" ? -step : key === "ArrowRight" ? step : 0;
      var dy = key === "ArrowUp" ? -step : key === "ArrowDown" ? step : 0;
      if (event.altKey) { b.w += dx; b.h += dy; } else { b.x += dx; b.y += dy; }
      clamp(s, b); render(s); save(s);
      return;
    }
    if (event.altKey) return;
    if ((key === "Delete" || key === "Backspace") && b) {
      event.preventDefault();
      s.boxes.splice(s.selected, 1); s.selected = -1;
      render(s); save(s);
      return;
    }
    if (key === "Escape") { s.selected = -1; render(s); return; }
    if (!s.hasBoxes && key.length === 1) return imageLabel(s, event);
    if ((key === "n" || key === "N") && s.current && s.img && s.img.naturalWidth) {
      event.preventDefault();
      var n = natural(s);
      var nb = { x: n.w * 0.375, y: n.h * 0.375, w: n.w / 4, h: n.h / 4, label: s.current };
      clamp(s, nb);
      s.boxes.push(nb); s.selected = s.boxes.length - 1;
      render(s); save(s);
      return;
    }
    if ((key === "]" || key === "[") && s.boxes.length) {
      event.preventDefault();
      var d = key === "]" ? 1 : -1;
      s.selected = ((s.selected < 0 ? (d > 0 ? -1 : 0) : s.selected) + d + s.boxes.length) % s.boxes.length;
      render(s);
      return;
    }
    if (key.length !== 1) return;
    var k = key.toLowerCase();
    for (var name in s.labels) {
      if (s.labels[name].hotkey === k) { event.preventDefault(); setLabel(s, name); return; }
    }
    imageLabel(s, event);
  });

  function imageLabel(s, event) {
    var k = event.key.toLowerCase();
    var inputs = s.root.querySelectorAll("input[data-hotkey]");
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i].getAttribute("data-hotkey").toLowerCase() === k) {
        event.preventDefault();
        inputs[i].checked = inputs[i].type === "checkbox" ? !inputs[i].checked : true;
        return;
      }
    }
  }

  init();
  document.addEventListener("htmx:afterSwap", init);
})();
