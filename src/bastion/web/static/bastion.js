// Bastion pages: keyboard shortcuts shared by every labelling widget.
// Enter submits the task (Ctrl/Cmd+Enter inside text fields), S skips it; where no task is
// held yet, Enter presses Start (leasing is a form POST: a link never leases).
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

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.defaultPrevented) return;
    var form = document.getElementById("label-form");
    if (!form) {
      var start = document.getElementById("start-form");
      if (start && event.key === "Enter" && !typing(event.target) && !event.ctrlKey && !event.metaKey &&
          !(event.target && (event.target.tagName === "A" || event.target.tagName === "BUTTON"))) {
        event.preventDefault();
        start.requestSubmit();
      }
      return;
    }
    var inText = typing(event.target);
    if (event.key === "Enter" && (!inText || event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    if (inText || event.ctrlKey || event.metaKey) return;
    if (event.key === "s" || event.key === "S") {
      var skip = document.getElementById("skip-form");
      if (skip) { event.preventDefault(); skip.requestSubmit(); }
    }
  });

  // Keep focus on the task after htmx swaps in the next one.
  document.addEventListener("htmx:afterSwap", function () {
    var task = document.getElementById("task");
    if (task) { task.setAttribute("tabindex", "-1"); task.focus({ preventScroll: false }); }
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
