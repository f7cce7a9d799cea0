/* Charla agent inbox: the live client.
 *
 * The server renders every fragment (rows, messages, panes) once and sends
 * it in `data.html` of socket frames (docs: PROTOCOL.md); this file only
 * decides where fragments go. Fragments are neutral to the viewer, so the
 * "mine" styling, the active row, local times and the words in the agent's
 * language are applied here from data attributes.
 *
 * Loaded without `defer` (before Alpine starts) so the `composer` component
 * is registered in time; DOM work waits for DOMContentLoaded.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  var PING_MS = 25000;
  var PONG_TIMEOUT_MS = 10000;
  var ACK_TIMEOUT_MS = 8000;
  var TYPING_REFRESH_MS = 4000;
  var TYPING_IDLE_MS = 2500;
  var TYPING_EXPIRE_MS = 7000;
  var TOAST_MS = 9000;

  var state = {
    config: null,
    socket: null,
    retries: 0,
    everConnected: false,
    reconnectTimer: null,
    pingTimer: null,
    pongTimer: null,
    joined: null,
    paneId: null,
    pending: new Map(),
    typing: new Map(),
    myTyping: { conversationId: null, active: false, lastSent: 0, timer: null, private: false },
    conversations: new Map(),
    countsTimer: null,
    headerTimer: null,
    paneRequests: 0,
    stickBottom: true,
    readTimer: null,
    lastReadSent: new Map(),
    localBadge: 0,
    audio: null,
    sound: true,
  };
  try { state.sound = localStorage.getItem("charla.sound") !== "off"; } catch (e) { /* private mode */ }

  // --- small helpers -----------------------------------------------------------

  function cfg() {
    if (!state.config) {
      var el = document.getElementById("inbox-config");
      state.config = el ? JSON.parse(el.textContent) : null;
    }
    return state.config;
  }

  function t(key, params) {
    var c = cfg();
    var text = (c && c.i18n && c.i18n[key]) || key;
    if (params) {
      Object.keys(params).forEach(function (name) {
        text = text.split("%(" + name + ")s").join(String(params[name]));
      });
    }
    return text;
  }

  function me() { var c = cfg(); return c ? c.memberId : null; }
  function byId(id) { return document.getElementById(id); }
  function inboxEl() { return byId("inbox"); }
  function currentView() { var el = inboxEl(); return el ? el.dataset.view : ""; }
  function currentFilters() {
    var el = inboxEl();
    try { return el ? JSON.parse(el.dataset.filters || "{}") : {}; } catch (e) { return {}; }
  }
  function paneEl() { return byId("conversation-pane"); }
  function openConversationId() {
    var pane = paneEl();
    var id = pane ? parseInt(pane.dataset.conversationId || "", 10) : NaN;
    return isNaN(id) ? null : id;
  }
  function conversationUrl(id) { return (cfg() ? cfg().urls.conversations : "/app/conversations/") + id + "/"; }
  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (e) { return ""; }
  }
  function cssEscape(value) { return window.CSS && CSS.escape ? CSS.escape(value) : String(value).replace(/"/g, '\\"'); }
  function fromHtml(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = String(html).trim();
    return tpl.content.firstElementChild;
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) { try { return crypto.randomUUID(); } catch (e) { /* insecure context */ } }
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }
  function hostOf(url) {
    var text = String(url || "").replace(/^https?:\/\//, "");
    return text.split("?")[0].split("#")[0].replace(/\/$/, "") || text;
  }
  function isoNow() { return new Date().toISOString(); }
  function locale() { return document.documentElement.lang || navigator.language || "en"; }

  function processNode(node) {
    if (!node) return;
    if (window.htmx) htmx.process(node);
    localizeTimes(node);
    applyI18n(node);
  }

  // --- words and times ---------------------------------------------------------------

  /** ``root`` itself when it matches, and its descendants that match. */
  function within(root, selector) {
    var found = Array.prototype.slice.call(root.querySelectorAll(selector));
    if (root.matches && root.matches(selector)) found.unshift(root);
    return found;
  }

  function applyI18n(root) {
    var c = cfg();
    if (!c || !root.querySelectorAll) return;
    within(root, "[data-i18n]").forEach(function (el) {
      var text = c.i18n[el.dataset.i18n];
      if (text) el.textContent = text;
    });
    within(root, ".msg[data-sender='agent']").forEach(function (el) {
      if (String(el.dataset.senderMember) === String(me())) {
        el.classList.add("msg--mine");
        var author = el.querySelector(".msg__author");
        if (author) author.textContent = t("you");
      }
    });
    within(root, ".conv-row").forEach(decorateRow);
  }

  function dayKey(date) { return date.getFullYear() + "-" + (date.getMonth() + 1) + "-" + date.getDate(); }

  function dayLabel(date) {
    var today = new Date();
    var yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (dayKey(date) === dayKey(today)) return t("today");
    if (dayKey(date) === dayKey(yesterday)) return t("yesterday");
    var options = { weekday: "long", day: "numeric", month: "long" };
    if (date.getFullYear() !== today.getFullYear()) options.year = "numeric";
    return date.toLocaleDateString(locale(), options);
  }

  function relative(date) {
    var seconds = (Date.now() - date.getTime()) / 1000;
    if (seconds < 60) return t("now");
    if (seconds < 3600) return t("minutes_short", { n: Math.floor(seconds / 60) });
    var now = new Date();
    if (dayKey(date) === dayKey(now)) return date.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" });
    if (seconds < 6 * 86400) return date.toLocaleDateString(locale(), { weekday: "short" });
    return date.toLocaleDateString(locale(), { day: "numeric", month: "short" });
  }

  function relativeLong(date) {
    var seconds = Math.round((date.getTime() - Date.now()) / 1000);
    if (!window.Intl || !Intl.RelativeTimeFormat) return relative(date);
    var rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
    var abs = Math.abs(seconds);
    if (abs < 60) return rtf.format(0, "second");
    if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
    if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
    return rtf.format(Math.round(seconds / 86400), "day");
  }

  function waited(date) {
    var minutes = Math.max(0, Math.floor((Date.now() - date.getTime()) / 60000));
    if (minutes < 60) return t("minutes_short", { n: minutes });
    if (minutes < 48 * 60) return t("hours_short", { n: Math.floor(minutes / 60) });
    return t("days_short", { n: Math.floor(minutes / 1440) });
  }

  function localizeTimes(root) {
    if (!root.querySelectorAll) return;
    within(root, "time[datetime]").forEach(function (el) {
      var value = el.getAttribute("datetime");
      if (!value) return;
      var date = new Date(value);
      if (isNaN(date.getTime())) return;
      var kind = el.dataset.time;
      if (el.getAttribute("data-relative") === "long") el.textContent = relativeLong(date);
      else if (el.hasAttribute("data-relative")) el.textContent = relative(date);
      else if (kind === "date") el.textContent = date.toLocaleDateString(locale(), { day: "numeric", month: "short", year: "numeric" });
      else if (kind === "datetime") el.textContent = date.toLocaleString(locale(), { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
      else if (el.hasAttribute("data-time")) el.textContent = date.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" });
      el.title = date.toLocaleString(locale());
    });
  }

  // --- rows ------------------------------------------------------------------------------

  function decorateRow(row) {
    var id = parseInt(row.dataset.conversationId, 10);
    if (id === openConversationId()) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
    row.classList.toggle("is-mine", String(row.dataset.assignee) === String(me()));
    var c = cfg();
    var sla = row.querySelector("[data-sla]");
    if (sla && c) {
      var since = row.dataset.awaitingSince;
      var open = row.dataset.status !== "closed";
      if (since && open) {
        var date = new Date(since);
        var minutes = (Date.now() - date.getTime()) / 60000;
        var limit = c.slaMinutes || 30;
        sla.hidden = minutes < limit / 2;
        sla.classList.toggle("is-breached", minutes >= limit);
        var slaText = sla.querySelector("[data-sla-text]");
        if (slaText) slaText.textContent = waited(date);
        sla.title = t("waiting", { time: waited(date) });
      } else {
        sla.hidden = true;
      }
    }
    if (!state.conversations.has(id)) {
      state.conversations.set(id, { assigneeId: row.dataset.assignee ? parseInt(row.dataset.assignee, 10) : null, status: row.dataset.status });
    }
  }

  function markActiveRow() {
    document.querySelectorAll("#conv-rows > .conv-row").forEach(decorateRow);
  }

  function rowKey(row) {
    return {
      id: parseInt(row.dataset.conversationId, 10),
      priority: parseInt(row.dataset.priority || "1", 10),
      queued: row.dataset.queuedAt ? Date.parse(row.dataset.queuedAt) : Infinity,
      last: row.dataset.lastMessageAt ? Date.parse(row.dataset.lastMessageAt) : Infinity,
      closed: row.dataset.closedAt ? Date.parse(row.dataset.closedAt) : Infinity,
    };
  }

  /** Negative when row a comes before row b in the list's order (the selector's ORDER BY). */
  function compareRows(a, b, view) {
    var ka = rowKey(a), kb = rowKey(b);
    if (view === "queue") {
      if (ka.priority !== kb.priority) return kb.priority - ka.priority;
      if (ka.queued !== kb.queued) return ka.queued < kb.queued ? -1 : 1;
      return ka.id - kb.id;
    }
    var field = view === "closed" ? "closed" : "last";
    if (ka[field] !== kb[field]) return ka[field] > kb[field] ? -1 : 1;
    return kb.id - ka.id;
  }

  function belongsInView(c, view, filters) {
    var assignee = c.assignee ? c.assignee.id : null;
    var ok;
    if (view === "queue") ok = c.status === "queued" && assignee === null;
    else if (view === "mine") ok = assignee === me() && c.status !== "closed";
    else if (view === "open") ok = c.status !== "closed";
    else if (view === "closed") ok = c.status === "closed";
    else ok = true;
    if (!ok) return false;
    if (filters.site && c.site_id !== filters.site) return false;
    if (filters.channel && c.channel !== filters.channel) return false;
    if (filters.campaign && (!c.campaign || c.campaign.id !== filters.campaign)) return false;
    if (Object.prototype.hasOwnProperty.call(filters, "priority") && c.priority !== filters.priority) return false;
    return true;
  }

  function toggleEmpty(list) {
    var empty = byId("conv-empty");
    if (empty) empty.hidden = !!list.querySelector(".conv-row");
  }

  function insertSorted(list, node, view) {
    var rows = list.querySelectorAll(":scope > .conv-row");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i] !== node && compareRows(node, rows[i], view) < 0) {
        list.insertBefore(node, rows[i]);
        return true;
      }
    }
    if (list.querySelector(":scope > [data-more]")) return false; // it belongs to a page not loaded yet
    var tail = list.querySelector(":scope > #conv-empty");
    list.insertBefore(node, tail);
    return true;
  }

  function removeRow(row) {
    row.classList.add("is-leaving");
    setTimeout(function () {
      var list = row.parentElement;
      row.remove();
      if (list) toggleEmpty(list);
    }, 180);
  }

  function updateList(c, html) {
    var list = byId("conv-rows");
    if (!list) return;
    var view = currentView();
    var filters = currentFilters();
    var existing = byId("conv-row-" + c.id);
    if (!belongsInView(c, view, filters)) {
      if (existing) removeRow(existing);
      return;
    }
    html = html || renderRow(c);
    if (!html) return;
    var node = fromHtml(html);
    if (!node) return;
    if (existing) {
      var typingPreview = existing.querySelector(".conv-row__preview.is-typing");
      existing.remove();
      if (!insertSorted(list, node, view)) return;
      if (typingPreview) setRowTyping(c.id, true);
    } else {
      if (filters.q) return; // a search result list: matching is the server's job
      if (!insertSorted(list, node, view)) return;
      node.classList.add("is-new");
    }
    processNode(node);
    decorateRow(node);
    toggleEmpty(list);
  }

  // A list row drawn from a conversation's data: the markup of conversations/html.py
  // (conversation_row), for message.created, which carries the data and not the row
  // (docs/protocol.md). Times and labels are then localized as on every row (processNode);
  // tests/browser/test_row_render.py holds it to the server's row.
  function esc(value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g, function (ch) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;" }[ch];
    });
  }

  function initials(value) {
    var text = String(value || "").trim();
    if (text.indexOf("@") !== -1 && text.indexOf(" ") === -1) text = text.split("@")[0];
    var words = text.replace(/[._]/g, " ").split(/\s+/).filter(function (w) { return /^\p{L}/u.test(w); });
    if (!words.length) return "";
    var first = Array.from(words[0])[0].toUpperCase();
    return words.length === 1 ? first : first + Array.from(words[words.length - 1])[0].toUpperCase();
  }

  function avatarColour(kit, seed) {
    var sum = 0;
    Array.from(String(seed == null ? "" : seed)).forEach(function (ch) { sum += ch.codePointAt(0); });
    return kit.colours[sum % kit.colours.length];
  }

  function renderRow(c) {
    var kit = cfg() && cfg().row;
    if (!kit || !c.contact) return "";
    var url = esc(conversationUrl(c.id));
    var contact = c.contact;
    var a = c.assignee;
    var blank = function (v) { return v == null ? "" : v; };
    var data = [
      ["conversation-id", c.id], ["contact-id", contact.id], ["status", c.status], ["assignee", blank(a && a.id)],
      ["campaign", blank(c.campaign && c.campaign.id)], ["site", blank(c.site_id)], ["channel", c.channel],
      ["priority", c.priority], ["unread", c.unread], ["queued-at", blank(c.queued_at)],
      ["last-message-at", blank(c.last_message_at)], ["closed-at", blank(c.closed_at)],
      ["awaiting-since", blank(c.awaiting_reply_since)],
    ].map(function (pair) { return "data-" + pair[0] + '="' + esc(pair[1]) + '"'; }).join(" ");
    var channelIcon = kit.icons[kit.channelIcons[c.channel] || "message"] || "";
    var out = '<a class="conv-row' + (c.unread ? " is-unread" : "") + '" id="conv-row-' + esc(c.id) + '" href="' + url + '" ' +
      'hx-get="' + url + '" ' + data + ">\n" +
      '  <span class="conv-row__avatar avatar" style="--avatar-bg: ' + esc(avatarColour(kit, contact.id)) + '">' +
      esc(initials(contact.name) || "#") + '<span class="presence-dot" data-contact-online="' + esc(contact.id) + '" ' +
      'data-online="' + (contact.online ? "true" : "false") + '"></span></span>\n' +
      '  <span class="conv-row__body">\n' +
      '    <span class="conv-row__top">\n' +
      '      <span class="conv-row__name">' + esc(contact.name) + "</span>\n" +
      '      <time class="conv-row__time" datetime="' + esc(blank(c.last_message_at)) + '" data-relative></time>\n' +
      "    </span>\n" +
      '    <span class="conv-row__preview" data-preview>' + esc(c.last_message_preview || "…") + "</span>\n" +
      '    <span class="conv-row__meta">\n' +
      '      <span class="conv-row__channel" title="' + esc(kit.channels[c.channel] || c.channel) + '">' + channelIcon + "</span>\n      ";
    if (c.priority >= 2) out += '<span class="pill pill--priority-' + esc(c.priority) + '" data-i18n="priority_' + esc(c.priority) + '"></span>';
    out += "\n      ";
    if (c.status === "snoozed") out += '<span class="pill pill--snoozed">' + kit.icons.moon + '<span data-i18n="status_snoozed"></span></span>';
    else if (c.status === "bot") out += '<span class="pill">' + kit.icons.bot + '<span data-i18n="status_bot"></span></span>';
    out += "\n      ";
    if (c.campaign) out += '<span class="pill pill--campaign truncate">' + esc(c.campaign.name) + "</span>";
    out += "\n" +
      '      <span class="conv-row__sla" data-sla hidden>' + kit.icons.clock + "<span data-sla-text></span></span>\n" +
      '      <span class="conv-row__spacer"></span>\n      ';
    if (a) {
      out += '<span class="conv-row__assignee" title="' + esc(a.name) + '" data-assignee-name="' + esc(a.name) + '">' +
        '<span class="avatar avatar--xxs" style="--avatar-bg: ' + esc(a.colour) + '">' + esc(initials(a.name)) + "</span></span>";
    }
    out += "\n" +
      '      <span class="conv-row__unread" data-unread-badge' + (c.unread ? "" : " hidden") + ">" + esc(c.unread) + "</span>\n" +
      "    </span>\n" +
      "  </span>\n" +
      "</a>\n";
    return out;
  }

  function setRowTyping(conversationId, on) {
    var row = byId("conv-row-" + conversationId);
    var preview = row && row.querySelector("[data-preview]");
    if (!preview) return;
    if (on && !preview.classList.contains("is-typing")) {
      preview.dataset.text = preview.textContent;
      preview.textContent = t("is_typing", { name: t("visitor") });
      preview.classList.add("is-typing");
    } else if (!on && preview.classList.contains("is-typing")) {
      preview.textContent = preview.dataset.text || "";
      preview.classList.remove("is-typing");
    }
  }

  // --- the thread ---------------------------------------------------------------------

  function threadEl() { return byId("thread"); }

  function nearBottom(thread) { return thread.scrollHeight - thread.scrollTop - thread.clientHeight < 120; }
  function scrollToBottom(thread) { thread.scrollTop = thread.scrollHeight; }

  /** Day separators in the agent's own time zone, and bubbles grouped by sender. */
  function normalizeThread(thread) {
    if (!thread) return;
    thread.querySelectorAll(".day-sep").forEach(function (n) { n.remove(); });
    var lastDay = null;
    var prev = null;
    thread.querySelectorAll(".msg").forEach(function (msg) {
      var date = new Date(msg.dataset.createdAt || Date.now());
      var key = dayKey(date);
      if (key !== lastDay) {
        var sep = document.createElement("div");
        sep.className = "day-sep";
        var label = document.createElement("span");
        label.textContent = dayLabel(date);
        sep.appendChild(label);
        msg.parentNode.insertBefore(sep, msg);
        lastDay = key;
        prev = null;
      }
      var system = msg.classList.contains("msg--system");
      var cont = !!prev && !system && !prev.classList.contains("msg--system") &&
        prev.dataset.sender === msg.dataset.sender &&
        String(prev.dataset.senderMember || "") === String(msg.dataset.senderMember || "") &&
        (prev.dataset.kind === "note") === (msg.dataset.kind === "note") &&
        date - new Date(prev.dataset.createdAt || Date.now()) < 5 * 60 * 1000;
      msg.classList.toggle("msg--cont", cont);
      prev = msg;
    });
  }

  function lastMessageId() {
    var thread = threadEl();
    if (!thread) return 0;
    var ids = Array.prototype.map.call(thread.querySelectorAll(".msg[data-message-id]"), function (m) {
      return parseInt(m.dataset.messageId, 10) || 0;
    });
    return ids.length ? Math.max.apply(null, ids) : 0;
  }

  function lastContactMessageId() {
    var thread = threadEl();
    if (!thread) return 0;
    var nodes = thread.querySelectorAll(".msg[data-sender='contact'][data-message-id]");
    return nodes.length ? parseInt(nodes[nodes.length - 1].dataset.messageId, 10) : 0;
  }

  /** Insert a server-rendered message once (dedupe by id and client_id), in id order. */
  function insertMessage(html, id, clientId, options) {
    var thread = threadEl();
    if (!thread || !html) return null;
    var node = fromHtml(html);
    if (!node) return null;
    var stick = nearBottom(thread) || (options && options.scroll);
    var existing = byId("msg-" + id);
    var pending = clientId ? thread.querySelector(".msg--pending[data-client-id='" + cssEscape(clientId) + "']") : null;
    if (existing) {
      existing.replaceWith(node);
      if (pending && pending !== existing) pending.remove();
    } else if (pending) {
      pending.replaceWith(node);
    } else {
      var before = null;
      var all = thread.querySelectorAll(".msg[data-message-id]");
      for (var i = 0; i < all.length; i++) {
        if ((parseInt(all[i].dataset.messageId, 10) || 0) > id) { before = all[i]; break; }
      }
      if (!before) before = thread.querySelector(".msg--pending");
      thread.insertBefore(node, before);
      node.classList.add("msg--highlight");
    }
    if (clientId) forgetPending(clientId);
    processNode(node);
    normalizeThread(thread);
    if (stick) scrollToBottom(thread);
    return node;
  }

  function setTicks(upTo) {
    var thread = threadEl();
    if (!thread) return;
    thread.querySelectorAll(".msg[data-message-id]").forEach(function (msg) {
      if (msg.dataset.sender !== "agent" && msg.dataset.sender !== "bot") return;
      if ((parseInt(msg.dataset.messageId, 10) || 0) > upTo) return;
      msg.dataset.status = "read";
      var ticks = msg.querySelector("[data-ticks]");
      if (ticks) ticks.dataset.status = "read";
    });
  }

  // --- sending --------------------------------------------------------------------------

  function pendingBubble(item) {
    var c = cfg();
    var msg = document.createElement("div");
    msg.className = "msg msg--agent msg--mine msg--pending" + (item.private ? " msg--note" : "");
    msg.dataset.clientId = item.clientId;
    msg.dataset.sender = "agent";
    msg.dataset.senderMember = String(me());
    msg.dataset.kind = item.private ? "note" : "text";
    msg.dataset.createdAt = isoNow();
    var avatar = document.createElement("span");
    avatar.className = "msg__avatar avatar avatar--sm";
    avatar.textContent = (c.memberName || "?").slice(0, 1).toUpperCase();
    var main = document.createElement("div");
    main.className = "msg__main";
    var meta = document.createElement("div");
    meta.className = "msg__meta";
    var author = document.createElement("span");
    author.className = "msg__author";
    author.textContent = t("you");
    meta.appendChild(author);
    var bubble = document.createElement("div");
    bubble.className = "msg__bubble";
    if (item.content) {
      var text = document.createElement("div");
      text.className = "msg__text";
      text.style.whiteSpace = "pre-wrap";
      text.textContent = item.content;
      bubble.appendChild(text);
    }
    (item.files || []).forEach(function (file) {
      var chip = document.createElement("div");
      chip.className = "attachment attachment--file";
      chip.textContent = file.name;
      bubble.appendChild(chip);
    });
    var stateLine = document.createElement("div");
    stateLine.className = "msg__pending-state";
    stateLine.textContent = t("sending");
    main.appendChild(meta);
    main.appendChild(bubble);
    main.appendChild(stateLine);
    msg.appendChild(avatar);
    msg.appendChild(main);
    return msg;
  }

  function sendMessage(options) {
    var thread = threadEl();
    var item = {
      clientId: uuid(),
      conversationId: options.conversationId,
      content: options.content,
      private: !!options.isNote,
      attachments: (options.attachments || []).map(function (a) { return a.id; }),
      files: options.attachments || [],
      timer: null,
      tries: 0,
    };
    state.pending.set(item.clientId, item);
    if (thread) {
      thread.appendChild(pendingBubble(item));
      normalizeThread(thread);
      scrollToBottom(thread);
    }
    dispatch(item);
    return item.clientId;
  }

  function dispatch(item) {
    clearTimeout(item.timer);
    item.tries += 1;
    markPending(item.clientId, t("sending"), false);
    var sent = send("message.send", {
      conversation_id: item.conversationId,
      client_id: item.clientId,
      content: item.content,
      private: item.private,
      attachments: item.attachments,
    });
    if (sent) {
      // No ack in time: the same client_id over HTTP (the server keeps one message per client_id).
      item.timer = setTimeout(function () { sendOverHttp(item); }, ACK_TIMEOUT_MS);
    } else {
      sendOverHttp(item);
    }
  }

  function sendOverHttp(item) {
    clearTimeout(item.timer);
    var body = new FormData();
    body.append("content", item.content);
    body.append("client_id", item.clientId);
    body.append("attachments", item.attachments.join(","));
    if (item.private) body.append("private", "1");
    fetch(conversationUrl(item.conversationId) + "messages/", {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "HX-Request": "true", "HX-Target": "thread" },
    }).then(function (response) {
      return response.text().then(function (html) {
        if (!state.pending.has(item.clientId)) return;
        if (response.ok) {
          var id = parseInt(response.headers.get("X-Charla-Message-Id") || "0", 10);
          insertMessage(html, id, item.clientId, { scroll: true });
        } else {
          var node = fromHtml(html);
          var text = node && node.querySelector(".toast__text") ? node.querySelector(".toast__text").textContent : t("failed");
          failPending(item.clientId, text);
        }
      });
    }).catch(function () {
      failPending(item.clientId, t("failed"));
    });
  }

  function pendingNode(clientId) {
    var thread = threadEl();
    return thread ? thread.querySelector(".msg--pending[data-client-id='" + cssEscape(clientId) + "']") : null;
  }

  function markPending(clientId, text, failed) {
    var node = pendingNode(clientId);
    if (!node) return;
    node.classList.toggle("msg--failed", !!failed);
    var line = node.querySelector(".msg__pending-state");
    if (!line) return;
    line.textContent = text;
    if (failed) {
      var retry = document.createElement("button");
      retry.type = "button";
      retry.textContent = t("retry");
      retry.dataset.retry = clientId;
      line.appendChild(retry);
    }
  }

  function failPending(clientId, message) {
    var item = state.pending.get(clientId);
    if (item) clearTimeout(item.timer);
    markPending(clientId, message || t("failed"), true);
    toast(message || t("failed"), "error");
  }

  function forgetPending(clientId) {
    var item = state.pending.get(clientId);
    if (item) clearTimeout(item.timer);
    state.pending.delete(clientId);
  }

  function onAck(data) {
    var message = data.message;
    if (!data.client_id || !message) return;
    var item = state.pending.get(data.client_id);
    if (item) clearTimeout(item.timer);
    var node = pendingNode(data.client_id);
    if (!node) { forgetPending(data.client_id); return; }
    if (byId("msg-" + message.id)) {
      node.remove(); // message.created came first
      forgetPending(data.client_id);
      return;
    }
    // Stored: keep the bubble until message.created brings the real fragment.
    node.id = "msg-" + message.id;
    node.dataset.messageId = String(message.id);
    node.dataset.createdAt = message.created_at || node.dataset.createdAt;
    node.classList.remove("msg--pending", "msg--failed");
    var line = node.querySelector(".msg__pending-state");
    if (line) line.remove();
    forgetPending(data.client_id);
  }

  // --- typing and the soft lock ------------------------------------------------------------

  function typingKey(d) { return d.conversation_id + ":" + d.who.type + ":" + d.who.id; }

  function renderTyping() {
    var id = openConversationId();
    var agents = [];
    var contact = false;
    state.typing.forEach(function (entry) {
      if (entry.conversationId !== id) return;
      if (entry.who.type === "agent") agents.push(entry.who.name);
      else if (entry.who.type === "contact") contact = true;
    });
    var indicator = byId("typing-indicator");
    if (indicator) {
      var text = contact ? t("is_typing", { name: contactName() || t("visitor") }) : "";
      indicator.hidden = !text;
      var label = indicator.querySelector("[data-typing-text]");
      if (label) label.textContent = text;
    }
    var lock = agents.length ? t("is_replying", { name: agents.join(", ") }) : "";
    window.dispatchEvent(new CustomEvent("inbox:lock", { detail: { conversationId: id, text: lock } }));
    var rows = {};
    state.typing.forEach(function (entry) { if (entry.who.type === "contact") rows[entry.conversationId] = true; });
    document.querySelectorAll(".conv-row__preview.is-typing").forEach(function (p) {
      var row = p.closest(".conv-row");
      if (row && !rows[row.dataset.conversationId]) setRowTyping(row.dataset.conversationId, false);
    });
    Object.keys(rows).forEach(function (cid) { setRowTyping(cid, true); });
  }

  function contactName() {
    var el = document.querySelector(".conv-header__name");
    return el ? el.textContent.trim() : "";
  }

  function onTyping(d) {
    if (!d || !d.who) return;
    if (d.who.type === "agent" && d.who.id === me()) return; // my other device
    var key = typingKey(d);
    var old = state.typing.get(key);
    if (old) clearTimeout(old.timer);
    if (d.state === "start") {
      state.typing.set(key, {
        conversationId: d.conversation_id,
        who: d.who,
        timer: setTimeout(function () { state.typing.delete(key); renderTyping(); }, TYPING_EXPIRE_MS),
      });
    } else {
      state.typing.delete(key);
    }
    renderTyping();
  }

  function clearTypingOf(conversationId, type, id) {
    state.typing.forEach(function (entry, key) {
      if (entry.conversationId === conversationId && entry.who.type === type && (id === undefined || entry.who.id === id)) {
        clearTimeout(entry.timer);
        state.typing.delete(key);
      }
    });
    renderTyping();
  }

  function typingInput(conversationId, isPrivate) {
    var mine = state.myTyping;
    var now = Date.now();
    if (!mine.active || mine.conversationId !== conversationId || mine.private !== isPrivate || now - mine.lastSent > TYPING_REFRESH_MS) {
      if (mine.active && mine.conversationId !== conversationId) stopTyping();
      if (send("typing", { conversation_id: conversationId, state: "start", private: isPrivate })) {
        mine.lastSent = now;
        mine.active = true;
        mine.conversationId = conversationId;
        mine.private = isPrivate;
      }
    }
    clearTimeout(mine.timer);
    mine.timer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    var mine = state.myTyping;
    clearTimeout(mine.timer);
    if (mine.active && mine.conversationId) {
      send("typing", { conversation_id: mine.conversationId, state: "stop", private: mine.private });
    }
    mine.active = false;
  }

  // --- read receipts ---------------------------------------------------------------------

  function markReadSoon() {
    clearTimeout(state.readTimer);
    state.readTimer = setTimeout(markRead, 500);
  }

  function markRead() {
    if (document.visibilityState !== "visible") return;
    var pane = paneEl();
    var id = openConversationId();
    if (!pane || !id) return;
    // Only the assignee reads on the customer's behalf: a supervisor looking in
    // must not clear the agent's unread badge.
    if (String(pane.dataset.assignee || "") !== String(me())) return;
    var last = lastContactMessageId();
    if (!last || (state.lastReadSent.get(id) || 0) >= last) return;
    state.lastReadSent.set(id, last);
    if (!send("read", { conversation_id: id, message_id: last })) {
      var body = new FormData();
      body.append("message_id", String(last));
      fetch(conversationUrl(id) + "read/", { method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": csrf() } });
    }
  }

  // --- notifications ----------------------------------------------------------------------

  function unlockAudio() {
    if (state.audio) return;
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try { state.audio = new Context(); } catch (e) { state.audio = null; }
  }

  function beep() {
    if (!state.sound) return;
    var ctx = state.audio;
    if (!ctx) return;
    try {
      if (ctx.state === "suspended") ctx.resume();
      var now = ctx.currentTime;
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.setValueAtTime(880, now);
      osc.frequency.setValueAtTime(1318, now + 0.1);
      gain.gain.setValueAtTime(0.0001, now);
      gain.gain.exponentialRampToValueAtTime(0.18, now + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.32);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(now);
      osc.stop(now + 0.35);
    } catch (e) { /* no sound is fine */ }
  }

  function notify(title, body, url) {
    var away = document.visibilityState !== "visible" || !document.hasFocus();
    if (away) { state.localBadge += 1; updateTitle(); }
    beep();
    if (!away || !("Notification" in window) || Notification.permission !== "granted") return;
    try {
      var n = new Notification(title, { body: body || "", tag: url, icon: "/static/img/favicon.svg" });
      n.onclick = function () { window.focus(); if (url) navigate(url); n.close(); };
    } catch (e) { /* some browsers only notify from a service worker */ }
  }

  function updateTitle() {
    var nav = byId("inbox-nav");
    var listCount = document.querySelector("[data-list-count]");
    var navCount = nav ? nav.querySelector("[data-count='" + currentView() + "']") : null;
    if (listCount && navCount) listCount.textContent = navCount.textContent.trim() === "0" ? "" : navCount.textContent.trim();
    // The phone's view tabs mirror the nav's counts.
    document.querySelectorAll("[data-view-tab]").forEach(function (tab) {
      var source = nav ? nav.querySelector("[data-count='" + tab.dataset.viewTab + "']") : null;
      var target = tab.querySelector(".view-tabs__count");
      if (source && target) target.textContent = source.textContent.trim() === "0" ? "" : source.textContent.trim();
    });
    var count = (nav ? parseInt(nav.dataset.badge || "0", 10) : 0) + state.localBadge;
    var base = document.title.replace(/^\(\d+\)\s*/, "");
    document.title = count > 0 ? "(" + count + ") " + base : base;
  }

  function syncNotificationButtons() {
    var can = "Notification" in window && Notification.permission === "default";
    document.querySelectorAll("[data-enable-notifications]").forEach(function (b) { b.hidden = !can; });
    document.querySelectorAll("[data-sound-label]").forEach(function (el) { el.textContent = state.sound ? t("sound_on") : t("sound_off"); });
  }

  // --- server frames -------------------------------------------------------------------------

  function onMessageCreated(d) {
    var m = d.message;
    if (!m) return;
    var openId = openConversationId();
    if (m.conversation_id === openId) {
      // The bubble comes with the frame once this socket has joined the thread;
      // before the join has landed (the thread just opened), fetch what is new.
      if (d.html) insertMessage(d.html, m.id, m.client_id);
      else fetchAfter(openId, lastMessageId());
      if (m.sender && m.sender.type === "contact") { clearTypingOf(m.conversation_id, "contact"); markReadSoon(); }
      if (m.sender && m.sender.type === "agent") clearTypingOf(m.conversation_id, "agent", m.sender.id);
    }
    // The conversation's new state rides along when the message changed nothing
    // about who sees it (docs/protocol.md): the list row as on conversation.updated.
    if (d.conversation) onConversation("conversation.updated", { conversation: d.conversation });
    if (m.sender && m.sender.type === "contact") {
      var known = state.conversations.get(m.conversation_id);
      // Without the conversation's state, a message of a conversation I have not
      // opened only reaches me through my member group: it is mine.
      var mine = d.conversation ? !!d.conversation.assignee && d.conversation.assignee.id === me()
        : known ? known.assigneeId === me() : m.conversation_id !== state.joined;
      var looking = m.conversation_id === openId && document.visibilityState === "visible" && document.hasFocus();
      if (mine && !looking) {
        notify(t("new_message", { name: m.sender.name || t("visitor") }), m.content || "📎", conversationUrl(m.conversation_id));
      }
    }
  }

  function onMessageUpdated(d) {
    var m = d.message;
    if (!m || !d.html || m.conversation_id !== openConversationId()) return;
    var existing = byId("msg-" + m.id);
    if (!existing) return;
    var node = fromHtml(d.html);
    if (!node) return;
    node.className = node.className + (existing.classList.contains("msg--cont") ? " msg--cont" : "");
    existing.replaceWith(node);
    processNode(node);
  }

  function onRead(d) {
    if (d.reader === "contact" && d.conversation_id === openConversationId()) setTicks(d.up_to_id);
  }

  function onConversation(type, d) {
    var c = d.conversation;
    if (!c) return;
    var previous = state.conversations.get(c.id);
    state.conversations.set(c.id, { assigneeId: c.assignee ? c.assignee.id : null, status: c.status });
    updateList(c, d.html);
    scheduleCounts();
    if (c.id === openConversationId()) openConversationChanged(c);
    var waiting = c.status === "queued" && !c.assignee;
    var wasWaiting = previous ? previous.status === "queued" && previous.assigneeId === null : type !== "conversation.created";
    if (waiting && !wasWaiting) {
      var who = c.contact ? c.contact.name : "";
      notify(t("new_conversation"), who + (c.last_message_preview ? ": " + c.last_message_preview : ""), conversationUrl(c.id));
    }
  }

  function openConversationChanged(c) {
    var header = byId("conv-header");
    var pane = paneEl();
    if (!header || !pane) return;
    var assignee = c.assignee ? String(c.assignee.id) : "";
    var statusChanged = header.dataset.status !== c.status;
    var assigneeChanged = (header.dataset.assignee || "") !== assignee;
    if (!statusChanged && !assigneeChanged) {
      refreshFieldsIfStale(c);
      return;
    }
    pane.dataset.assignee = assignee;
    pane.dataset.status = c.status;
    // An action of this page is in flight (assign, close…): its answer brings the fresh pane.
    if (state.paneRequests > 0) return;
    var closedFlip = (header.dataset.status === "closed") !== (c.status === "closed");
    clearTimeout(state.headerTimer);
    state.headerTimer = setTimeout(function () {
      if (state.paneRequests > 0 || openConversationId() !== c.id) return;
      refetch(conversationUrl(c.id), closedFlip ? "conversation-pane" : "conv-header");
    }, 150);
  }

  function refreshFieldsIfStale(c) {
    var form = byId("conv-fields");
    if (!form || form.contains(document.activeElement)) return;
    var get = function (name) { var el = form.elements[name]; return el ? el.value : null; };
    var stale = (get("priority") !== null && get("priority") !== String(c.priority)) ||
      (get("lead_quality") !== null && get("lead_quality") !== (c.lead_quality || "")) ||
      (get("outcome") !== null && get("outcome") !== c.outcome) ||
      (get("campaign") !== null && get("campaign") !== (c.campaign ? String(c.campaign.id) : ""));
    if (stale) refetch(conversationUrl(c.id), "contact-pane");
  }

  /** GET a fragment for one element; a 404 means this member lost the conversation. */
  function refetch(url, targetId) {
    return fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true", "HX-Target": targetId } })
      .then(function (response) {
        if (response.status === 404) { conversationGone(); return; }
        if (!response.ok) return;
        return response.text().then(function (html) {
          var target = byId(targetId);
          var node = fromHtml(html);
          if (!target || !node) return;
          target.replaceWith(node);
          processNode(node);
          if (targetId === "conversation-pane") paneChanged(true);
        });
      })
      .catch(function () { /* the next reconnect catches up */ });
  }

  function conversationGone() {
    var banner = byId("conv-banner");
    if (banner) { banner.textContent = t("moved"); banner.hidden = false; }
    var composer = byId("composer");
    if (composer) composer.querySelectorAll("textarea, button, input").forEach(function (el) { el.disabled = true; });
    var id = openConversationId();
    var row = id && byId("conv-row-" + id);
    if (row && currentView() !== "open") removeRow(row);
  }

  function onPresence(d) {
    if (d.contact_id !== undefined && d.contact_id !== null) {
      var online = d.online ? "true" : "false";
      document.querySelectorAll("[data-contact-online='" + d.contact_id + "'], [data-contact-status='" + d.contact_id + "']").forEach(function (el) {
        el.dataset.online = online;
      });
      if (d.page_url) updateCurrentPage(d.contact_id, d.page_url, d.page_title);
    } else if (d.member_id !== undefined && d.member_id !== null) {
      document.querySelectorAll(".team__member[data-member-id='" + d.member_id + "']").forEach(function (el) {
        el.dataset.availability = d.availability;
        var dot = el.querySelector(".status-dot");
        if (dot) dot.className = "status-dot status-dot--" + d.availability;
      });
      document.querySelectorAll(".agent-option[data-member-id='" + d.member_id + "'] .avatar__status").forEach(function (dot) {
        dot.className = "avatar__status status-dot--" + d.availability;
      });
      if (d.member_id === me()) showAvailability(d.availability);
    }
  }

  function updateCurrentPage(contactId, url, title) {
    document.querySelectorAll("[data-current-page='" + contactId + "']").forEach(function (box) {
      var link = box.querySelector("[data-current-page-link]");
      if (link && link.getAttribute("href") === url && !box.hasAttribute("data-empty")) return;
      box.removeAttribute("data-empty");
      if (link) link.setAttribute("href", url);
      var titleEl = box.querySelector("[data-current-page-title]");
      var urlEl = box.querySelector("[data-current-page-url]");
      if (titleEl) titleEl.textContent = title || hostOf(url);
      if (urlEl) urlEl.textContent = hostOf(url);
      box.classList.remove("is-updated");
      void box.offsetWidth;
      box.classList.add("is-updated");
    });
    document.querySelectorAll("[data-trail='" + contactId + "']").forEach(function (list) {
      var first = list.querySelector(".trail__link");
      if (first && first.getAttribute("href") === url) return;
      var empty = list.querySelector(".trail__empty");
      if (empty) empty.remove();
      var li = document.createElement("li");
      li.className = "trail__item";
      var a = document.createElement("a");
      a.className = "trail__link";
      a.href = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      var tt = document.createElement("span");
      tt.className = "trail__title truncate";
      tt.textContent = title || hostOf(url);
      var uu = document.createElement("span");
      uu.className = "trail__url truncate";
      uu.textContent = hostOf(url);
      a.appendChild(tt);
      a.appendChild(uu);
      var time = document.createElement("time");
      time.className = "trail__time";
      time.setAttribute("datetime", isoNow());
      time.setAttribute("data-relative", "");
      li.appendChild(a);
      li.appendChild(time);
      list.insertBefore(li, list.firstChild);
      localizeTimes(li);
      while (list.children.length > 8) list.lastElementChild.remove();
    });
  }

  function onSla(type, d) {
    var row = byId("conv-row-" + d.conversation_id);
    if (row) {
      var sla = row.querySelector("[data-sla]");
      if (sla) {
        sla.hidden = false;
        sla.classList.toggle("is-breached", type === "sla.breached");
      }
    }
    var known = state.conversations.get(d.conversation_id);
    if (known && known.assigneeId === me()) {
      notify(type === "sla.breached" ? t("sla_breached") : t("sla_warning"), "", conversationUrl(d.conversation_id));
    }
  }

  function onError(d) {
    if (d.client_id && state.pending.has(d.client_id)) failPending(d.client_id, d.message);
    else if (d.code !== "unknown_type") toast(d.message || t("failed"), "error");
  }

  function handleFrame(frame) {
    var d = frame.data || {};
    switch (frame.type) {
      case "message.created": onMessageCreated(d); break;
      case "message.updated": onMessageUpdated(d); break;
      case "message.ack": onAck(d); break;
      case "message.read": onRead(d); break;
      case "typing": onTyping(d); break;
      case "conversation.created":
      case "conversation.updated": onConversation(frame.type, d); break;
      case "presence": onPresence(d); break;
      case "sla.warning":
      case "sla.breached": onSla(frame.type, d); break;
      case "error": onError(d); break;
      case "pong": clearTimeout(state.pongTimer); break;
      default: break;
    }
  }

  // --- the socket -----------------------------------------------------------------------------

  function send(type, data) {
    var ws = state.socket;
    if (!ws || ws.readyState !== 1) return false;
    try { ws.send(JSON.stringify({ type: type, data: data || {} })); return true; } catch (e) { return false; }
  }

  function setBanner(text) {
    var banner = byId("connection-banner");
    if (!banner) return;
    banner.hidden = !text;
    var label = banner.querySelector("[data-connection-text]");
    if (label && text) label.textContent = text;
  }

  function connect() {
    var c = cfg();
    if (!c || state.socket) return;
    clearTimeout(state.reconnectTimer);
    var ws;
    try {
      ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + c.wsPath);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.socket = ws;
    ws.onopen = function () {
      var reconnected = state.everConnected;
      state.everConnected = true;
      state.retries = 0;
      setBanner(null);
      document.documentElement.dataset.socket = "open";
      state.joined = null;
      syncJoin();
      startPing();
      if (reconnected) catchUp();
      state.pending.forEach(function (item) { if (!pendingNode(item.clientId) || !pendingNode(item.clientId).classList.contains("msg--failed")) dispatch(item); });
    };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      handleFrame(frame);
    };
    ws.onclose = function (event) {
      if (state.socket !== ws) return;
      state.socket = null;
      state.joined = null;
      document.documentElement.dataset.socket = "closed";
      stopPing();
      if (event.code === 4401 || event.code === 4403) { setBanner(t("offline")); return; }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    clearTimeout(state.reconnectTimer);
    state.retries += 1;
    var base = Math.min(30000, 500 * Math.pow(2, Math.min(state.retries, 6)));
    var delay = base / 2 + Math.random() * (base / 2); // exponential backoff with jitter
    if (state.retries > 1 || state.everConnected) setBanner(t("reconnecting"));
    state.reconnectTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (state.socket) return;
    state.retries = 0;
    connect();
  }

  function startPing() {
    stopPing();
    state.pingTimer = setInterval(function () {
      if (!send("ping", {})) return;
      clearTimeout(state.pongTimer);
      state.pongTimer = setTimeout(function () {
        if (state.socket) state.socket.close(); // half-open: start over
      }, PONG_TIMEOUT_MS);
    }, PING_MS);
  }

  function stopPing() {
    clearInterval(state.pingTimer);
    clearTimeout(state.pongTimer);
  }

  function syncJoin() {
    var id = openConversationId();
    if (id === state.joined) return;
    if (state.joined) send("conversation.leave", { conversation_id: state.joined });
    state.joined = null;
    if (id && send("conversation.join", { conversation_id: id })) state.joined = id;
  }

  /** After a reconnect: the list, the counts and the open thread, fetched again (nothing stale, nothing doubled). */
  function catchUp() {
    var el = inboxEl();
    if (el && el.dataset.listUrl && window.htmx) {
      htmx.ajax("GET", el.dataset.listUrl, { target: "#list-pane", swap: "outerHTML" });
    }
    scheduleCounts();
    var id = openConversationId();
    if (!id) return;
    refetch(conversationUrl(id), "conv-header");
    fetchAfter(id, lastMessageId());
  }

  function fetchAfter(id, after) {
    if (!after) return;
    fetch(conversationUrl(id) + "messages/?after=" + after, {
      credentials: "same-origin",
      headers: { "HX-Request": "true", "HX-Target": "thread" },
    }).then(function (response) {
      if (response.status === 404) { conversationGone(); return; }
      if (!response.ok) return;
      var more = response.headers.get("X-Charla-More") === "1";
      return response.text().then(function (html) {
        if (openConversationId() !== id) return;
        var tpl = document.createElement("template");
        tpl.innerHTML = html;
        tpl.content.querySelectorAll(".msg[data-message-id]").forEach(function (node) {
          insertMessage(node.outerHTML, parseInt(node.dataset.messageId, 10), node.dataset.clientId || null);
        });
        if (more) fetchAfter(id, lastMessageId());
        markReadSoon();
      });
    }).catch(function () { /* next reconnect */ });
  }

  function scheduleCounts() {
    clearTimeout(state.countsTimer);
    state.countsTimer = setTimeout(function () {
      var c = cfg();
      if (!c || !window.htmx || !byId("inbox-nav")) return;
      htmx.ajax("GET", c.urls.counts + "?view=" + encodeURIComponent(currentView()), { target: "#inbox-nav", swap: "outerHTML" });
    }, 400);
  }

  // --- availability ---------------------------------------------------------------------------

  function showAvailability(value) {
    var box = byId("availability-switch");
    if (!box) return;
    box.dataset.availability = value;
    var dot = box.querySelector("[data-availability-dot]");
    if (dot) dot.className = "status-dot status-dot--" + value;
    var text = box.querySelector("[data-availability-text]");
    if (text) text.textContent = t(value === "offline" ? "offline_status" : value);
    box.querySelectorAll("button[name='availability']").forEach(function (b) {
      if (b.value === value) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    });
  }

  function setAvailability(value) {
    showAvailability(value);
    var box = byId("availability-switch");
    if (box) box.open = false;
    if (send("presence.set", { availability: value })) return;
    var body = new FormData();
    body.append("availability", value);
    fetch(cfg().urls.availability, { method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": csrf(), "HX-Request": "true" } });
  }

  // --- toasts -------------------------------------------------------------------------------------

  function toast(text, kind) {
    var box = byId("inbox-toasts");
    if (!box) return;
    var el = document.createElement("div");
    el.className = "toast toast--" + (kind || "info");
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    var icon = document.createElement("span");
    icon.className = "toast__icon";
    var label = document.createElement("span");
    label.className = "toast__text";
    label.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast__close";
    close.dataset.dismiss = "";
    close.textContent = "×";
    el.appendChild(icon);
    el.appendChild(label);
    el.appendChild(close);
    box.appendChild(el);
    expireToasts();
  }

  function expireToasts() {
    document.querySelectorAll("#inbox-toasts .toast").forEach(function (el) {
      if (el.dataset.born) return;
      el.dataset.born = "1";
      setTimeout(function () { el.remove(); }, TOAST_MS);
    });
  }

  // --- panes and navigation -------------------------------------------------------------------------

  function navigate(url) {
    if (!window.htmx) { location.href = url; return; }
    var target = paneEl() ? "#conversation-pane" : "#inbox";
    htmx.ajax("GET", url, { target: target, swap: "outerHTML" }).then(function () {
      history.pushState({ htmx: true }, "", url);
    });
  }

  function paneChanged(force) {
    var inbox = inboxEl();
    var id = openConversationId();
    if (inbox) {
      inbox.classList.toggle("inbox--conversation", !!id);
      inbox.dataset.conversationId = id ? String(id) : "";
      if (!id) inbox.classList.remove("show-contact");
    }
    markActiveRow();
    if (id !== state.paneId || force) {
      state.paneId = id;
      stopTyping();
      var thread = threadEl();
      normalizeThread(thread);
      if (thread) {
        var hash = location.hash && location.hash.indexOf("#msg-") === 0 ? byId(location.hash.slice(1)) : null;
        if (hash) hash.scrollIntoView({ block: "center" });
        else scrollToBottom(thread);
        state.stickBottom = !hash;
      }
      renderTyping();
      markReadSoon();
      var tz = document.querySelectorAll("[data-tz]");
      var zone = (Intl.DateTimeFormat().resolvedOptions() || {}).timeZone || "";
      tz.forEach(function (input) { input.value = zone; });
    }
    syncJoin();
    var pane = paneEl();
    var name = pane && id ? contactName() : null;
    var viewLink = document.querySelector("#inbox-nav [aria-current='page'] span");
    var base = name || (viewLink ? viewLink.textContent.trim() : "Charla");
    document.title = base + " · Charla";
    updateTitle();
  }

  function move(delta) {
    var rows = Array.prototype.slice.call(document.querySelectorAll("#conv-rows > .conv-row"));
    if (!rows.length) return;
    var index = rows.findIndex(function (r) { return r.getAttribute("aria-current") === "true"; });
    var next = index === -1 ? rows[delta > 0 ? 0 : rows.length - 1] : rows[index + delta];
    if (!next) return;
    next.scrollIntoView({ block: "nearest" });
    next.click();
  }

  function focusComposer(note) {
    var form = byId("composer");
    if (!form) return;
    if (window.Alpine && form._x_dataStack) {
      var data = Alpine.$data(form);
      if (data && typeof data.setNote === "function") { data.setNote(!!note); return; }
    }
    var input = byId("composer-input");
    if (input) input.focus();
  }

  function openMenu(id, focusSelector) {
    var menu = byId(id);
    if (!menu) return false;
    menu.open = true;
    var target = focusSelector ? menu.querySelector(focusSelector) : null;
    if (target) target.focus();
    return true;
  }

  function showShortcuts() {
    var dialog = byId("shortcuts-dialog");
    if (dialog && !dialog.open) dialog.showModal();
  }

  function closeMenus() {
    var closed = false;
    document.querySelectorAll("details[open]").forEach(function (d) { d.open = false; closed = true; });
    var inbox = inboxEl();
    if (inbox && inbox.classList.contains("show-contact")) { inbox.classList.remove("show-contact"); closed = true; }
    return closed;
  }

  function onKeydown(e) {
    if (e.defaultPrevented || e.isComposing) return;
    var target = e.target;
    var tag = target.tagName;
    var editing = target.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
    if (editing) {
      if (e.key === "Escape") {
        var menu = target.closest("details[open]");
        if (menu) menu.open = false;
        target.blur();
      }
      return;
    }
    if (e.metaKey || e.ctrlKey || e.altKey) return;
    var dialog = byId("shortcuts-dialog");
    if (dialog && dialog.open) return;
    switch (e.key) {
      case "j": case "ArrowDown": move(1); break;
      case "k": case "ArrowUp": move(-1); break;
      case "r": focusComposer(false); break;
      case "n": focusComposer(true); break;
      case "e": if (!openMenu("close-menu", "[data-close-outcome]")) return; break;
      case "s": case "/": { var search = document.querySelector("[data-search-input]"); if (!search) return; search.focus(); search.select(); break; }
      case "?": showShortcuts(); break;
      case "Escape": if (!closeMenus()) return; break;
      default: return;
    }
    e.preventDefault();
  }

  function onClick(e) {
    unlockAudio();
    var el = e.target.closest ? e.target : e.target.parentElement;
    if (!el) return;
    var hit;
    if ((hit = el.closest("[data-dismiss]"))) { var t1 = hit.closest(".toast"); if (t1) t1.remove(); return; }
    if ((hit = el.closest("[data-retry]"))) {
      var item = state.pending.get(hit.dataset.retry);
      if (item) dispatch(item);
      return;
    }
    if ((hit = el.closest("[data-toggle-contact]"))) { var inbox = inboxEl(); if (inbox) inbox.classList.toggle("show-contact"); return; }
    if ((hit = el.closest("[data-show-shortcuts]"))) { showShortcuts(); var sw = byId("availability-switch"); if (sw) sw.open = false; return; }
    if ((hit = el.closest("[data-toggle-sound]"))) {
      state.sound = !state.sound;
      try { localStorage.setItem("charla.sound", state.sound ? "on" : "off"); } catch (err) { /* ignore */ }
      syncNotificationButtons();
      if (state.sound) beep();
      return;
    }
    if ((hit = el.closest("[data-enable-notifications]"))) {
      if ("Notification" in window) {
        Notification.requestPermission().then(function (permission) {
          syncNotificationButtons();
          toast(permission === "granted" ? t("notifications_on") : t("notifications_blocked"), permission === "granted" ? "success" : "warning");
        });
      }
      return;
    }
    if ((hit = el.closest("[data-back]")) && window.htmx) {
      var inboxNode = inboxEl();
      var url = inboxNode ? inboxNode.dataset.listUrl : null;
      if (!url) return;
      e.preventDefault();
      htmx.ajax("GET", url, { target: "#inbox", swap: "outerHTML" }).then(function () { history.pushState({ htmx: true }, "", url); paneChanged(); });
      return;
    }
    // A click outside an open <details> menu closes it.
    document.querySelectorAll("details.dropdown[open]").forEach(function (d) { if (!d.contains(el)) d.open = false; });
  }

  function onSubmit(e) {
    var form = e.target;
    if (form.matches && form.matches("[data-availability-form]")) {
      var button = e.submitter;
      if (!button || !button.value) return;
      e.preventDefault();
      setAvailability(button.value);
    }
  }

  // --- htmx integration --------------------------------------------------------------------------------

  function onBeforeSwap(e) {
    var xhr = e.detail.xhr;
    if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget")) {
      // Our error fragments (a toast) carry their own target: show them.
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
    var target = e.detail.target;
    if (target && target.id === "thread-older") {
      var thread = threadEl();
      if (thread) state.olderAnchor = thread.scrollHeight - thread.scrollTop;
    }
  }

  function onAfterSwap(e) {
    var target = e.detail.target;
    if (target && target.id === "thread-older" || (e.detail.elt && e.detail.elt.id === "thread-older")) {
      var thread = threadEl();
      if (thread && state.olderAnchor !== undefined) {
        normalizeThread(thread);
        thread.scrollTop = thread.scrollHeight - state.olderAnchor;
        state.olderAnchor = undefined;
      }
    }
  }

  function onAfterSettle(e) {
    var root = e.detail.elt || document.body;
    localizeTimes(root.parentElement || root);
    applyI18n(root.parentElement || root);
    expireToasts();
    if (byId("inbox-nav") && e.detail.elt && e.detail.elt.id === "inbox-nav") updateTitle();
    paneChanged();
  }

  function onResponseError(e) {
    var xhr = e.detail.xhr;
    if (xhr && xhr.getResponseHeader("HX-Retarget")) return;
    if (xhr && xhr.status === 404 && e.detail.target && e.detail.target.id === "conversation-pane") {
      toast(t("moved"), "error");
      return;
    }
    toast(t("failed"), "error");
  }

  // --- boot --------------------------------------------------------------------------------------------

  function boot() {
    if (!cfg()) return;
    document.addEventListener("keydown", onKeydown);
    document.addEventListener("click", onClick);
    document.addEventListener("submit", onSubmit, true);
    document.addEventListener("keydown", unlockAudio, { once: true });
    document.body.addEventListener("htmx:beforeRequest", function (e) {
      var elt = e.detail.elt;
      if (elt && elt.closest && elt.closest("#conversation-pane") && (e.detail.requestConfig || {}).verb !== "get") {
        state.paneRequests += 1;
        elt._inboxPaneRequest = true;
      }
    });
    document.body.addEventListener("htmx:afterRequest", function (e) {
      var elt = e.detail.elt;
      if (elt && elt._inboxPaneRequest) {
        elt._inboxPaneRequest = false;
        state.paneRequests = Math.max(0, state.paneRequests - 1);
      }
    });
    document.body.addEventListener("htmx:beforeSwap", onBeforeSwap);
    document.body.addEventListener("htmx:afterSwap", onAfterSwap);
    document.body.addEventListener("htmx:afterSettle", onAfterSettle);
    document.body.addEventListener("htmx:responseError", onResponseError);
    document.body.addEventListener("htmx:sendError", function () { toast(t("reconnecting"), "error"); });
    document.body.addEventListener("htmx:historyRestore", function () { paneChanged(true); });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") {
        state.localBadge = 0;
        updateTitle();
        markReadSoon();
        reconnectNow();
      }
    });
    window.addEventListener("focus", function () { state.localBadge = 0; updateTitle(); markReadSoon(); });
    window.addEventListener("online", reconnectNow);
    // Keep the thread pinned to its end while images (of unknown height) load.
    document.addEventListener("scroll", function (e) {
      if (e.target && e.target.id === "thread") state.stickBottom = nearBottom(e.target);
    }, true);
    document.addEventListener("load", function (e) {
      var thread = threadEl();
      if (e.target && e.target.tagName === "IMG" && thread && thread.contains(e.target) && state.stickBottom) scrollToBottom(thread);
    }, true);
    localizeTimes(document.body);
    applyI18n(document.body);
    syncNotificationButtons();
    paneChanged(true);
    expireToasts();
    setInterval(function () {
      localizeTimes(document.querySelector("#conv-rows") || document.body);
      markActiveRow();
    }, 60000);
    connect();
  }

  // --- the composer (Alpine) -------------------------------------------------------------------------------

  document.addEventListener("alpine:init", function () {
    window.Alpine.data("composer", function (conversationId) {
      return {
        conversationId: conversationId,
        isNote: false,
        busy: false,
        lockedBy: "",
        attachments: [],
        all: [],
        canned: { open: false, items: [], index: 0, start: -1 },

        init: function () {
          var self = this;
          var data = this.$root.querySelector("#canned-data");
          try { this.all = data ? JSON.parse(data.textContent) : []; } catch (e) { this.all = []; }
          var box = this.$root.querySelector("input[name='private']");
          this.isNote = !!(box && box.checked);
          this._onLock = function (e) { if (e.detail.conversationId === self.conversationId) self.lockedBy = e.detail.text || ""; };
          window.addEventListener("inbox:lock", this._onLock);
          this.$nextTick(function () { self.autosize(); renderTyping(); });
        },
        destroy: function () { window.removeEventListener("inbox:lock", this._onLock); },

        setNote: function (value) {
          if (this.isNote !== value) stopTyping();
          this.isNote = value;
          this.$refs.input.focus();
        },
        autosize: function () {
          var el = this.$refs.input;
          if (!el) return;
          el.style.height = "auto";
          el.style.height = Math.min(el.scrollHeight + 2, 240) + "px";
        },
        onInput: function () {
          this.autosize();
          this.detectCanned();
          if (this.$refs.input.value.trim()) typingInput(this.conversationId, this.isNote);
          else stopTyping();
        },
        onKeydown: function (e) {
          if (this.canned.open) {
            var count = this.canned.items.length;
            if (e.key === "ArrowDown" && count) { e.preventDefault(); this.canned.index = (this.canned.index + 1) % count; this.revealActive(); return; }
            if (e.key === "ArrowUp" && count) { e.preventDefault(); this.canned.index = (this.canned.index - 1 + count) % count; this.revealActive(); return; }
            if ((e.key === "Tab" || e.key === "Enter") && count && !e.shiftKey) { e.preventDefault(); this.expand(this.canned.items[this.canned.index]); return; }
            if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); this.closeCanned(); return; }
          }
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.send(); return; }
          if (e.key === "Escape") { this.$refs.input.blur(); }
        },
        revealActive: function () {
          var self = this;
          this.$nextTick(function () {
            var active = self.$root.querySelector(".canned-menu__item.is-active");
            if (active) active.scrollIntoView({ block: "nearest" });
          });
        },
        detectCanned: function () {
          var el = this.$refs.input;
          var pos = el.selectionStart;
          var before = el.value.slice(0, pos);
          var match = before.match(/(?:^|\s)\/([\w-]{0,40})$/);
          if (!match) { this.closeCanned(); return; }
          var query = match[1].toLowerCase();
          var starts = this.all.filter(function (c) { return c.shortcut.indexOf(query) === 0; });
          var contains = this.all.filter(function (c) {
            return c.shortcut.indexOf(query) !== 0 && (c.shortcut.indexOf(query) !== -1 || c.content.toLowerCase().indexOf(query) !== -1);
          });
          this.canned.items = starts.concat(contains).slice(0, 8);
          this.canned.start = pos - match[1].length - 1;
          this.canned.index = this.canned.open ? Math.min(this.canned.index, Math.max(0, this.canned.items.length - 1)) : 0;
          this.canned.open = true;
        },
        openCanned: function () {
          var el = this.$refs.input;
          var pos = el.selectionStart || el.value.length;
          var prefix = pos > 0 && !/\s/.test(el.value[pos - 1]) ? " /" : "/";
          el.value = el.value.slice(0, pos) + prefix + el.value.slice(pos);
          var caret = pos + prefix.length;
          el.focus();
          el.setSelectionRange(caret, caret);
          this.detectCanned();
        },
        closeCanned: function () { this.canned.open = false; },
        closeCannedSoon: function () { var self = this; setTimeout(function () { self.closeCanned(); }, 150); },
        expand: function (item) {
          if (!item) return;
          var el = this.$refs.input;
          var end = el.selectionStart;
          el.value = el.value.slice(0, this.canned.start) + item.content + el.value.slice(end);
          var caret = this.canned.start + item.content.length;
          this.closeCanned();
          el.focus();
          el.setSelectionRange(caret, caret);
          this.autosize();
          typingInput(this.conversationId, this.isNote);
        },
        upload: function (e) {
          var self = this;
          var input = e.target;
          var files = Array.prototype.slice.call(input.files || []);
          input.value = "";
          files.forEach(function (file) {
            var key = uuid();
            var preview = /^image\//.test(file.type) && window.URL ? URL.createObjectURL(file) : null;
            self.attachments.push({ key: key, name: file.name, uploading: true, failed: false, id: null, thumbnail_url: preview });
            var body = new FormData();
            body.append("file", file);
            fetch(self.$root.dataset.uploadUrl, { method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": csrf() } })
              .then(function (response) {
                return response.json().then(function (data) { return { ok: response.ok, data: data }; });
              })
              .then(function (result) {
                var item = self.attachments.find(function (a) { return a.key === key; });
                if (!item) return;
                if (!result.ok) {
                  self.attachments = self.attachments.filter(function (a) { return a.key !== key; });
                  toast(result.data.detail || t("upload_failed"), "error");
                  return;
                }
                item.uploading = false;
                item.id = result.data.id;
                item.name = result.data.name;
                if (result.data.thumbnail_url) item.thumbnail_url = result.data.thumbnail_url;
              })
              .catch(function () {
                self.attachments = self.attachments.filter(function (a) { return a.key !== key; });
                toast(t("upload_failed"), "error");
              });
          });
          this.$refs.input.focus();
        },
        removeAttachment: function (index) { this.attachments.splice(index, 1); },
        send: function () {
          var el = this.$refs.input;
          if (this.attachments.some(function (a) { return a.uploading; })) { toast(t("uploading"), "info"); return; }
          var content = el.value.trim();
          var ready = this.attachments.filter(function (a) { return a.id; }).map(function (a) { return { id: a.id, name: a.name }; });
          if (!content && !ready.length) { el.focus(); return; }
          stopTyping();
          sendMessage({ conversationId: this.conversationId, content: content, isNote: this.isNote, attachments: ready });
          el.value = "";
          this.attachments = [];
          this.closeCanned();
          this.autosize();
          el.focus();
        },
      };
    });
  });

  window.CharlaInbox = {
    sendMessage: sendMessage, toast: toast, csrf: csrf, t: t, navigate: navigate,
    renderRow: renderRow, processNode: processNode, fromHtml: fromHtml,
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
