/*
 * The shop assistant's chat widget for a store page. A seller pastes one tag:
 *
 *   <script src="https://<the web service>/widget.js" async></script>
 *
 * A storefront that knows who is signed in adds their signed identity (bot/shop/identity.py),
 * either as the tag's `data-identity='{"customer_id": ..., "expires": ..., "signature": ...}'`
 * or as `window.shopChat = {identity: {...}}`; the widget sends it with every message.
 *
 * It talks to the web service that served it (/api/chat, /api/chat/updates, /api/chat/history,
 * /api/chat/widget) and keeps the conversation id and the browser key in localStorage, so a
 * reload shows the whole conversation again. Everything lives in a shadow root: the store's
 * styles do not reach it, and it does not touch the store's. Texts are only ever set with
 * textContent: nothing a shopper, an agent or the bot wrote is read as HTML.
 */
(function () {
  "use strict";
  if (window.__shopChatWidget) return; // the tag pasted twice: one widget
  window.__shopChatWidget = true;

  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  var BASE = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var STORE = "shopChat:" + BASE + ":"; // localStorage keys, per web service
  var POLL_OPEN_MS = 2000;
  var POLL_CLOSED_MS = 8000; // closed while a person answers: their replies count on the badge
  var POLL_IDLE_MS = 60000; // closed, with the bot: nothing is expected
  var POLL_HIDDEN_MS = 20000; // the store's tab is in the background
  var BACKOFF_MAX_MS = 30000;
  var SEND_TIMEOUT_MS = 65000; // the bot may hold a message while a new model loads
  var READ_TIMEOUT_MS = 15000;
  var MAX_MESSAGE_CHARS = 2000;

  // ---- storage (a browser that refuses it still chats; it just forgets on reload) ----
  function load(name) {
    try { return window.localStorage.getItem(STORE + name); } catch (e) { return null; }
  }
  function save(name, value) {
    try {
      if (value === null || value === undefined || value === "") window.localStorage.removeItem(STORE + name);
      else window.localStorage.setItem(STORE + name, value);
    } catch (e) { /* storage refused */ }
  }
  function loadSession(name) {
    try { return window.sessionStorage.getItem(STORE + name); } catch (e) { return null; }
  }
  function saveSession(name, value) {
    try { window.sessionStorage.setItem(STORE + name, value); } catch (e) { /* storage refused */ }
  }

  var state = {
    sender: load("sender"),
    key: load("key"),
    cursor: 0, // the conversation's latest event we have seen
    seen: {}, // messages shown, by kind|time|text
    handoff: null,
    open: false,
    unread: 0,
    sending: 0, // messages sent and not answered yet (they go one after the other)
    starting: false,
    offline: false,
    resync: false, // after a lost connection: reload the whole history
    failures: 0,
    timer: null,
    queue: Promise.resolve(),
    chips: [],
    unsure: null, // a message whose answer was lost: it may have arrived anyway
    noticeKind: "",
    look: { title: "Chat with us", colour: "#2c5cc5", position: "right" }
  };

  // ---- the signed-in shopper, if the store says so ----
  function identity() {
    var attribute = script && script.getAttribute("data-identity");
    if (attribute) {
      try {
        var parsed = JSON.parse(attribute);
        if (parsed && typeof parsed === "object") return parsed;
      } catch (e) { /* not JSON: ignored */ }
    }
    var global = window.shopChat && window.shopChat.identity;
    return global && typeof global === "object" ? global : null;
  }

  // A conversation started by a signed-in customer is theirs: after they sign out, or another
  // customer signs in on this browser, a new one starts. A guest who signs in keeps theirs.
  (function forgetAnotherCustomersConversation() {
    var who = (identity() || {}).customer_id || "";
    var owner = load("customer") || "";
    if (state.sender && owner && owner !== who) {
      state.sender = null;
      save("sender", null);
    }
  })();

  // ---- talking to the web service ----
  function ApiError(status, message, retryAfter) {
    this.status = status;
    this.message = message;
    this.retryAfter = retryAfter;
  }

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (state.key) headers["X-Chat-Key"] = state.key;
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller && setTimeout(function () { controller.abort(); }, body !== undefined ? SEND_TIMEOUT_MS : READ_TIMEOUT_MS);
    return fetch(BASE + path, {
      method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin", cache: "no-store", signal: controller ? controller.signal : undefined
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (!response.ok) {
          var retry = Number(response.headers.get("Retry-After")) || 0;
          throw new ApiError(response.status, (data && data.error) || "The chat is not available right now (" + response.status + ").", retry);
        }
        return data || {};
      });
    }, function () {
      throw new ApiError(0, "The chat is not reachable.", 0);
    }).finally(function () { if (timer) clearTimeout(timer); });
  }

  // One request at a time: a poll never overlaps a message being sent, so the cursor is exact.
  function enqueue(task) {
    var run = state.queue.then(task, task);
    state.queue = run.catch(function () {});
    return run;
  }

  function isConnectionProblem(error) {
    return error.status === 0 || error.status >= 500;
  }

  // ---- the widget's elements, in a shadow root ----
  var host, root, launcher, badge, panel, titleEl, statusEl, closeButton, notice, log, typing, quick, form, input, sendButton;

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var CSS = [
    ":host { all: initial; }",
    "[hidden] { display: none !important; }",
    ".root { font: 15px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: #1d2330; }",
    ".root *, .root *::before, .root *::after { box-sizing: border-box; }",
    ".launcher { position: fixed; bottom: 20px; right: 20px; z-index: 2147483000; width: 60px; height: 60px; border-radius: 50%; border: 0; padding: 0;",
    "  background: var(--accent); color: var(--on-accent); box-shadow: 0 4px 14px rgba(0,0,0,.25); cursor: pointer; display: flex; align-items: center; justify-content: center; }",
    ".left .launcher { right: auto; left: 20px; }",
    ".launcher svg { width: 28px; height: 28px; fill: currentColor; }",
    ".launcher .icon-close, .is-open .launcher .icon-chat { display: none; }",
    ".is-open .launcher .icon-close { display: block; }",
    ".badge { position: absolute; top: -4px; right: -4px; min-width: 22px; height: 22px; padding: 0 6px; border-radius: 11px; border: 2px solid #fff;",
    "  background: #d93025; color: #fff; font-size: 12px; font-weight: 700; line-height: 18px; text-align: center; }",
    ".panel { position: fixed; bottom: 92px; right: 20px; z-index: 2147483001; width: 380px; height: 600px; max-height: calc(100vh - 112px);",
    "  display: flex; flex-direction: column; background: #fff; border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.28); overflow: hidden; }",
    ".left .panel { right: auto; left: 20px; }",
    ".head { display: flex; align-items: center; gap: 10px; padding: 12px 10px 12px 16px; background: var(--accent); color: var(--on-accent); }",
    ".head h2 { margin: 0; font-size: 16px; font-weight: 650; line-height: 1.25; }",
    ".status { margin: 1px 0 0; font-size: 13px; opacity: .92; display: flex; align-items: center; gap: 6px; }",
    ".status::before { content: ''; width: 8px; height: 8px; border-radius: 50%; background: #34c759; box-shadow: 0 0 0 2px rgba(255,255,255,.6); }",
    ".status.waiting::before { background: #ffb300; }",
    ".status.offline::before { background: #9aa3ae; }",
    ".close { margin-left: auto; flex: none; width: 40px; height: 40px; border: 0; border-radius: 50%; background: transparent; color: inherit; font-size: 26px; line-height: 1; cursor: pointer; }",
    ".close:hover { background: rgba(255,255,255,.18); }",
    ".notice { margin: 0; padding: 8px 14px; font-size: 13.5px; background: #fff4e5; color: #6b3d00; border-bottom: 1px solid #f3d8ad; }",
    ".notice.error { background: #fde8e8; color: #8a1c1c; border-color: #f5c2c2; }",
    ".log { flex: 1; min-height: 0; overflow-y: auto; overscroll-behavior: contain; padding: 14px 12px; background: #f5f6f8; display: flex; flex-direction: column; gap: 10px; }",
    ".msg { max-width: 85%; display: flex; flex-direction: column; align-items: flex-start; }",
    ".msg-shopper { align-self: flex-end; align-items: flex-end; }",
    ".meta { display: flex; align-items: center; gap: 6px; margin: 0 4px 3px; font-size: 11.5px; color: #5b6674; }",
    ".tag { padding: 0 5px; border-radius: 4px; font-size: 10px; font-weight: 700; letter-spacing: .04em; text-transform: uppercase; background: #e2e6eb; color: #3b4654; }",
    ".tag-person { background: #cdebd6; color: #1d5b2f; }",
    ".bubble { padding: 8px 12px; border-radius: 16px; white-space: pre-wrap; overflow-wrap: anywhere; }",
    ".msg-bot .bubble { background: #fff; border: 1px solid #e1e4e8; border-bottom-left-radius: 4px; }",
    ".msg-agent .bubble { background: #e7f5eb; border: 1px solid #bfe2c9; border-bottom-left-radius: 4px; }",
    ".msg-shopper .bubble { background: var(--accent); color: var(--on-accent); border-bottom-right-radius: 4px; }",
    ".pending .bubble { opacity: .65; }",
    ".links { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }",
    ".links a { padding: 6px 12px; border-radius: 16px; border: 1px solid var(--accent-text); color: var(--accent-text); background: #fff; text-decoration: none; font-size: 13.5px; }",
    ".typing { display: flex; gap: 4px; align-self: flex-start; padding: 10px 14px; margin: 0 12px 8px; border-radius: 16px; background: #fff; border: 1px solid #e1e4e8; }",
    ".typing span { width: 7px; height: 7px; border-radius: 50%; background: #8a94a3; animation: sc-blink 1.2s infinite ease-in-out; }",
    ".typing span:nth-child(2) { animation-delay: .2s; } .typing span:nth-child(3) { animation-delay: .4s; }",
    "@keyframes sc-blink { 0%, 80%, 100% { opacity: .25; transform: translateY(0); } 40% { opacity: 1; transform: translateY(-3px); } }",
    ".below { background: #f5f6f8; }",
    ".quick { display: flex; flex-wrap: wrap; gap: 6px; padding: 8px 12px; max-height: 35%; overflow-y: auto; background: #fff; border-top: 1px solid #eceef1; }",
    ".chip { padding: 6px 12px; border-radius: 16px; border: 1px solid var(--accent-text); background: #fff; color: var(--accent-text); font: inherit; font-size: 13.5px; text-align: left; cursor: pointer; }",
    ".chip:hover { background: var(--accent-soft); }",
    ".form { display: flex; gap: 8px; padding: 10px 12px; border-top: 1px solid #eceef1; background: #fff; }",
    ".input { flex: 1; min-width: 0; padding: 9px 14px; border: 1px solid #c3c9d1; border-radius: 20px; font: inherit; font-size: 16px; color: #1d2330; background: #fff; }",
    ".send { flex: none; padding: 0 16px; border: 0; border-radius: 20px; background: var(--accent); color: var(--on-accent); font: inherit; font-weight: 650; cursor: pointer; }",
    ".sr-only { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }",
    ".root :focus-visible { outline: 3px solid #1a73e8; outline-offset: 2px; }",
    "@media (max-width: 600px) {",
    "  .panel, .left .panel { top: 0; right: 0; bottom: 0; left: 0; width: 100%; height: 100%; max-height: none; border-radius: 0; }",
    "  .is-open .launcher { display: none; }",
    "}",
    "@media (prefers-reduced-motion: reduce) { .typing span { animation: none; opacity: .7; } }"
  ].join("\n");

  var CHAT_ICON = '<svg class="icon-chat" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z"/></svg>' +
    '<svg class="icon-close" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M12 15.4 5.3 8.7l1.4-1.4 5.3 5.3 5.3-5.3 1.4 1.4z"/></svg>';

  function build() {
    host = element("div", { id: "shop-chat-widget" });
    var shadow = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var style = element("style");
    style.textContent = CSS;
    root = element("div", { "class": "root" });

    launcher = element("button", { type: "button", id: "sc-launcher", "class": "launcher", "aria-expanded": "false", "aria-controls": "sc-panel" });
    launcher.innerHTML = CHAT_ICON; // our own constant, no text from anyone
    badge = element("span", { id: "sc-badge", "class": "badge", "aria-hidden": "true", hidden: "" });
    launcher.appendChild(badge);

    panel = element("div", { id: "sc-panel", "class": "panel", role: "dialog", "aria-modal": "false", hidden: "" });
    var head = element("div", { "class": "head" });
    var heading = element("div");
    titleEl = element("h2", { id: "sc-title" });
    statusEl = element("p", { id: "sc-status", "class": "status" }, "Assistant");
    heading.appendChild(titleEl);
    heading.appendChild(statusEl);
    closeButton = element("button", { type: "button", id: "sc-close", "class": "close", "aria-label": "Close chat" }, "\u00d7");
    head.appendChild(heading);
    head.appendChild(closeButton);

    notice = element("p", { id: "sc-notice", "class": "notice", role: "status", hidden: "" });
    log = element("div", { id: "sc-log", "class": "log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
    var below = element("div", { "class": "below" });
    typing = element("div", { id: "sc-typing", "class": "typing", role: "status", hidden: "" });
    typing.appendChild(element("span", { "class": "sr-only" }, "The assistant is typing\u2026"));
    for (var i = 0; i < 3; i++) typing.appendChild(element("span", { "aria-hidden": "true" }));
    quick = element("div", { id: "sc-quick", "class": "quick", role: "group", "aria-label": "Suggested replies", hidden: "" });
    below.appendChild(typing);

    form = element("form", { id: "sc-form", "class": "form" });
    var label = element("label", { "for": "sc-input", "class": "sr-only" }, "Your message");
    input = element("input", {
      id: "sc-input", "class": "input", type: "text", autocomplete: "off", maxlength: String(MAX_MESSAGE_CHARS),
      placeholder: "Write a message\u2026", "aria-describedby": "sc-notice"
    });
    sendButton = element("button", { type: "submit", id: "sc-send", "class": "send", "aria-label": "Send message" }, "Send");
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(sendButton);

    panel.appendChild(head);
    panel.appendChild(notice);
    panel.appendChild(log);
    panel.appendChild(below);
    panel.appendChild(quick);
    panel.appendChild(form);
    root.appendChild(launcher);
    root.appendChild(panel);
    shadow.appendChild(style);
    shadow.appendChild(root);
    document.body.appendChild(host);

    launcher.addEventListener("click", function () { if (state.open) closePanel(); else openPanel(); });
    closeButton.addEventListener("click", function () { closePanel(); });
    root.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && state.open) {
        event.preventDefault();
        closePanel();
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) return;
      input.value = "";
      send(text, text).then(function (sent) {
        // What the shopper wrote is never lost (before anything typed since).
        if (!sent) input.value = input.value.trim() ? text + " " + input.value : text;
      });
    });
    applyLook(state.look);
    updateBadge();
  }

  // ---- the look the seller chose on the admin page ----
  function channel(hex, at) { return parseInt(hex.substr(at, 2), 16) / 255; }
  function luminance(hex) {
    var rgb = [1, 3, 5].map(function (at) {
      var c = channel(hex, at);
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
  }
  function contrast(a, b) { return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); }

  function applyLook(look) {
    var colour = /^#[0-9a-fA-F]{6}$/.test(look.colour || "") ? look.colour : "#2c5cc5";
    var light = luminance(colour);
    root.style.setProperty("--accent", colour);
    // Text on the colour: white or near-black, whichever reads better.
    root.style.setProperty("--on-accent", contrast(light, 1) >= contrast(light, luminance("#1d2330")) ? "#ffffff" : "#1d2330");
    // The colour as text on white (chips, links) only where it is readable.
    root.style.setProperty("--accent-text", contrast(light, 1) >= 3 ? colour : "#1d2330");
    root.style.setProperty("--accent-soft", colour + "1a");
    root.classList.toggle("left", look.position === "left");
    titleEl.textContent = look.title || "Chat with us";
    panel.setAttribute("aria-label", look.title || "Chat with us");
    updateBadge();
  }

  function fetchLook() {
    api("GET", "/api/chat/widget").then(function (look) {
      state.look = { title: look.title, colour: look.colour, position: look.position };
      applyLook(state.look);
    }, function () { /* the defaults stay */ });
  }

  // ---- showing messages ----
  function formatTime(at) {
    var date = new Date((at || Date.now() / 1000) * 1000);
    var time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    var today = new Date();
    if (date.toDateString() === today.toDateString()) return time;
    return date.toLocaleDateString([], { day: "numeric", month: "short" }) + " " + time;
  }

  function linkOf(button) {
    var target = button.url || (/^https?:\/\//i.test(button.payload || "") ? button.payload : null);
    if (!target) return null;
    try {
      var url = new URL(target, location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) { return null; }
  }

  function messageKey(message) {
    return [message.from, message.at, message.agent || "", message.text || ""].join("|");
  }

  function addMessage(message, pending) {
    var from = message.from === "shopper" ? "shopper" : message.from === "agent" ? "agent" : "bot";
    var item = element("div", { "class": "msg msg-" + from + (pending ? " pending" : ""), "data-from": from });
    var meta = element("div", { "class": "meta" });
    if (from === "shopper") {
      meta.appendChild(element("span", { "class": "who" }, "You"));
    } else if (from === "agent") {
      meta.appendChild(element("span", { "class": "who" }, message.agent || "Our team"));
      meta.appendChild(element("span", { "class": "tag tag-person" }, "person"));
    } else {
      meta.appendChild(element("span", { "class": "who" }, "Assistant"));
      meta.appendChild(element("span", { "class": "tag tag-bot" }, "bot"));
    }
    var at = message.at || Date.now() / 1000;
    var time = element("time", { datetime: new Date(at * 1000).toISOString() }, formatTime(at));
    meta.appendChild(time);
    item.appendChild(meta);
    if (message.text) item.appendChild(element("div", { "class": "bubble" }, message.text));

    var payloadButtons = [];
    var links = element("div", { "class": "links" });
    (message.buttons || []).forEach(function (button) {
      var href = linkOf(button);
      if (href) {
        var link = element("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, (button.title || href) + " \u2197");
        link.setAttribute("aria-label", (button.title || href) + " (opens in a new tab)");
        links.appendChild(link);
      } else if (button.payload) {
        payloadButtons.push(button);
      }
    });
    if (links.childNodes.length) item.appendChild(links);
    // Follow the conversation, unless the shopper scrolled up to read (their own message: always).
    var following = from === "shopper" || log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    // An answer goes above the shopper's messages still waiting for theirs.
    var waiting = pending ? null : log.querySelector(".pending");
    if (waiting) log.insertBefore(item, waiting);
    else log.appendChild(item);

    // The latest answer's buttons are the quick replies; a message of the shopper's, or a
    // person's reply, ends them.
    if (from === "shopper" || from === "agent") setChips([]);
    if (payloadButtons.length && !waiting) setChips(payloadButtons);
    if (from !== "shopper" && !pending && !state.open) {
      state.unread += 1;
      updateBadge();
    }
    if (following) log.scrollTop = log.scrollHeight;
    return item;
  }

  function hasContent(message) {
    return !!(message.text || (message.buttons && message.buttons.length));
  }

  function showMessages(messages) {
    messages.filter(hasContent).forEach(function (message) {
      var key = messageKey(message);
      if (state.seen[key]) return; // shown already
      state.seen[key] = true;
      addMessage(message, false);
    });
  }

  function clearLog() {
    while (log.firstChild) log.removeChild(log.firstChild);
    state.seen = {};
    setChips([]);
  }

  function setChips(buttons) {
    state.chips = buttons.slice();
    while (quick.firstChild) quick.removeChild(quick.firstChild);
    buttons.forEach(function (button) {
      var chip = element("button", { type: "button", "class": "chip" }, button.title || button.payload);
      chip.addEventListener("click", function () {
        input.focus(); // the chips go: keyboard focus stays in the chat
        send(button.payload, button.title || button.payload);
      });
      quick.appendChild(chip);
    });
    quick.hidden = buttons.length === 0;
  }

  function setHandoff(handoff) {
    state.handoff = handoff || null;
    var waiting = handoff && handoff.status !== "claimed";
    statusEl.textContent = !handoff ? "Assistant" : handoff.status === "claimed"
      ? (handoff.agent || "A person") + " from our team" : "Waiting for a person\u2026";
    statusEl.classList.toggle("waiting", !!waiting);
  }

  // kind: "reconnecting", "unsent" (the text is kept in the input), "info"
  function showNotice(text, kind) {
    state.noticeKind = text ? kind || "info" : "";
    notice.textContent = text || "";
    notice.hidden = !text;
    notice.classList.toggle("error", state.noticeKind === "unsent");
  }

  function showTyping(on) {
    typing.hidden = !on;
    if (on) log.scrollTop = log.scrollHeight;
  }

  function updateBadge() {
    badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
    badge.hidden = state.unread === 0 || state.open;
    var title = state.look.title || "Chat with us";
    launcher.setAttribute("aria-label", state.open ? "Close chat" : state.unread
      ? "Open chat: " + title + ", " + state.unread + " new message" + (state.unread === 1 ? "" : "s")
      : "Open chat: " + title);
  }

  // ---- the conversation ----
  function adopt(answer) {
    if (answer.key && answer.key !== state.key) { state.key = answer.key; save("key", answer.key); }
    if (answer.sender && answer.sender !== state.sender) {
      state.sender = answer.sender;
      save("sender", answer.sender);
      save("customer", (identity() || {}).customer_id || "");
    }
  }

  // Replies after the cursor: an agent's, the bot's after the agents' timeout.
  function catchUp() {
    if (!state.sender) return Promise.resolve();
    var path = "/api/chat/updates?sender=" + encodeURIComponent(state.sender) + "&after=" + encodeURIComponent(String(state.cursor));
    return api("GET", path).then(function (data) {
      if (typeof data.cursor === "number") state.cursor = Math.max(state.cursor, data.cursor);
      setHandoff(data.handoff);
      showMessages(data.replies || []);
    });
  }

  // The whole conversation, the shopper's own messages too: at start, and after a lost connection.
  function loadHistory() {
    if (!state.sender) return Promise.resolve();
    return api("GET", "/api/chat/history?sender=" + encodeURIComponent(state.sender)).then(function (data) {
      var messages = data.messages || [];
      var unread = state.unread;
      var waiting = Array.prototype.slice.call(log.querySelectorAll(".pending")); // sent meanwhile: still to come
      clearLog();
      state.resync = false;
      if (!messages.length) { // the service knows no such conversation: a new one when opened
        forgetConversation();
        if (state.open) startConversation();
        return;
      }
      showMessages(messages);
      waiting.forEach(function (item) { log.appendChild(item); });
      state.unread = unread; // the history is no news
      updateBadge();
      state.cursor = typeof data.cursor === "number" ? data.cursor : 0;
      setHandoff(data.handoff);
      var unsure = state.unsure;
      state.unsure = null;
      if (unsure) {
        var mine = messages.filter(function (m) { return m.from === "shopper"; }).pop();
        if (mine && mine.text === unsure.shown && (mine.at || 0) >= unsure.at - 5 && input.value === unsure.text) {
          input.value = "";
          showNotice("Your message reached us after all.", "info");
        }
      }
    });
  }

  function forgetConversation() {
    state.sender = null;
    save("sender", null);
    save("customer", null);
    state.cursor = 0;
    setHandoff(null);
    clearLog();
  }

  // A message (or the opening `/session_start`, shown = null): the bot's replies, then what
  // came meanwhile. False if it was not sent (the caller keeps the text).
  function send(text, shown) {
    if (text.length > MAX_MESSAGE_CHARS) {
      showNotice("Your message is " + text.length + " characters long; please keep it under " + MAX_MESSAGE_CHARS + ".", "unsent");
      return Promise.resolve(false);
    }
    state.sending += 1;
    if (!state.offline && shown !== null && state.noticeKind !== "unsent") showNotice("");
    var offered = state.chips;
    var pending = shown === null ? null : addMessage({ from: "shopper", text: shown, buttons: [], at: Date.now() / 1000 }, true);
    var attempted = Date.now() / 1000;
    showTyping(true);
    var delivered = false;
    return enqueue(function () {
      var body = { message: text };
      // With our cursor, the answer holds every reply since: an agent's that came meanwhile too.
      if (state.sender) { body.sender = state.sender; body.after = state.cursor; }
      var who = identity();
      if (who) body.metadata = who;
      return api("POST", "/api/chat", body).then(function (answer) {
        delivered = true;
        adopt(answer);
        // A conversation a signed-in customer used is theirs: it ends for this browser when they sign out.
        if (who && typeof who.customer_id === "string") save("customer", who.customer_id);
        if (pending) pending.classList.remove("pending");
        showTyping(state.sending > 1);
        if (state.offline) backOnline();
        if (shown !== null) showNotice("");
        showMessages(answer.replies || []);
        if (typeof answer.cursor === "number") state.cursor = Math.max(state.cursor, answer.cursor);
        setHandoff(answer.handoff);
        schedule(pollDelay());
      });
    }).then(function () {
      return true;
    }, function (error) {
      if (delivered) return true;
      if (pending && pending.parentNode) {
        pending.parentNode.removeChild(pending);
        setChips(offered); // as they were: a tap can try again
      }
      if (error.status === 403) {
        startOver();
      } else if (isConnectionProblem(error)) {
        if (error.status === 0) state.unsure = { text: text, shown: shown, at: attempted };
        connectionLost(error);
        if (shown !== null) showNotice("Not sent: " + error.message + " Reconnecting\u2026 Your message is kept below; send it again once we're back.", "unsent");
      } else if (shown !== null) {
        var wait = error.status === 429 && error.retryAfter ? " (try again in " + error.retryAfter + " s)" : "";
        showNotice("Not sent: " + error.message + wait + " Your message is kept below.", "unsent");
      }
      return false;
    }).finally(function () {
      state.sending -= 1;
      showTyping(state.sending > 0);
    });
  }

  function startConversation() {
    if (state.sender || state.starting) return;
    state.starting = true;
    send("/session_start", null).then(function (sent) {
      state.starting = false;
      if (!sent && !state.sender && state.open) {
        setTimeout(startConversation, Math.max(2000, backoffDelay()));
      }
    });
  }

  function startOver() {
    forgetConversation();
    showNotice("This chat was opened in another browser, so here is a new one.", "info");
    if (state.open) startConversation();
  }

  // ---- staying connected ----
  function backoffDelay() {
    var delay = Math.min(BACKOFF_MAX_MS, 1000 * Math.pow(2, Math.max(0, state.failures - 1)));
    return delay * (0.8 + Math.random() * 0.4);
  }

  function connectionLost(error) {
    state.failures += 1;
    state.resync = true; // a message may have been answered while the answer was lost
    statusEl.classList.add("offline");
    if (!state.offline) {
      state.offline = true;
      if (state.noticeKind !== "unsent") {
        showNotice("Reconnecting\u2026 " + (error && error.status ? error.message : "The chat is not reachable right now."), "reconnecting");
      }
    }
    schedule(error && error.status === 429 && error.retryAfter ? error.retryAfter * 1000 : backoffDelay());
  }

  function backOnline() {
    state.offline = false;
    statusEl.classList.remove("offline");
    state.failures = 0;
    if (state.noticeKind === "reconnecting") showNotice("");
    else if (state.noticeKind === "unsent" && input.value) {
      showNotice("Connected again. Your message is still below: press Enter to send it.", "unsent");
    }
  }

  function pollDelay() {
    if (document.hidden) return POLL_HIDDEN_MS;
    if (state.open) return POLL_OPEN_MS;
    return state.handoff ? POLL_CLOSED_MS : POLL_IDLE_MS;
  }

  function schedule(delay) {
    clearTimeout(state.timer);
    state.timer = setTimeout(tick, delay);
  }

  function tick() {
    if (!state.sender) { schedule(pollDelay()); return; }
    enqueue(function () {
      return state.resync ? loadHistory() : catchUp();
    }).then(function () {
      if (state.offline) backOnline();
      state.failures = 0;
      schedule(pollDelay());
    }, function (error) {
      if (error.status === 403) { startOver(); schedule(pollDelay()); return; }
      connectionLost(error);
    });
  }

  // ---- opening and closing ----
  // On a phone the open chat fills the screen: the store's page behind it does not scroll.
  var phone = window.matchMedia ? window.matchMedia("(max-width: 600px)") : null;
  var pageOverflow = null;
  function lockPageScroll() {
    var lock = state.open && phone && phone.matches;
    var page = document.documentElement;
    if (lock && pageOverflow === null) {
      pageOverflow = page.style.overflow;
      page.style.overflow = "hidden";
    } else if (!lock && pageOverflow !== null) {
      page.style.overflow = pageOverflow;
      pageOverflow = null;
    }
  }

  function openPanel() {
    state.open = true;
    saveSession("open", "1");
    panel.hidden = false;
    root.classList.add("is-open");
    launcher.setAttribute("aria-expanded", "true");
    state.unread = 0;
    updateBadge();
    log.scrollTop = log.scrollHeight;
    input.focus();
    lockPageScroll();
    if (!state.sender) {
      startConversation();
      schedule(pollDelay());
    } else {
      schedule(0);
    }
  }

  function closePanel() {
    state.open = false;
    saveSession("open", "");
    panel.hidden = true;
    root.classList.remove("is-open");
    launcher.setAttribute("aria-expanded", "false");
    updateBadge();
    lockPageScroll();
    launcher.focus();
    schedule(pollDelay());
  }

  function boot() {
    build();
    fetchLook();
    window.addEventListener("online", function () { schedule(0); });
    window.addEventListener("offline", function () { connectionLost(new ApiError(0, "", 0)); });
    document.addEventListener("visibilitychange", function () { if (!document.hidden) schedule(0); });
    if (phone && phone.addEventListener) phone.addEventListener("change", lockPageScroll);
    if (state.sender) {
      enqueue(loadHistory).then(function () { schedule(pollDelay()); }, function (error) {
        if (error.status === 403) startOver();
        else connectionLost(error);
      });
    } else {
      schedule(pollDelay());
    }
    if (loadSession("open") === "1") openPanel(); // it was open before the reload
  }

  if (document.body) boot();
  else document.addEventListener("DOMContentLoaded", boot);
})();
