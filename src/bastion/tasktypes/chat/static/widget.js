// Chat widget: the expert talks with one or two models, live. The transcript is the server's
// (GET /tasks/<id>/chat); a message is sent with POST /tasks/<id>/chat/turn and the replies
// arrive as newline-delimited JSON events, read with fetch and a ReadableStream, both models at
// once. Choices, ratings and rewrites are kept with the draft (POST …/chat/judgements) and go
// with every turn; the hidden "result" field always holds the transcript the form submits.
// Keys (the live widget only, never while typing): M message, Ctrl+Enter send, A/B/T choose,
// 1-3 strength, Shift+1… criteria, R rewrite, E edit the last message; Enter submits (bastion.js).
(function () {
  "use strict";
  var WIDGETS = window.BastionWidgets;
  var STRENGTHS = ["slightly", "clearly", "much"];
  var states = new WeakMap();

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function t(root, key) { return root.getAttribute("data-t-" + key) || key; }
  function csrf() {
    var input = document.querySelector('#label-form input[name="csrf_token"]');
    return input ? input.value : "";
  }
  function has(root, action) { return (" " + root.getAttribute("data-actions") + " ").indexOf(" " + action + " ") >= 0; }

  function status(root, text, alert) {
    var s = root.querySelector(".chatw-status");
    if (!s) return;
    s.textContent = text || "";
    s.classList.toggle("error", !!alert);
    s.setAttribute("role", alert ? "alert" : "status");
  }

  // -- the judgements of one turn, read from its controls
  function judgement(turnEl) {
    var out = {};
    var picked = turnEl.querySelector(".chatw-choice input:checked");
    if (picked) {
      var preferred = picked.value === "tie" ? "tie" : parseInt(picked.value, 10);
      out.choice = { preferred: preferred, criteria: [] };
      var strength = turnEl.querySelector(".chatw-strength input:checked");
      if (preferred !== "tie") out.choice.strength = strength ? strength.value : "clearly";
      turnEl.querySelectorAll(".chatw-criteria input:checked").forEach(function (c) { out.choice.criteria.push(c.value); });
    }
    var ratings = [], any = false;
    turnEl.querySelectorAll(".response").forEach(function (r) {
      var v = r.querySelector(".chatw-rating input:checked");
      ratings.push(v ? parseInt(v.value, 10) : null);
      if (v) any = true;
    });
    if (any) out.ratings = ratings;
    var rewrite = turnEl.querySelector(".chatw-rewrite-box:not([hidden]) textarea");
    if (rewrite && rewrite.value.trim()) {
      out.rewrite = { reply: parseInt(rewrite.getAttribute("data-reply"), 10), content: rewrite.value };
    }
    return out;
  }
  function judgements(root) {
    return Array.prototype.map.call(root.querySelectorAll(".chatw-turn"), function (turnEl) {
      return turnEl.getAttribute("data-pending") ? null : judgement(turnEl);
    });
  }
  function refreshResult(root) {
    var st = states.get(root);
    var field = root.querySelector(".chatw-result");
    if (!st || !field) return;
    var js = judgements(root);
    var turns = st.turns.map(function (turn, i) {
      var out = { user: turn.user, replies: turn.replies };
      var j = js[i] || {};
      ["choice", "ratings", "rewrite"].forEach(function (k) { if (j[k]) out[k] = j[k]; });
      return out;
    });
    field.value = turns.length ? JSON.stringify({ turns: turns }) : "";
    root.querySelectorAll(".chatw-turn").forEach(function (turnEl) {
      var chosen = turnEl.querySelector(".chatw-choice input:checked");
      if (chosen && chosen.value !== "tie" && !turnEl.querySelector(".chatw-strength input:checked")) {
        var usual = turnEl.querySelector('.chatw-strength input[value="clearly"]');
        if (usual) usual.checked = true;  // the strength a choice has until another is picked
      }
      turnEl.querySelectorAll(".response").forEach(function (r, j) {
        r.classList.toggle("preferred", !!chosen && chosen.value === String(j));
      });
    });
  }

  // -- rendering
  function radio(name, value, label, key, checked) {
    var l = el("label", "choice");
    var input = el("input");
    input.type = "radio"; input.name = name; input.value = value;
    if (checked) input.checked = true;
    l.appendChild(input);
    if (key) { l.appendChild(document.createTextNode(" ")); l.appendChild(el("kbd", null, key)); }
    l.appendChild(document.createTextNode(" " + label));
    return l;
  }
  function renderTurn(root, turn, index) {
    var labels = JSON.parse(root.getAttribute("data-labels") || "[]");
    var scale = [];
    var st = states.get(root);
    var li = el("li", "chatw-turn");
    li.setAttribute("data-index", String(index));
    var user = el("div", "turn turn-user");
    user.appendChild(el("div", "turn-role", t(root, "you")));
    user.appendChild(el("div", "turn-content chatw-text", turn.user));
    var edit = el("button", "link chatw-edit", t(root, "edit"));
    edit.type = "button";
    edit.addEventListener("click", function () { startEdit(root, index); });
    user.appendChild(edit);
    li.appendChild(user);
    var pair = el("div", "pair");
    var name = "chatw-" + index + "-";
    (turn.replies || []).forEach(function (reply, j) {
      var box = el("section", "response");
      box.setAttribute("tabindex", "0");
      var h = el("h3", null, labels[j] || String(j + 1));
      if (reply.model) { h.appendChild(document.createTextNode(" ")); h.appendChild(el("span", "muted", reply.model)); }
      box.appendChild(h);
      if (reply.error) box.appendChild(el("p", "error", t(root, "failed") + " " + reply.error));
      box.appendChild(el("div", "chatw-text chatw-reply", reply.content || ""));
      if (st && has(root, "rate") && !turn.pending) {
        var fs = el("fieldset", "choices chatw-rating");
        fs.appendChild(el("legend", null, t(root, "rating") + " · " + (labels[j] || "")));
        st.scale.forEach(function (v) {
          fs.appendChild(radio(name + "rating-" + j, String(v), String(v), null, turn.ratings && turn.ratings[j] === v));
        });
        box.appendChild(fs);
      }
      if (has(root, "rewrite") && !turn.pending && !reply.error) {
        var rw = el("button", "link chatw-rewrite-open", t(root, "rewrite"));
        rw.type = "button";
        rw.addEventListener("click", function () { openRewrite(root, li, j); });
        box.appendChild(rw);
        var area = el("label", "chatw-rewrite-box");
        area.hidden = !(turn.rewrite && turn.rewrite.reply === j);
        area.appendChild(document.createTextNode(t(root, "rewritten")));
        var ta = el("textarea", "chatw-rewrite-text");
        ta.rows = 5; ta.setAttribute("data-reply", String(j));
        ta.value = turn.rewrite && turn.rewrite.reply === j ? turn.rewrite.content : "";
        area.appendChild(ta);
        box.appendChild(area);
      }
      pair.appendChild(box);
    });
    li.appendChild(pair);
    if (has(root, "choose") && !turn.pending && (turn.replies || []).length === 2) {
      var choice = turn.choice || {};
      var c = el("fieldset", "choices chatw-choice");
      c.appendChild(el("legend", null, t(root, "better")));
      c.appendChild(radio(name + "choice", "0", labels[0], "A", choice.preferred === 0));
      c.appendChild(radio(name + "choice", "tie", t(root, "tie"), "T", choice.preferred === "tie"));
      c.appendChild(radio(name + "choice", "1", labels[1], "B", choice.preferred === 1));
      li.appendChild(c);
      var s = el("fieldset", "choices chatw-strength");
      s.appendChild(el("legend", null, t(root, "by")));
      STRENGTHS.forEach(function (v, k) {
        s.appendChild(radio(name + "strength", v, t(root, "strength-" + v), String(k + 1), choice.strength === v));
      });
      li.appendChild(s);
      if (st && st.criteria.length) {
        var cr = el("fieldset", "choices chatw-criteria");
        cr.appendChild(el("legend", null, t(root, "why")));
        st.criteria.forEach(function (v, k) {
          var l = el("label", "choice");
          var box2 = el("input");
          box2.type = "checkbox"; box2.value = v; box2.name = name + "criterion";
          box2.checked = !!(choice.criteria && choice.criteria.indexOf(v) >= 0);
          l.appendChild(box2);
          if (k < 9) { l.appendChild(document.createTextNode(" ")); l.appendChild(el("kbd", null, "⇧" + (k + 1))); }
          l.appendChild(document.createTextNode(" " + v));
          cr.appendChild(l);
        });
        li.appendChild(cr);
      }
    }
    if (turn.pending) li.setAttribute("data-pending", "1");
    return li;
  }
  function render(root) {
    var st = states.get(root);
    var list = root.querySelector(".chatw-turns");
    list.textContent = "";
    st.turns.forEach(function (turn, i) { list.appendChild(renderTurn(root, turn, i)); });
    var input = root.querySelector(".chatw-input");
    if (input && !st.turns.length && !input.value) input.value = st.opening || "";
    if (st.turns.length >= st.max && st.editAt === null) status(root, t(root, "full"));
    refreshResult(root);
  }

  // -- actions
  function openRewrite(root, turnEl, j) {
    turnEl.querySelectorAll(".chatw-rewrite-box").forEach(function (box) {
      var ta = box.querySelector("textarea");
      var mine = ta.getAttribute("data-reply") === String(j);
      box.hidden = !mine;
      if (mine) {
        if (!ta.value) ta.value = turnEl.querySelectorAll(".chatw-reply")[j].textContent;
        ta.focus();
      } else {
        ta.value = "";
      }
    });
    refreshResult(root);
  }
  function startEdit(root, index) {
    var st = states.get(root);
    var input = root.querySelector(".chatw-input");
    st.editAt = index;
    input.value = st.turns[index].user;
    input.focus();
    status(root, t(root, "editing"));
  }
  function adopt(root, state) {
    var st = states.get(root);
    st.version = state.version;
    st.turns = state.turns;
  }
  // Judgements are saved a moment after the last change. A change made while a save or a turn is in
  // flight is saved once that is done (``again``), never dropped; ``data-saving`` is on the widget from
  // a change until the server has it.
  function saveJudgements(root) {
    var st = states.get(root);
    if (!st || st.closed || !st.turns.length) return;
    root.setAttribute("data-saving", "");
    if (st.busy) { st.again = true; return; }
    clearTimeout(st.timer);
    st.timer = setTimeout(function () {
      st.timer = null;
      if (st.closed || !root.isConnected) return;  // submitted (the result carries them), or gone
      if (st.busy) { st.again = true; return; }
      st.busy = true;
      post(root, "judgements", { judgements: judgements(root), version: st.version }).then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) { status(root, body.error ? body.error.message : String(r.status), true); return; }
          st.version = body.version;
          st.turns = body.turns;
        });
      }).catch(function () {}).then(function () { settle(root, st); });
    }, 600);
  }
  // The form is submitted: its result carries the judgements, and the draft ends with the task, so
  // nothing more is saved (a save arriving after the submit would be refused).
  function close(root) {
    var st = states.get(root);
    if (!st) return;
    st.closed = true;
    st.again = false;
    clearTimeout(st.timer);
    st.timer = null;
    root.removeAttribute("data-saving");
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.querySelectorAll) form.querySelectorAll(".chatw").forEach(close);
  }, true);
  function settle(root, st) {
    st.busy = false;
    if (st.again && !st.closed) {
      st.again = false;
      saveJudgements(root);
    } else if (st.timer === null) {
      root.removeAttribute("data-saving");
    }
  }
  function post(root, what, body) {
    return fetch("/tasks/" + encodeURIComponent(root.getAttribute("data-task-id")) + "/chat/" + what, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    });
  }
  function send(root) {
    var st = states.get(root);
    var input = root.querySelector(".chatw-input");
    if (!st || st.busy || !input.value.trim()) return;
    clearTimeout(st.timer);  // the turn carries the judgements
    st.timer = null;
    var at = st.editAt;
    var body = { content: input.value, judgements: judgements(root), version: st.version };
    if (at !== null) body.at = at;
    st.busy = true;
    root.classList.add("busy");
    status(root, t(root, "thinking"));
    var index = at !== null ? at : st.turns.length;
    var pending = { user: input.value.trim(), replies: [], pending: true };
    var shown = st.turns.slice(0, index).concat([pending]);
    var list = root.querySelector(".chatw-turns");
    var turnEl = null;
    post(root, "turn", body).then(function (r) {
      if (!r.ok) {
        return r.json().then(function (b) { throw new Error(b.error ? b.error.message : String(r.status)); });
      }
      var reader = r.body.getReader(), decoder = new TextDecoder(), buffered = "";
      function handle(event) {
        if (event.event === "start") {
          // keep the judgements of the turns before this one, drop the rest
          var kept = judgements(root);
          st.turns = shown.slice(0, index).map(function (turn, i) { return Object.assign({}, turn, kept[i] || {}); });
          pending.replies = [];
          for (var k = 0; k < event.replies; k++) pending.replies.push({ content: "" });
          st.turns.push(pending);
          render(root);
          turnEl = list.lastElementChild;
        } else if (event.event === "delta" && turnEl) {
          var box = turnEl.querySelectorAll(".chatw-reply")[event.reply];
          pending.replies[event.reply].content += event.text;
          if (box) box.textContent = pending.replies[event.reply].content;
        } else if (event.event === "turn") {
          st.turns[event.turn] = event.data;
          st.version = event.version;
          st.editAt = null;
          input.value = "";
          render(root);
          // the keys now judge this turn: focus leaves the message box for the new replies
          var first = list.lastElementChild && list.lastElementChild.querySelector(".response");
          if (first && document.activeElement === input) first.focus();
          status(root, st.turns.length >= st.max ? t(root, "full") : "");
        } else if (event.event === "error") {
          status(root, event.message, true);
        }
      }
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) return;
          buffered += decoder.decode(chunk.value, { stream: true });
          var lines = buffered.split("\n");
          buffered = lines.pop();
          lines.forEach(function (line) { if (line.trim()) handle(JSON.parse(line)); });
          return pump();
        });
      }
      return pump();
    }).catch(function (err) {
      status(root, err.message, true);
    }).then(function () {
      root.classList.remove("busy");
      settle(root, st);
      refreshResult(root);
    });
  }
  function restart(root) {
    var st = states.get(root);
    if (!st || st.busy) return;
    post(root, "restart", {}).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { status(root, body.error ? body.error.message : String(r.status), true); return; }
        adopt(root, body);
        st.editAt = null;
        root.querySelector(".chatw-input").value = st.opening || "";
        render(root);
      });
    });
  }

  function init(root) {
    if (states.has(root) || root.getAttribute("data-live") !== "yes") return;
    var st = {
      turns: [], version: null, editAt: null, busy: false, again: false, closed: false, timer: null, opening: "",
      max: parseInt(root.getAttribute("data-max") || "10", 10), scale: [], criteria: [],
    };
    states.set(root, st);
    (root.getAttribute("data-scale") || "").split(" ").forEach(function (v) { if (v) st.scale.push(parseInt(v, 10)); });
    try { st.criteria = JSON.parse(root.getAttribute("data-criteria") || "[]"); } catch (e) { st.criteria = []; }
    fetch("/tasks/" + encodeURIComponent(root.getAttribute("data-task-id")) + "/chat", {
      credentials: "same-origin", headers: { "Accept": "application/json" },
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { status(root, body.error ? body.error.message : String(r.status), true); return; }
        st.opening = body.opening;
        st.max = body.max_turns;
        adopt(root, body);
        render(root);
      });
    });
    root.querySelector(".chatw-send").addEventListener("click", function () { send(root); });
    root.querySelector(".chatw-restart").addEventListener("click", function () { restart(root); });
    root.addEventListener("change", function () { refreshResult(root); saveJudgements(root); });
    root.addEventListener("input", function (e) {
      if (e.target.classList.contains("chatw-rewrite-text")) { refreshResult(root); saveJudgements(root); }
    });
  }
  function initAll() { document.querySelectorAll(".chatw").forEach(init); }

  function lastTurn(root) {
    var turns = root.querySelectorAll(".chatw-turn:not([data-pending])");
    return turns.length ? turns[turns.length - 1] : null;
  }
  function pick(turnEl, selector) {
    var input = turnEl && turnEl.querySelector(selector);
    if (!input) return false;
    input.checked = input.type === "checkbox" ? !input.checked : true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  // Captured before bastion.js hears the key: Ctrl+Enter in the message box sends it (not the form).
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.defaultPrevented) return;
    var widget = WIDGETS.active("chat");
    var root = widget && widget.querySelector('.chatw[data-live="yes"]');
    if (!root) return;
    var target = event.target;
    var inText = target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" && /^(text|search)$/i.test(target.type));
    if (inText) {
      if (!root.contains(target)) return;
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.classList.contains("chatw-input")) {
        event.preventDefault();
        send(root);
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();  // a rewrite is kept as typed; leave the box, then Enter submits
        target.blur();
      } else if (event.key === "Escape") {
        event.preventDefault();
        target.blur();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey) return;
    var turnEl = lastTurn(root);
    var key = event.key;
    var done = false;
    if (key === "m" || key === "M") {
      root.querySelector(".chatw-input").focus();
      done = true;
    } else if (event.shiftKey && /^Digit[1-9]$/.test(event.code)) {
      done = pick(turnEl, ".chatw-criteria label:nth-of-type(" + event.code.slice(5) + ") input");
    } else if (key === "a" || key === "A") {
      done = pick(turnEl, '.chatw-choice input[value="0"]');
    } else if (key === "b" || key === "B") {
      done = pick(turnEl, '.chatw-choice input[value="1"]');
    } else if (key === "t" || key === "T") {
      done = pick(turnEl, '.chatw-choice input[value="tie"]');
    } else if (/^[1-3]$/.test(key)) {
      done = pick(turnEl, '.chatw-strength input[value="' + STRENGTHS[parseInt(key, 10) - 1] + '"]');
    } else if ((key === "r" || key === "R") && turnEl && has(root, "rewrite")) {
      var chosen = turnEl.querySelector(".chatw-choice input:checked");
      var j = chosen && chosen.value !== "tie" ? parseInt(chosen.value, 10) : 0;
      if (turnEl.querySelectorAll(".chatw-rewrite-text")[j]) { openRewrite(root, turnEl, j); done = true; }
    } else if ((key === "e" || key === "E") && turnEl) {
      startEdit(root, parseInt(turnEl.getAttribute("data-index"), 10));
      done = true;
    }
    if (done) event.preventDefault();
  }, true);

  document.addEventListener("htmx:afterSwap", initAll);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initAll);
  else initAll();
})();
