// Bastion pages: keyboard shortcuts shared by every labelling widget.
// Enter submits the task (Ctrl/Cmd+Enter inside text fields), S skips it; where no task is
// held yet, Enter presses Start (leasing is a form POST: a link never leases).
// Backspace undoes the last annotation (its task comes back) while the task in front of you is
// untouched — a widget that uses Backspace itself (removing a box, a span) keeps it; ? opens
// the question to the managers (Ctrl/Cmd+Enter sends it).
// Widgets add their own keys in /static/tasktypes/<type>/widget.js.
(function () {
  "use strict";

  function typing(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" ||
      (tag === "INPUT" && !/^(radio|checkbox|button|submit|hidden)$/i.test(target.type)) ||
      target.isContentEditable;
  }

  // A form swapped in a moment ago may not be wired to htmx yet (it is on settle): wire it first,
  // so a key pressed at once still posts through htmx instead of reloading the page.
  function submit(form) {
    if (window.htmx && form.hasAttribute("hx-post")) window.htmx.process(form);
    form.requestSubmit();
  }

  function ownForm(target) {
    return target && target.closest ? target.closest("form") : null;
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.defaultPrevented) return;
    var form = document.getElementById("label-form");
    if (!form) {
      var start = document.getElementById("start-form");
      if (start && event.key === "Enter" && !typing(event.target) && !event.ctrlKey && !event.metaKey &&
          !(event.target && (event.target.tagName === "A" || event.target.tagName === "BUTTON"))) {
        event.preventDefault();
        submit(start);
      }
      return;
    }
    var inText = typing(event.target);
    var other = ownForm(event.target);
    if (other && other !== form) {  // another form on the page (the question): its own keys
      if (event.key === "Enter" && inText && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        submit(other);
      }
      return;
    }
    if (event.key === "Enter" && (!inText || event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit(form);
      return;
    }
    if (inText || event.ctrlKey || event.metaKey) return;
    if (event.key === "s" || event.key === "S") {
      var skip = document.getElementById("skip-form");
      if (skip) { event.preventDefault(); submit(skip); }
      return;
    }
    if (event.key === "?") {
      var ask = document.getElementById("ask");
      if (ask) {
        event.preventDefault();
        ask.open = true;
        var text = document.getElementById("ask-text");
        if (text) text.focus();
      }
    }
  });

  // Backspace = undo, heard last (on window, after every widget's own listener on document):
  // only when no widget used the key and the task in front of the person is untouched.
  function touch() {
    var form = document.getElementById("label-form");
    if (form) form.setAttribute("data-touched", "1");
  }
  window.addEventListener("keydown", function (event) {
    var form = document.getElementById("label-form");
    if (event.defaultPrevented) {
      if (event.key !== "Enter") touch();  // a widget's key (or S, ?) acted on the task
      return;
    }
    if (event.key !== "Backspace" || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (typing(event.target)) return;
    var undo = document.getElementById("undo-form");
    if (!undo || (form && form.getAttribute("data-touched"))) return;
    event.preventDefault();
    submit(undo);
  });
  ["input", "change", "pointerdown"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var form = document.getElementById("label-form");
      if (!form || !form.contains(event.target)) return;
      touch();
      // An error about the last submit is stale once the result changes.
      if (type !== "pointerdown") {
        var task = document.getElementById("task");
        var error = task && task.querySelector(":scope > p.error");
        if (error) error.remove();
      }
    });
  });

  // The person's progress (shown by the page's GET) counts on after each submit, undo and skip:
  // the submit path counts nothing (services/own_annotations.py).
  function bump(id, by) {
    var dd = document.getElementById(id);
    if (!dd) return;
    var n = parseInt(dd.textContent, 10);
    if (!isNaN(n)) dd.textContent = String(Math.max(0, n + by));
  }
  var EVENTS = {
    submitted: [["my-today", 1], ["my-done", 1], ["my-left", -1]],
    undone: [["my-today", -1], ["my-done", -1], ["my-left", 1]],
    skipped: [["my-left", -1]]
  };

  // Keep focus on the task after htmx swaps in the next one.
  document.addEventListener("htmx:afterSwap", function () {
    var task = document.getElementById("task");
    if (!task) return;
    (EVENTS[task.getAttribute("data-event")] || []).forEach(function (pair) { bump(pair[0], pair[1]); });
    task.setAttribute("tabindex", "-1");
    task.focus({ preventScroll: false });
  });
})();

// Task type widgets on any page (web/pages/widgets.py): each instance is a
// <div class="widget" data-widget="TYPE" data-mode="label|read|correct">. A read widget is
// inert; a correct widget is live once its page unlocks its fieldset.widget-lock (review).
// Widget scripts give their keys to the live instance only, and draw every instance.
(function () {
  "use strict";
  window.BastionWidgets = {
    roots: function (name) {
      return Array.prototype.slice.call(document.querySelectorAll('.widget[data-widget="' + name + '"]'));
    },
    live: function (root) {
      if (!root || !document.body.contains(root) || root.getAttribute("data-mode") === "read") return false;
      var lock = root.querySelector("fieldset.widget-lock");
      return !(lock && lock.disabled);
    },
    active: function (name) {
      var roots = this.roots(name);
      for (var i = 0; i < roots.length; i++) if (this.live(roots[i])) return roots[i];
      return null;
    },
    differs: function (root) {
      try { return JSON.parse(root.getAttribute("data-differs") || "[]"); } catch (e) { return []; }
    },
  };
})();
