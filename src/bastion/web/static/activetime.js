// Bastion labelling page: active time on the task in front of you, and pastes into its text fields
// (docs/workforce.md, "Time"). Time counts only while the page is visible, the window has focus and
// there was input (a key, the pointer, a scroll, typing) within the project's idle gap
// (data-idle-after-s on the task's form); it goes with the submit as lead_time_ms, which the server
// checks against how long the lease has lasted. A paste is counted (paste_count, pasted_chars) and
// never blocked. A new task (after a submit, a skip or an undo) starts from nothing.
(function () {
  "use strict";

  var active = 0;       // ms counted for the current task
  var lastTick = 0;     // when active was last brought up to date
  var lastInput = 0;    // the last input (or return to the page)
  var visible = document.visibilityState === "visible";
  var focused = document.hasFocus();
  var pastes = 0;
  var pasted = 0;
  var taskId = null;

  function now() { return window.performance && performance.now ? performance.now() : Date.now(); }

  function form() { return document.getElementById("label-form"); }

  function idleMs() {
    var f = form();
    var seconds = f ? parseInt(f.getAttribute("data-idle-after-s"), 10) : NaN;
    return (isNaN(seconds) || seconds <= 0 ? 60 : seconds) * 1000;
  }

  function currentTask() {
    var task = document.getElementById("task");
    return task ? task.getAttribute("data-task-id") : null;
  }

  // Count the time since the last tick that was active: visible, focused, within the idle gap.
  function accrue(at) {
    if (visible && focused) {
      var end = Math.min(at, lastInput + idleMs());
      if (end > lastTick) active += end - lastTick;
    }
    lastTick = at;
  }

  // Bring the count up to date; a different task than before starts from nothing.
  function sync(at) {
    var id = currentTask();
    if (id !== taskId) {
      taskId = id;
      active = 0;
      pastes = 0;
      pasted = 0;
      lastTick = at;
      lastInput = at;  // the task was just put in front of the person
      return;
    }
    accrue(at);
  }

  function input() {
    var at = now();
    sync(at);
    lastInput = at;
  }

  ["keydown", "pointerdown", "pointermove", "wheel", "scroll", "input", "touchstart"].forEach(function (type) {
    document.addEventListener(type, input, { capture: true, passive: true });
  });
  document.addEventListener("visibilitychange", function () {
    sync(now());
    visible = document.visibilityState === "visible";
    if (visible) lastInput = lastTick;  // coming back is an input
  });
  window.addEventListener("focus", function () {
    sync(now());
    focused = true;
    lastInput = lastTick;
  });
  window.addEventListener("blur", function () {
    sync(now());
    focused = false;
  });

  function textField(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "TEXTAREA" || (tag === "INPUT" && /^(text|search|url|email|tel|)$/i.test(target.type || "")) ||
      target.isContentEditable;
  }

  // Recorded, never blocked: no preventDefault here.
  document.addEventListener("paste", function (event) {
    var f = form();
    if (!f || !f.contains(event.target) || !textField(event.target)) return;
    sync(now());
    var text = event.clipboardData ? event.clipboardData.getData("text") : "";
    pastes += 1;
    pasted += text ? text.length : 0;
  }, true);

  function put(f, name, value) {
    var field = f.querySelector('input[type="hidden"][name="' + name + '"]');
    if (field) field.value = String(value);
  }

  // Before htmx (listening on the form) reads the form's values: capture on the document runs first.
  document.addEventListener("submit", function (event) {
    var f = form();
    if (!f || event.target !== f) return;
    sync(now());
    put(f, "lead_time_ms", Math.round(active));
    put(f, "paste_count", pastes);
    put(f, "pasted_chars", pasted);
  }, true);

  document.addEventListener("htmx:afterSettle", function () { sync(now()); });
  sync(now());
  // Read by the browser tests; never sent anywhere but with the submit.
  window.bastionActiveTime = function () { sync(now()); return Math.round(active); };
})();
