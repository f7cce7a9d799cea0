/*! Charla chat window: runs inside the widget iframe (docs/widget.md). No dependencies. */
(() => {
  "use strict";
  const w = window, d = document;
  const C = JSON.parse(d.getElementById("charla-config").textContent);

  // ---------------------------------------------------------------- i18n
  const I18N = {
    en: {
      online: "Online", away: "Away", close: "Close chat", placeholder: "Write a message…", send: "Send",
      attach: "Attach a file (image or PDF)", today: "Today", yesterday: "Yesterday", typing: "{name} is typing…",
      team: "The team", bot: "Assistant", queue: "You are #{n} in line", queueNext: "You're next in line",
      sending: "Sending", sent: "Sent", delivered: "Delivered", read: "Read", failed: "Not sent. Tap to retry.",
      tooBig: "“{name}” is too large ({size}). Files can be up to {max}.",
      badType: "“{name}” can't be sent. You can send images (PNG, JPEG, GIF, WebP) and PDF files.",
      uploadFailed: "“{name}” could not be uploaded: {error}", uploading: "Uploading…",
      reconnecting: "Reconnecting…", netDown: "You're offline. Messages will be sent when you're back online.",
      identity: "We couldn't verify your identity, so this chat is unavailable. Please reload the page, or contact the website's support.",
      notConfigured: "This chat is not available right now.", origin: "This chat isn't enabled on this website.",
      revoked: "Your chat session has ended. Reload the page to start a new one.",
      sessionError: "We can't reach the chat right now. Retrying…",
      offlineDefault: "We're away right now. Leave a message and we'll get back to you by email.",
      emailAsk: "Get notified by email", emailLabel: "Your email", emailPh: "you@example.com", emailSave: "Notify me",
      emailSaved: "We'll email you at {email}.", emailBad: "Please enter a valid email address.",
      about: "You're asking about", openMap: "Open in OpenStreetMap", location: "Location", image: "Image",
      closed: "This conversation was closed. Send a message to start a new one.", powered: "Powered by Charla",
      closeImage: "Close image", dismiss: "Dismiss", you: "You", error: "Something went wrong.",
      sendError: "Your message could not be sent: {error}", newConversation: "New conversation",
      identifyFailed: "We couldn't verify your identity, so you're chatting as a guest.",
    },
    es: {
      online: "En línea", away: "Ausentes", close: "Cerrar chat", placeholder: "Escribe un mensaje…", send: "Enviar",
      attach: "Adjuntar un archivo (imagen o PDF)", today: "Hoy", yesterday: "Ayer", typing: "{name} está escribiendo…",
      team: "El equipo", bot: "Asistente", queue: "Eres el n.º {n} en la cola", queueNext: "Eres el siguiente en la cola",
      sending: "Enviando", sent: "Enviado", delivered: "Entregado", read: "Leído", failed: "No enviado. Toca para reintentar.",
      tooBig: "«{name}» es demasiado grande ({size}). El máximo es {max}.",
      badType: "«{name}» no se puede enviar. Puedes enviar imágenes (PNG, JPEG, GIF, WebP) y archivos PDF.",
      uploadFailed: "No se pudo subir «{name}»: {error}", uploading: "Subiendo…",
      reconnecting: "Reconectando…", netDown: "Sin conexión. Tus mensajes se enviarán cuando vuelvas a estar en línea.",
      identity: "No pudimos verificar tu identidad, así que este chat no está disponible. Recarga la página o contacta con el soporte del sitio.",
      notConfigured: "Este chat no está disponible ahora mismo.", origin: "Este chat no está habilitado en este sitio web.",
      revoked: "Tu sesión de chat ha terminado. Recarga la página para empezar otra.",
      sessionError: "No podemos conectar con el chat ahora mismo. Reintentando…",
      offlineDefault: "Ahora no estamos disponibles. Déjanos un mensaje y te responderemos por email.",
      emailAsk: "Recibe la respuesta por email", emailLabel: "Tu email", emailPh: "tu@ejemplo.com", emailSave: "Avisarme",
      emailSaved: "Te escribiremos a {email}.", emailBad: "Escribe un email válido.",
      about: "Preguntas por", openMap: "Abrir en OpenStreetMap", location: "Ubicación", image: "Imagen",
      closed: "Esta conversación se cerró. Escribe un mensaje para empezar una nueva.", powered: "Con la tecnología de Charla",
      closeImage: "Cerrar imagen", dismiss: "Cerrar", you: "Tú", error: "Algo ha fallado.",
      sendError: "No se pudo enviar tu mensaje: {error}", newConversation: "Nueva conversación",
      identifyFailed: "No pudimos verificar tu identidad, así que chateas como invitado.",
    },
  };
  let L = "en";
  const t = (k, v) => (I18N[L][k] || I18N.en[k] || k).replace(/\{(\w+)\}/g, (_, n) => (v && v[n] != null ? v[n] : ""));
  const pickLang = (...c) => {
    for (const x of c) { const s = String(x || "").toLowerCase().slice(0, 2); if (I18N[s]) return s; }
    return "en";
  };

  // ---------------------------------------------------------------- state
  const S = {
    parent: null, token: null, boot: {}, open: false, site: C.site, contact: null, fatal: null,
    convs: new Map(), cur: null, msgs: new Map(), seq: 0, loaded: false, baseUnread: 0, unread: 0,
    context: null, wsFails: 0, wsAttempt: 0, typingOut: 0, typingStopT: 0, agentTyping: null, page: null, transport: "ws",
  };
  const RANK = { sending: 0, sent: 1, delivered: 2, read: 3, failed: -1 };
  const uuid = () => (w.crypto && crypto.randomUUID ? crypto.randomUUID()
    : "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12));

  // ---------------------------------------------------------------- DOM helpers
  function h(tag, attrs, ...kids) {
    const e = d.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v == null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) if (kid != null && kid !== false) e.append(kid.nodeType ? kid : String(kid));
    return e;
  }
  const SVG = {
    close: '<svg viewBox="0 0 24 24" width="22" height="22" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"><path d="M6 6l12 12M18 6 6 18"/></svg>',
    send: '<svg viewBox="0 0 24 24" width="20" height="20" fill="currentColor"><path d="M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z"/></svg>',
    clip: '<svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M21 11.5 12.4 20a5.5 5.5 0 0 1-7.8-7.8l8.6-8.5a3.7 3.7 0 0 1 5.2 5.2L9.8 17.4a1.8 1.8 0 0 1-2.6-2.6l7.9-7.8"/></svg>',
    doc: '<svg viewBox="0 0 24 24" width="22" height="22" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"><path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z"/><path d="M14 3v5h5M9 13h6M9 17h4"/></svg>',
    pin: '<svg viewBox="0 0 24 24" width="22" height="22" fill="none" stroke="currentColor" stroke-width="1.8"><path d="M12 21s-7-6.2-7-11.5a7 7 0 0 1 14 0C19 14.8 12 21 12 21z"/><circle cx="12" cy="9.5" r="2.5"/></svg>',
    moon: '<svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"><path d="M20 14.5A8 8 0 0 1 9.5 4a8 8 0 1 0 10.5 10.5z"/></svg>',
    clock: '<svg viewBox="0 0 16 16" width="14" height="14" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round"><circle cx="8" cy="8" r="6"/><path d="M8 5v3l2 1.5"/></svg>',
    one: '<svg viewBox="0 0 16 16" width="16" height="14" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round"><path d="m3 8.5 3 3 7-7"/></svg>',
    two: '<svg viewBox="0 0 20 16" width="19" height="14" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round"><path d="m1.5 8.5 3 3 7-7M9 11.5l7-7"/></svg>',
    bang: '<svg viewBox="0 0 16 16" width="14" height="14" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"><circle cx="8" cy="8" r="6.5"/><path d="M8 4.5v4M8 11.2v.1"/></svg>',
    bot: '<svg viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"><rect x="4" y="8" width="16" height="11" rx="3"/><path d="M12 4v4M9 13h.01M15 13h.01"/></svg>',
  };
  const icon = (name, cls) => { const s = h("span", { class: "ic " + (cls || ""), "aria-hidden": "true" }); s.innerHTML = SVG[name]; return s; };
  const initials = (name) => (String(name || "?").trim().split(/\s+/).slice(0, 2).map((p) => p[0]).join("") || "?").toUpperCase();
  function avatar(person, cls) {
    const a = h("span", { class: "av " + (cls || ""), "aria-hidden": "true" });
    if (person && person.avatar) a.append(h("img", { src: person.avatar, alt: "" }));
    else if (person && person.type === "bot") a.append(icon("bot"));
    else a.textContent = initials(person && person.name);
    return a;
  }
  const fmtSize = (n) => (n >= 1048576 ? (n / 1048576).toFixed(n >= 10485760 ? 0 : 1) + " MB" : Math.max(1, Math.round(n / 1024)) + " KB");
  const safeUrl = (u) => { try { const x = new URL(u, C.origin); return /^https?:$/.test(x.protocol) ? x.href : null; } catch (e) { return null; } };
  function linkify(text) {
    const out = [], re = /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'’”]/gi;
    let last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) out.push(text.slice(last, m.index));
      out.push(h("a", { href: m[0], target: "_blank", rel: "noopener noreferrer nofollow" }, m[0]));
      last = re.lastIndex;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }
  const when = (m) => new Date(m.created_at || m._t || Date.now());
  const dayKey = (dt) => `${dt.getFullYear()}-${dt.getMonth()}-${dt.getDate()}`;
  const clock = (dt) => new Intl.DateTimeFormat(L, { hour: "numeric", minute: "2-digit" }).format(dt);
  function dayLabel(dt) {
    const now = new Date(), y = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
    if (dayKey(dt) === dayKey(now)) return t("today");
    if (dayKey(dt) === dayKey(y)) return t("yesterday");
    const o = { weekday: "long", day: "numeric", month: "long" };
    if (dt.getFullYear() !== now.getFullYear()) o.year = "numeric";
    return new Intl.DateTimeFormat(L, o).format(dt);
  }

  // ---------------------------------------------------------------- layout
  const ui = {};
  function build() {
    d.documentElement.lang = L;
    ui.title = h("h1", { id: "cw-title" });
    ui.status = h("p", { class: "hd-st" });
    ui.logo = h("div", { class: "hd-logo", "aria-hidden": "true" });
    ui.closeBtn = h("button", { type: "button", class: "ibtn hd-x", "aria-label": t("close"), onclick: () => toParent("close") });
    ui.closeBtn.innerHTML = SVG.close;
    ui.conn = h("div", { class: "conn", role: "status", hidden: true });
    ui.alert = h("div", { class: "alert", role: "alert", hidden: true });
    ui.intro = h("div", { class: "intro" });
    ui.log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": "Messages" });
    ui.after = h("div", { class: "after" });
    ui.typing = h("div", { class: "typing", hidden: true, "aria-live": "polite" });
    ui.body = h("main", { class: "body", tabindex: "-1" }, ui.intro, ui.log, ui.after, ui.typing);
    ui.notice = h("div", { class: "notice", role: "status", hidden: true });
    ui.text = h("textarea", { rows: 1, placeholder: t("placeholder"), "aria-label": t("placeholder"), maxlength: C.limits.max_chars });
    ui.file = h("input", { type: "file", accept: C.limits.types.join(","), hidden: true, tabindex: "-1" });
    ui.attach = h("button", { type: "button", class: "ibtn att", "aria-label": t("attach"), title: t("attach"), onclick: () => ui.file.click() });
    ui.attach.innerHTML = SVG.clip;
    ui.send = h("button", { type: "submit", class: "send", "aria-label": t("send"), title: t("send"), disabled: true });
    ui.send.innerHTML = SVG.send;
    ui.form = h("form", { class: "cmp", onsubmit: (e) => { e.preventDefault(); submit(); } }, ui.text, ui.attach, ui.file, ui.send);
    ui.foot = h("div", { class: "foot" }, t("powered"));
    ui.dialog = h("div", { class: "cw", role: "dialog", "aria-modal": "true", "aria-labelledby": "cw-title" },
      h("header", { class: "hd" }, ui.logo, h("div", { class: "hd-txt" }, ui.title, ui.status), ui.closeBtn),
      ui.conn, ui.alert, ui.body, ui.notice, ui.form, ui.foot);
    ui.lb = h("div", { class: "lb", hidden: true, role: "dialog", "aria-modal": "true", "aria-label": t("image"), onclick: (e) => { if (e.target === ui.lb) lightbox(null); } });
    const app = d.getElementById("app");
    app.textContent = "";
    app.append(ui.dialog, ui.lb);

    ui.text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submit(); }
    });
    ui.text.addEventListener("input", () => { grow(); ui.send.disabled = !ui.text.value.trim(); typingTick(); });
    ui.file.addEventListener("change", () => { const f = ui.file.files && ui.file.files[0]; ui.file.value = ""; if (f) upload(f); });
    ui.body.addEventListener("dragover", (e) => e.preventDefault());
    ui.body.addEventListener("drop", (e) => { e.preventDefault(); const f = e.dataTransfer.files && e.dataTransfer.files[0]; if (f) upload(f); });
    ui.text.addEventListener("paste", (e) => {
      const f = e.clipboardData && e.clipboardData.files && e.clipboardData.files[0];
      if (f) { e.preventDefault(); upload(f); }
    });
    d.addEventListener("keydown", onKey);
    d.addEventListener("visibilitychange", () => { if (!d.hidden) markRead(); });
    w.addEventListener("focus", markRead);
    w.addEventListener("online", () => { if (S.transport === "ws" && !S.wsOpen && S.booted) { S.wsAttempt = 0; connect(); } });
    paintSite();
  }
  function grow() {
    ui.text.style.height = "auto";
    ui.text.style.height = Math.min(ui.text.scrollHeight, 132) + "px";
  }
  function onKey(e) {
    if (e.key === "Escape") {
      e.preventDefault();
      if (!ui.lb.hidden) lightbox(null); else toParent("close");
      return;
    }
    if (e.key !== "Tab") return;
    const scope = ui.lb.hidden ? ui.dialog : ui.lb;
    const f = Array.from(scope.querySelectorAll('a[href],button:not([disabled]),textarea,input:not([type=hidden]):not([hidden]),[tabindex]:not([tabindex="-1"])'))
      .filter((x) => x.offsetParent !== null || x === d.activeElement);
    if (!f.length) return;
    const first = f[0], last = f[f.length - 1];
    if (e.shiftKey && (d.activeElement === first || !scope.contains(d.activeElement))) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && (d.activeElement === last || !scope.contains(d.activeElement))) { e.preventDefault(); first.focus(); }
  }
  const hex = (c, dflt) => (/^#[0-9a-f]{3,8}$/i.test(c || "") ? c : dflt);
  function paintSite() {
    const s = S.site || {}, c = s.colors || {}, root = d.documentElement.style;
    root.setProperty("--p", hex(c.primary, "#4F46E5"));
    root.setProperty("--on-p", hex(c.text, "#FFFFFF"));
    ui.title.textContent = s.team_name || s.name || "";
    ui.logo.textContent = "";
    if (s.logo_url) ui.logo.append(h("img", { src: s.logo_url, alt: "" }));
    else ui.logo.textContent = initials(s.team_name || s.name);
    ui.status.textContent = "";
    const away = s.online === false, line = away ? t("away") : s.reply_time_text || t("online");
    ui.status.title = line;
    ui.status.append(h("span", { class: "dot " + (away ? "off" : "on"), role: "img", "aria-label": away ? t("away") : t("online") }), h("span", null, line));
    ui.dialog.classList.toggle("is-away", s.online === false);
    renderIntro();
    renderAfter();
  }

  // ---------------------------------------------------------------- messages: store
  const keyOf = (m) => "k" + (m.client_id || m.id);
  function find(m) {
    if (m.client_id && S.msgs.has("k" + m.client_id)) return S.msgs.get("k" + m.client_id);
    if (m.id != null) {
      if (S.msgs.has("k" + m.id)) return S.msgs.get("k" + m.id);
      for (const x of S.msgs.values()) if (x.id === m.id) return x;
    }
    return null;
  }
  function upsert(m, opts) {
    if (!m || (m.id == null && !m.client_id)) return null;
    const old = find(m);
    if (old) {
      const status = old.status && m.status && RANK[m.status] >= 0 && RANK[old.status] > RANK[m.status] ? old.status : m.status;
      Object.assign(old, m, { status: status || old.status, _err: m.status === "failed" ? old._err : null });
      old._v = (old._v || 0) + 1;
      return old;
    }
    m._key = keyOf(m);
    m._seq = ++S.seq;
    m._v = 1;
    S.msgs.set(m._key, m);
    if (m.id != null && !(opts && opts.quiet) && m.sender && (m.sender.type === "agent" || m.sender.type === "bot")) incoming(m);
    return m;
  }
  const sorted = () => Array.from(S.msgs.values()).sort((a, b) =>
    (a.id == null ? Infinity : a.id) - (b.id == null ? Infinity : b.id) || a._seq - b._seq);
  // How far each conversation has been received *without gaps*: from history and polls (GET
  // after the cursor), from `resume.done`, and from live frames once this socket has resumed
  // that conversation. Acks of our own sends never move it (a message acked over HTTP while the
  // socket was down has a higher id than team messages we have not received yet), nor do live
  // frames of a conversation this socket has not resumed yet.
  const cursor = new Map();
  const synced = new Set(); // conversations resumed on the current socket (resume.done received)
  const resumed = new Set(); // conversations a resume was sent for on the current socket
  const lastId = (convId) => cursor.get(convId) || 0;
  function seen(m) {
    if (m && m.id && m.conversation_id) cursor.set(m.conversation_id, Math.max(lastId(m.conversation_id), m.id));
    return m;
  }
  function incoming(m) {
    if (S.agentTyping) setAgentTyping(null);
    toParent("message", { message: publicMessage(m) });
    const text = m.content || (m.attachments && m.attachments[0] && m.attachments[0].name) || (m.payload && m.payload.title) || "";
    S._last = { name: (m.sender && m.sender.name) || (S.site && S.site.team_name) || "", text: text.slice(0, 140) };
  }
  const publicMessage = (m) => ({
    id: m.id, conversation_id: m.conversation_id, kind: m.kind, content: m.content, payload: m.payload,
    sender: m.sender, created_at: m.created_at, attachments: m.attachments,
  });

  // ---------------------------------------------------------------- messages: render
  let renderQ = 0;
  function render() { if (!renderQ) renderQ = setTimeout(doRender, 16); } // not rAF: it never fires in a hidden iframe or tab
  function doRender() {
    renderQ = 0;
    const atBottom = ui.body.scrollHeight - ui.body.scrollTop - ui.body.clientHeight < 80;
    const list = sorted().filter((m) => !m._hidden);
    const want = [];
    let prev = null, prevDay = "";
    const lastContactIdx = list.reduce((acc, m, i) => (m.sender && m.sender.type === "contact" ? i : acc), -1);
    list.forEach((m, i) => {
      const dt = when(m), dk = dayKey(dt);
      if (dk !== prevDay) {
        want.push(dayNode(dk, dt));
        prevDay = dk;
        prev = null;
      }
      const next = list[i + 1];
      const same = (a, b) => a && b && a.kind !== "system" && b.kind !== "system" && a.sender && b.sender &&
        a.sender.type === b.sender.type && a.sender.id === b.sender.id && Math.abs(when(a) - when(b)) < 180000 && dayKey(when(a)) === dayKey(when(b));
      const node = msgNode(m, { first: !same(prev, m), last: !same(m, next), answered: i < lastContactIdx });
      want.push(node);
      prev = m;
    });
    // keyed reconcile: reuse nodes, move only what is out of place
    const keep = new Set(want);
    Array.from(ui.log.children).forEach((n) => { if (!keep.has(n)) n.remove(); });
    want.forEach((n, i) => { if (ui.log.children[i] !== n) ui.log.insertBefore(n, ui.log.children[i] || null); });
    renderAfter();
    if (atBottom || S.stick) { ui.body.scrollTop = ui.body.scrollHeight; S.stick = false; }
    updateUnread();
  }
  const dayNodes = new Map();
  function dayNode(dk, dt) {
    let n = dayNodes.get(dk);
    if (!n) { n = h("div", { class: "day", role: "separator" }, h("span", null, dayLabel(dt))); dayNodes.set(dk, n); }
    return n;
  }
  function msgNode(m, pos) {
    const flags = `${pos.first}|${pos.last}|${pos.answered}`;
    const sh = shape(m);
    if (!m._node || m._shape !== sh || (m.kind === "quick_replies" && m._nf !== flags)) {
      buildRow(m, pos); // the reconcile swaps the old node out
    } else {
      if (m._nv !== m._v) updateMeta(m); // ticks: in place, focus stays
      if (m._nf !== flags) setRowClass(m, pos);
    }
    m._nv = m._v; m._nf = flags; m._shape = sh;
    return m._node;
  }
  const shape = (m) => JSON.stringify([m.kind, m.content, m.payload, (m.attachments || []).map((a) => a.id || a.name),
    m._upload && m._upload.state, m._err]);
  function setRowClass(m, pos) {
    const who = m.kind === "system" ? "sys" : m.sender && m.sender.type === "contact" ? "me" : "them";
    m._node.className = `row ${who}${pos.first ? " first" : ""}${pos.last ? " last" : ""} k-${m.kind || "text"}`;
    const av = m._node.querySelector(":scope > .av");
    if (av) av.style.visibility = pos.last ? "visible" : "hidden";
    const nm = m._node.querySelector(":scope > .col > .who");
    if (nm) nm.hidden = !pos.first;
  }
  function buildRow(m, pos) {
    const mine = m.sender && m.sender.type === "contact";
    if (m.kind === "system") {
      m._node = h("div", { class: "row sys", "data-id": m.id || "", "data-kind": "system" }, h("p", null, m.content));
      m._meta = null;
      return m._node;
    }
    const row = h("div", { "data-id": m.id || "", "data-kind": m.kind || "text" });
    const col = h("div", { class: "col" });
    if (!mine) {
      row.append(avatar(m.sender, "sm"));
      col.append(h("div", { class: "who" }, (m.sender && m.sender.name) || (m.sender && m.sender.type === "bot" ? t("bot") : (S.site && S.site.team_name) || t("team"))));
    }
    const bubble = h("div", { class: "bub" });
    const kind = m.kind || "text";
    const atts = m.attachments || [];
    if (m._upload) bubble.append(uploadView(m));
    else if (kind === "card") bubble.append(card(m.payload || {}));
    else if (kind === "location") bubble.append(locationView(m.payload || {}, m.content));
    else {
      atts.forEach((a) => bubble.append(attachmentView(a)));
      if (m.content) bubble.append(h("div", { class: "txt" }, linkify(m.content)));
    }
    if (!bubble.childNodes.length) bubble.append(h("div", { class: "txt" }, "…"));
    const meta = h("span", { class: "meta" });
    bubble.append(meta);
    col.append(bubble);
    let qrs = null;
    if (kind === "quick_replies" && !pos.answered && !mine) {
      const opts = ((m.payload && m.payload.options) || []).map((o) =>
        h("button", { type: "button", class: "qr", onclick: () => quickReply(m, o) }, o.label));
      qrs = h("div", { class: "qrs", role: "group", "aria-label": m.content || "" }, opts);
    }
    if (m._err) col.append(h("button", { type: "button", class: "err", onclick: () => retry(m) }, m._err));
    row.append(col);
    if (qrs) row.append(qrs);
    m._node = row;
    m._meta = meta;
    setRowClass(m, pos);
    updateMeta(m);
    return row;
  }
  function updateMeta(m) {
    const meta = m._meta;
    if (!meta) return;
    const mine = m.sender && m.sender.type === "contact";
    const dt = when(m);
    meta.textContent = "";
    meta.append(h("time", { datetime: dt.toISOString(), title: dt.toLocaleString(L) }, clock(dt)));
    if (mine) {
      const s = m._err ? "failed" : m.status || "sending";
      const name = { sending: "clock", sent: "one", delivered: "two", read: "two", failed: "bang" }[s] || "one";
      const tick = icon(name, "tick t-" + s);
      tick.setAttribute("aria-hidden", "false");
      tick.setAttribute("role", "img");
      tick.setAttribute("aria-label", t(s));
      tick.title = t(s);
      meta.append(tick);
      if (m._node) m._node.setAttribute("data-status", s);
    }
    if (m._node && m.id) m._node.setAttribute("data-id", m.id);
  }
  function attachmentView(a) {
    const url = safeUrl(a.url);
    if (a.content_type && a.content_type.indexOf("image/") === 0 && url) {
      const img = h("img", { src: safeUrl(a.thumbnail_url) || url, alt: a.name || t("image"), loading: "lazy" });
      img.addEventListener("load", () => { if (ui.body.scrollHeight - ui.body.scrollTop - ui.body.clientHeight < 400) ui.body.scrollTop = ui.body.scrollHeight; }, { once: true });
      return h("a", { class: "img", href: url, target: "_blank", rel: "noopener", onclick: (e) => { e.preventDefault(); lightbox(url, a.name); } }, img);
    }
    return h("a", { class: "doc", href: url || "#", target: "_blank", rel: "noopener", download: a.name || "" },
      icon("doc"), h("span", { class: "doc-t" }, h("strong", null, a.name || "file"), h("small", null, [fmtSize(a.size || 0), (a.content_type || "").split("/").pop().toUpperCase()].filter(Boolean).join(" · "))));
  }
  function card(p, label) {
    const url = safeUrl(p.url), img = safeUrl(p.image_url || p.image);
    const inner = [
      img ? h("span", { class: "card-img" }, h("img", { src: img, alt: "", loading: "lazy" })) : null,
      h("span", { class: "card-b" },
        label ? h("small", { class: "card-l" }, label) : null,
        h("strong", { class: "card-t" }, p.title || ""),
        p.price ? h("span", { class: "card-p" }, p.price) : null,
        p.ref ? h("small", { class: "card-r" }, p.ref) : null),
    ];
    return url ? h("a", { class: "card", href: url, target: "_blank", rel: "noopener" }, inner) : h("div", { class: "card" }, inner);
  }
  function locationView(p, content) {
    const lat = Number(p.lat), lng = Number(p.lng);
    const ok = isFinite(lat) && isFinite(lng);
    const href = ok ? `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lng}#map=16/${lat}/${lng}` : null;
    return h("div", { class: "loc" }, icon("pin"),
      h("span", { class: "loc-b" },
        h("strong", null, p.name || content || t("location")),
        ok ? h("small", null, `${lat.toFixed(5)}, ${lng.toFixed(5)}`) : null,
        href ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }, t("openMap")) : null));
  }
  function uploadView(m) {
    const u = m._upload;
    const box = h("div", { class: "up" + (u.state === "error" ? " up-err" : "") });
    if (u.preview) box.append(h("img", { src: u.preview, alt: "" }));
    else box.append(icon("doc"));
    const bar = h("span", { class: "bar" }, h("i"));
    box.append(h("span", { class: "up-b" }, h("strong", null, u.name), h("small", null, u.state === "error" ? u.error : `${t("uploading")} ${fmtSize(u.size)}`), u.state === "error" ? null : bar));
    u.bar = bar.firstChild;
    u.bar.style.width = Math.round(u.progress * 100) + "%";
    return box;
  }
  function lightbox(url, name) {
    if (!url) {
      if (ui.lb.hidden) return;
      ui.lb.hidden = true;
      ui.lb.textContent = "";
      if (S.lbFrom && S.open) S.lbFrom.focus();
      S.lbFrom = null;
      return;
    }
    S.lbFrom = d.activeElement;
    const x = h("button", { type: "button", class: "ibtn lb-x", "aria-label": t("closeImage"), onclick: () => lightbox(null) });
    x.innerHTML = SVG.close;
    ui.lb.textContent = "";
    ui.lb.append(h("img", { src: url, alt: name || t("image") }), x);
    ui.lb.hidden = false;
    x.focus();
  }

  // ---------------------------------------------------------------- intro / after / notices
  function renderIntro() {
    if (!ui.intro) return;
    const s = S.site || {}, ctx = currentContext();
    const sig = JSON.stringify([ctx, s.greeting, s.team_name, s.name, s.logo_url, L]);
    if (sig === S.introSig) return;
    S.introSig = sig;
    ui.intro.textContent = "";
    if (ctx && ctx.title) ui.intro.append(h("div", { class: "ctx" }, card(ctx, t("about"))));
    if (s.greeting) {
      ui.intro.append(h("div", { class: "row them first last greet" }, avatar({ name: s.team_name || s.name, avatar: s.logo_url }, "sm"),
        h("div", { class: "col" }, h("div", { class: "who" }, s.team_name || s.name || t("team")), h("div", { class: "bub" }, h("div", { class: "txt" }, linkify(s.greeting))))));
    }
  }
  function renderAfter() {
    if (!ui.after) return;
    const s = S.site || {}, sig = JSON.stringify([s.online, s.offline_message, S.contact && S.contact.email, !!S.fatal, L]);
    if (sig !== S.afterSig) { S.afterSig = sig; renderAway(s); }
    renderNotice();
  }
  function renderAway(s) {
    ui.after.textContent = "";
    if (s.online === false && !S.fatal) {
      const box = h("div", { class: "away" }, h("div", { class: "away-h" }, icon("moon"), h("p", null, s.offline_message || t("offlineDefault"))));
      const email = S.contact && S.contact.email;
      if (email) box.append(h("p", { class: "away-ok" }, t("emailSaved", { email })));
      else {
        const input = h("input", { type: "email", required: true, placeholder: t("emailPh"), "aria-label": t("emailLabel"), autocomplete: "email" });
        const err = h("p", { class: "away-err", hidden: true });
        const form = h("form", { class: "away-f", novalidate: true, onsubmit: (e) => {
          e.preventDefault();
          const v = input.value.trim();
          if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)) { err.textContent = t("emailBad"); err.hidden = false; input.focus(); return; }
          identify({ email: v }).then(() => { renderAfter(); ui.text.focus(); }).catch((x) => { err.textContent = x.message; err.hidden = false; });
        } }, input, h("button", { type: "submit", class: "btn" }, t("emailSave")));
        box.append(h("p", { class: "away-l" }, t("emailAsk")), form, err);
      }
      ui.after.append(box);
    }
  }
  function renderNotice() { // queue position / closed notice (above the composer)
    const c = S.convs.get(S.cur);
    let note = "";
    if (c && c.status === "closed") note = t("closed");
    else if (c && c.status === "queued" && c.queue_position != null) note = +c.queue_position <= 1 ? t("queueNext") : t("queue", { n: c.queue_position });
    ui.notice.textContent = note;
    ui.notice.hidden = !note;
  }
  function currentContext() {
    const c = S.convs.get(S.cur);
    if (c && c.status !== "closed" && c.context && c.context.title) return c.context;
    return S.context;
  }
  function showAlert(text, kind) {
    ui.alert.textContent = "";
    if (!text) { ui.alert.hidden = true; return; }
    ui.alert.className = "alert " + (kind || "err");
    ui.alert.append(h("span", null, text));
    if (kind !== "fatal") {
      const x = h("button", { type: "button", class: "ibtn", "aria-label": t("dismiss"), onclick: () => showAlert(null) });
      x.innerHTML = SVG.close;
      ui.alert.append(x);
    }
    ui.alert.hidden = false;
  }
  function setConn(text) { ui.conn.textContent = text || ""; ui.conn.hidden = !text; }
  function setFatal(text, detail) {
    S.fatal = text;
    showAlert(null);
    ui.form.hidden = true;
    ui.intro.hidden = ui.log.hidden = ui.typing.hidden = ui.notice.hidden = true;
    ui.fatal = ui.fatal || h("div", { class: "fatal", role: "alert" });
    ui.fatal.textContent = "";
    ui.fatal.append(icon("bang", "fatal-i"), h("p", null, text), detail ? h("small", null, detail) : null);
    if (!ui.fatal.parentNode) ui.body.prepend(ui.fatal);
    renderAfter();
  }

  // ---------------------------------------------------------------- typing
  function typingTick() {
    const c = S.convs.get(S.cur);
    if (!c || c.status === "closed") return;
    const now = Date.now();
    if (!ui.text.value.trim()) { typingStop(); return; }
    if (now - S.typingOut > 4000) { S.typingOut = now; transportTyping(c.id, "start"); }
    clearTimeout(S.typingStopT);
    S.typingStopT = setTimeout(typingStop, 2500);
  }
  function typingStop() {
    clearTimeout(S.typingStopT);
    if (!S.typingOut) return;
    S.typingOut = 0;
    if (S.cur) transportTyping(S.cur, "stop");
  }
  function setAgentTyping(who) {
    clearTimeout(S.agentTypingT);
    S.agentTyping = who;
    ui.typing.textContent = "";
    ui.typing.hidden = !who;
    if (!who) return;
    ui.typing.append(avatar(who, "sm"), h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")),
      h("span", { class: "sr" }, t("typing", { name: who.name || t("team") })));
    ui.typing.title = t("typing", { name: who.name || t("team") });
    const atBottom = ui.body.scrollHeight - ui.body.scrollTop - ui.body.clientHeight < 80;
    if (atBottom) ui.body.scrollTop = ui.body.scrollHeight;
    S.agentTypingT = setTimeout(() => setAgentTyping(null), 8000);
  }

  // ---------------------------------------------------------------- unread / read
  function computeUnread() {
    let n = 0;
    for (const m of S.msgs.values()) if (m.id && m.sender && (m.sender.type === "agent" || m.sender.type === "bot") && m.status !== "read") n++;
    return S.loaded ? n : Math.max(n, S.baseUnread);
  }
  function updateUnread() {
    const n = computeUnread();
    if (n === S.unread) return;
    const grew = n > S.unread;
    S.unread = n;
    toParent("unread", { count: n, last: grew ? S._last : null });
    if (n && S.open && !d.hidden) markRead();
  }
  let readT = 0;
  function markRead() {
    clearTimeout(readT);
    readT = setTimeout(() => {
      if (!S.open || d.hidden) return;
      const per = new Map();
      for (const m of S.msgs.values()) {
        if (m.id && m.sender && (m.sender.type === "agent" || m.sender.type === "bot") && m.status !== "read") {
          per.set(m.conversation_id, Math.max(per.get(m.conversation_id) || 0, m.id));
          m.status = "read";
          m._v++;
        }
      }
      if (!S.loaded && S.baseUnread) S.baseUnread = 0;
      per.forEach((id, conv) => transportRead(conv, id));
      if (per.size) render();
      updateUnread();
    }, 250);
  }

  // ---------------------------------------------------------------- HTTP
  function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (S.token) headers.Authorization = "Bearer " + S.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(C.api + path, { method, headers, credentials: "omit", body: body === undefined ? undefined : JSON.stringify(body), keepalive: path === "shutdown" })
      .then((r) => r.text().then((txt) => {
        let data = {};
        try { data = txt ? JSON.parse(txt) : {}; } catch (e) { data = {}; }
        if (!r.ok) {
          let detail = data.detail || data.message || (data.error && data.error.message);
          if (!detail) for (const k in data) if (Array.isArray(data[k]) && typeof data[k][0] === "string") { detail = data[k][0]; break; }
          detail = detail || r.statusText || t("error");
          const err = new Error(typeof detail === "string" ? detail : t("error"));
          err.status = r.status; err.code = (typeof data.error === "string" && data.error) || data.code || ""; err.data = data;
          throw err;
        }
        return data;
      }));
  }
  const msgsOf = (r) => (Array.isArray(r) ? r : r.results || r.messages || []);
  function pageMeta(r, convId) { // GET messages also tells the conversation and how far the team has read
    if (!r || Array.isArray(r)) return;
    if (r.conversation) {
      S.convs.set(r.conversation.id, Object.assign({}, S.convs.get(r.conversation.id), r.conversation));
      if (r.conversation.id === S.cur) renderAfter();
    }
    if (r.read_up_to) readBy("agent", convId, r.read_up_to);
  }
  function readBy(reader, convId, upTo) {
    const mine = reader !== "contact";
    for (const m of S.msgs.values()) {
      if (m.id && m.id <= upTo && m.conversation_id === convId && m.sender && (m.sender.type === "contact") === mine && m.status !== "read") {
        m.status = "read";
        m._v++;
      }
    }
  }
  const msgOf = (r) => (r && r.message && typeof r.message === "object" ? r.message : r);

  // ---------------------------------------------------------------- session
  function session() {
    const b = S.boot || {};
    const body = { app_id: C.app_id, locale: L };
    if (S.token) body.visitor_token = S.token;
    if (S.page && /^https?:/.test(S.page.url || "")) body.page_url = S.page.url.slice(0, 2000);
    ["user_id", "user_hash", "email", "name", "phone", "attributes"].forEach((k) => { if (b[k] != null && b[k] !== "") body[k] = b[k]; });
    if (body.user_id != null) body.user_id = String(body.user_id);
    return api("POST", "session", body).then((r) => {
      S.sessionTries = 0;
      setToken(r.visitor_token);
      S.contact = r.contact || S.contact;
      if (r.site) {
        // locale: the site's own widget language (frame config) or the browser's, not an account default
        S.site = Object.assign({}, S.site, r.site, { locale: (C.site || {}).locale });
        if (r.site.colors) S.site.colors = Object.assign({}, (C.site || {}).colors, r.site.colors);
        if (!r.site.logo_url) S.site.logo_url = (C.site || {}).logo_url;
      }
      if (!(S.boot && S.boot.locale)) L = pickLang(S.boot.locale, S.site.locale, navigator.language);
      S.convs.clear();
      (r.conversations || []).forEach((c) => S.convs.set(c.id, c));
      const list = Array.from(S.convs.values()).sort((a, b) => (b.id || 0) - (a.id || 0));
      const openConv = list.find((c) => c.status !== "closed");
      S.cur = (openConv || list[0] || {}).id || null;
      S.baseUnread = list.reduce((n, c) => n + (c.unread | 0), 0);
      relabel();
      paintSite();
      showAlert(null);
      setConn("");
      return loadHistory();
    }, (err) => {
      if (err.status === 403 && /hash|identity/i.test(err.code + err.message)) return setFatal(t("identity"), err.message);
      if (err.status === 403 && /origin/i.test(err.code)) return setFatal(t("origin"));
      if (err.status === 404) return setFatal(t("notConfigured"));
      if (err.status === 400) return setFatal(t("error"), err.message);
      if (err.status === 403 || err.status === 401) {
        if (S.token) { setToken(null); return session(); } // stale token: start over
        return setFatal(t("error"), err.message);
      }
      S.sessionTries = (S.sessionTries || 0) + 1;
      setConn(t("sessionError"));
      return new Promise((res) => setTimeout(res, backoff(S.sessionTries))).then(session);
    });
  }
  function setToken(tok) {
    if (tok === S.token) return;
    S.token = tok;
    if (tok) toParent("token", { token: tok });
    if (tok && S.standalone) try { localStorage.setItem(S.standalone, tok); } catch (e) { /* private mode */ }
  }
  function relabel() {
    d.documentElement.lang = L;
    ui.text.placeholder = t("placeholder");
    ui.text.setAttribute("aria-label", t("placeholder"));
    ui.closeBtn.setAttribute("aria-label", t("close"));
    ui.attach.setAttribute("aria-label", t("attach"));
    ui.attach.title = t("attach");
    ui.send.setAttribute("aria-label", t("send"));
    ui.send.title = t("send");
    ui.foot.textContent = t("powered");
  }
  function loadHistory() {
    if (!S.cur) { S.loaded = true; render(); return afterSession(); }
    return api("GET", `messages?conversation_id=${encodeURIComponent(S.cur)}`).then((r) => {
      msgsOf(r).forEach((m) => upsert(seen(m), { quiet: true }));
      pageMeta(r, S.cur);
      S.loaded = true;
      S.stick = true;
      renderIntro();
      render();
      afterSession();
    }, () => { S.loaded = true; afterSession(); });
  }
  function afterSession() {
    S.booted = true;
    toParent("ready", { site: { colors: (S.site || {}).colors, team_name: (S.site || {}).team_name, online: (S.site || {}).online, locale: L } });
    if (S.pendingPage !== false && S.page) sendPage(S.page);
    S.pendingPage = false;
    connect();
    const q = S.afterBoot.splice(0);
    q.forEach((fn) => fn());
    if (S.open) markRead();
  }

  // ---------------------------------------------------------------- transport: WebSocket + polling fallback
  const backoff = (n) => Math.min(30000, 1000 * Math.pow(2, Math.max(0, n - 1))) * (0.5 + Math.random() * 0.5);
  function connect() {
    clearTimeout(S.reconnT);
    if (S.fatal || !S.token) return;
    if (S.forcePolling || !w.WebSocket || S.wsFails >= 3) return startPolling();
    if (S.ws && S.ws.readyState <= 1) return;
    let ws;
    try { ws = new WebSocket(`${C.ws}?token=${encodeURIComponent(S.token)}`); }
    catch (e) { S.wsFails = 99; return startPolling(); }
    S.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      S.wsOpen = true; S.wsFails = 0; S.wsAttempt = 0;
      S.transport = "ws";
      stopPolling();
      setConn("");
      synced.clear();
      resumed.clear();
      S.convs.forEach((cv) => { if (cv.id === S.cur || cv.status !== "closed") resume(cv.id); });
      if (S.page && S.pageDirty) sendPage(S.page);
      flushOutbox();
      clearInterval(S.pingT);
      S.pingT = setInterval(() => wsSend("ping", {}), 25000);
    };
    ws.onmessage = (e) => { let f; try { f = JSON.parse(e.data); } catch (x) { return; } onFrame(f); };
    ws.onclose = (e) => {
      if (S.ws !== ws) return;
      S.ws = null; S.wsOpen = false;
      clearInterval(S.pingT);
      if (S.fatal) return;
      if (e.code === 4403) { setFatal(t("origin")); return; } // this website may not use the chat
      if (e.code === 4401) {
        // the token was refused (revoked, merged): get a fresh session
        setConn(t("reconnecting"));
        S.reconnT = setTimeout(() => session(), backoff(++S.wsAttempt));
        return;
      }
      if (!opened) S.wsFails = (S.wsFails || 0) + 1;
      if (S.wsFails >= 3) { startPolling(); return; }
      if (opened) setConn(t("reconnecting"));
      S.reconnT = setTimeout(() => connect(), backoff(++S.wsAttempt));
    };
  }
  function resume(convId) { // catch up on a conversation over this socket (once per socket)
    if (!convId || resumed.has(convId) || !S.wsOpen) return;
    resumed.add(convId);
    wsSend("resume", { conversation_id: convId, after_id: lastId(convId) });
  }
  function wsSend(type, data) {
    if (!S.ws || S.ws.readyState !== 1) return false;
    S.ws.send(JSON.stringify({ type, data }));
    return true;
  }
  function onFrame(f) {
    const data = f.data || {};
    switch (f.type) {
      case "message.ack": {
        const m = upsert(Object.assign({}, data.message, { client_id: data.client_id || (data.message && data.message.client_id) }));
        ackDone(m);
        break;
      }
      case "message.created":
      case "message.updated": {
        const msg = data.message;
        if (f.type === "message.created" && msg && synced.has(msg.conversation_id)) seen(msg);
        const m = upsert(msg);
        if (m && m.client_id) ackDone(m);
        if (m && m.conversation_id) resume(m.conversation_id);
        if (m && m.conversation_id && !S.convs.has(m.conversation_id)) S.convs.set(m.conversation_id, { id: m.conversation_id, status: "queued" });
        if (m && m.conversation_id && m.conversation_id !== S.cur && m.id) switchTo(m.conversation_id);
        render();
        break;
      }
      case "message.read":
        readBy(data.reader, data.conversation_id, data.up_to_id);
        render();
        break;
      case "resume.done":
        if (data.last_id) cursor.set(data.conversation_id, Math.max(lastId(data.conversation_id), data.last_id));
        if (data.more) { resumed.delete(data.conversation_id); resume(data.conversation_id); break; }
        synced.add(data.conversation_id);
        break;
      case "typing":
        if (data.who && data.who.type !== "contact") setAgentTyping(data.state === "start" ? data.who : null);
        break;
      case "conversation.created":
      case "conversation.updated": {
        const c = data.conversation;
        if (!c) break;
        const before = S.convs.get(c.id);
        S.convs.set(c.id, Object.assign({}, before, c));
        if (!S.cur || (f.type === "conversation.created" && c.id > (S.cur || 0))) switchTo(c.id);
        resume(c.id);
        if (c.id === S.cur) { renderIntro(); renderAfter(); }
        break;
      }
      case "error": {
        const m = data.client_id && find({ client_id: data.client_id });
        if (m && m.id == null) { failed(m, data.message || t("error")); break; }
        if (data.code === "rate_limited") showAlert(data.message || t("error"));
        else if (data.code === "forbidden" && !m) showAlert(data.message || t("error"));
        break;
      }
      default: break; // pong, presence…
    }
  }
  function switchTo(id) {
    if (S.cur === id) return;
    S.cur = id;
    const c = S.convs.get(id);
    if (S.context && c && !(c.context && c.context.title)) sendContext(S.context);
    renderIntro();
    renderAfter();
  }

  let pollT = 0;
  function startPolling() {
    if (S.transport === "poll" && pollT) return;
    S.transport = "poll";
    setConn("");
    flushOutbox();
    if (S.page && S.pageDirty) sendPage(S.page);
    clearTimeout(pollT);
    pollT = setTimeout(poll, 300);
    // keep trying to upgrade to a socket now and then (unless polling is forced)
    clearInterval(S.upgradeT);
    if (!S.forcePolling && w.WebSocket && S.wsFails < 99) S.upgradeT = setInterval(() => { S.wsFails = 2; connect(); }, 60000);
  }
  function stopPolling() { clearTimeout(pollT); pollT = 0; clearInterval(S.upgradeT); }
  function poll() {
    pollT = 0;
    if (S.transport !== "poll" || S.fatal) return;
    const convs = new Set();
    if (S.cur) convs.add(S.cur);
    S.convs.forEach((c) => { if (c.status !== "closed") convs.add(c.id); });
    const jobs = Array.from(convs).map((id) => api("GET", `messages?conversation_id=${id}&after=${lastId(id)}`).then((r) => {
      msgsOf(r).forEach((m) => upsert(seen(m)));
      pageMeta(r, id);
    }));
    Promise.all(jobs).then(() => { setConn(""); render(); }, (e) => {
      if (e.status === 401 || e.status === 403) return session();
      if (!navigator.onLine) setConn(t("netDown"));
    }).then(() => { if (S.transport === "poll") pollT = setTimeout(poll, 2200 + Math.random() * 800); });
  }

  // ---------------------------------------------------------------- outbox: send with ack, retry, HTTP fallback
  const outbox = new Map(); // client_id -> message
  function flushOutbox() { outbox.forEach((m) => transmit(m)); }
  function transmit(m) {
    if (m._upload && m._upload.state !== "done") return;
    const data = { client_id: m.client_id, content: m.content || "" };
    const c = S.convs.get(m._conv);
    if (m._conv && c && c.status !== "closed") data.conversation_id = m._conv;
    if (m.kind && m.kind !== "text") data.kind = m.kind;
    if (m.payload && Object.keys(m.payload).length) data.payload = m.payload;
    if (m._attIds && m._attIds.length) data.attachments = m._attIds;
    if (!data.conversation_id && S.context) data.context = S.context;
    clearTimeout(m._t2);
    if (S.transport === "ws" && wsSend("message.send", data)) {
      m._t2 = setTimeout(() => { if (outbox.has(m.client_id)) httpSend(m, data); }, 8000);
    } else if (S.transport === "poll" || !w.WebSocket || S.forcePolling) {
      httpSend(m, data);
    } else {
      m._t2 = setTimeout(() => { if (outbox.has(m.client_id)) httpSend(m, data); }, 5000);
    }
  }
  function httpSend(m, data) {
    if (m._http) return;
    m._http = true;
    api("POST", "messages", data).then((r) => {
      m._http = false;
      const got = upsert(Object.assign({}, msgOf(r), { client_id: m.client_id }));
      ackDone(got);
      render();
    }, (e) => {
      m._http = false;
      if (!e.status) { m._t2 = setTimeout(() => outbox.has(m.client_id) && transmit(m), backoff(++m._tries || (m._tries = 1))); return; }
      failed(m, t("sendError", { error: e.message }));
    });
  }
  function ackDone(m) {
    if (!m || !m.client_id || !outbox.has(m.client_id)) return;
    const pending = outbox.get(m.client_id);
    clearTimeout(pending._t2);
    outbox.delete(m.client_id);
    if (m.status === "sending" || !m.status) m.status = "sent";
    m._err = null;
    m._v++;
    if (m.conversation_id) {
      if (!S.convs.has(m.conversation_id)) S.convs.set(m.conversation_id, { id: m.conversation_id, status: "queued" });
      switchTo(m.conversation_id);
      resume(m.conversation_id); // a conversation this socket has not caught up on yet
    }
    render();
  }
  function failed(m, text) {
    clearTimeout(m._t2);
    outbox.delete(m.client_id);
    m._err = text;
    m.status = "failed";
    m._v++;
    render();
  }
  function retry(m) {
    if (m._upload && m._upload.state === "error") { S.msgs.delete(m._key); if (m._node) m._node.remove(); render(); return; }
    m._err = null; m.status = "sending"; m._v++;
    outbox.set(m.client_id, m);
    transmit(m);
    render();
  }
  function queueMessage(fields) {
    if (S.fatal) return null;
    const m = upsert(Object.assign({
      client_id: uuid(), status: "sending", kind: "text", content: "", payload: {}, attachments: [],
      sender: { type: "contact", id: S.contact && S.contact.id, name: t("you") }, created_at: new Date().toISOString(),
    }, fields, { _conv: S.cur }), { quiet: true });
    outbox.set(m.client_id, m);
    S.stick = true;
    render();
    whenBooted(() => transmit(m));
    return m;
  }
  function submit() {
    const text = ui.text.value.trim();
    if (!text || S.fatal) return;
    ui.text.value = "";
    grow();
    ui.send.disabled = true;
    typingStop();
    queueMessage({ content: text });
    ui.text.focus();
  }
  function quickReply(m, o) {
    queueMessage({ content: o.label, payload: { reply_to: String(m.id), value: o.value != null ? o.value : o.label } });
    ui.text.focus();
  }

  // ---------------------------------------------------------------- uploads (XHR for progress)
  function upload(file) {
    if (S.fatal) return;
    const types = C.limits.types;
    if (types.indexOf(file.type) < 0) { showAlert(t("badType", { name: file.name })); return; }
    if (file.size > C.limits.max_bytes) { showAlert(t("tooBig", { name: file.name, size: fmtSize(file.size), max: fmtSize(C.limits.max_bytes) })); return; }
    showAlert(null);
    const isImg = file.type.indexOf("image/") === 0;
    const m = queueMessage({ kind: "text", _upload: { name: file.name, size: file.size, progress: 0, state: "up", preview: isImg && w.URL ? URL.createObjectURL(file) : null } });
    if (!m) return;
    whenBooted(() => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", C.api + "uploads");
      xhr.setRequestHeader("Authorization", "Bearer " + S.token);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (e) => { if (e.lengthComputable && m._upload.bar) { m._upload.progress = e.loaded / e.total; m._upload.bar.style.width = Math.round(m._upload.progress * 100) + "%"; } };
      xhr.onload = () => {
        let data = {};
        try { data = JSON.parse(xhr.responseText || "{}"); } catch (e) { data = {}; }
        if (xhr.status >= 200 && xhr.status < 300) {
          const att = data.attachment || data;
          m._upload.state = "done";
          m._attIds = [att.id];
          m.attachments = [att];
          m.kind = "text"; // the server derives image/document from the attachment
          delete m._upload;
          m._v++;
          render();
          transmit(m);
        } else uploadError(m, file, data.detail || data.message || (xhr.status === 413 ? t("tooBig", { name: file.name, size: fmtSize(file.size), max: fmtSize(C.limits.max_bytes) }) : xhr.statusText || t("error")));
      };
      xhr.onerror = () => uploadError(m, file, t("netDown"));
      const fd = new FormData();
      fd.append("file", file, file.name);
      xhr.send(fd);
    });
  }
  function uploadError(m, file, error) {
    outbox.delete(m.client_id);
    m._upload.state = "error";
    m._upload.error = error;
    m._err = t("dismiss");
    m._v++;
    showAlert(t("uploadFailed", { name: file.name, error }));
    render();
  }

  // ---------------------------------------------------------------- other calls
  function transportTyping(conv, state) {
    if (S.transport === "ws") wsSend("typing", { conversation_id: conv, state });
    else api("POST", "typing", { conversation_id: conv, state }).catch(() => {});
  }
  function transportRead(conv, id) {
    if (!(S.transport === "ws" && wsSend("read", { conversation_id: conv, message_id: id }))) {
      api("POST", "read", { conversation_id: conv, message_id: id }).catch(() => {});
    }
  }
  function sendPage(p) {
    S.page = p;
    if (!S.booted) { S.pageDirty = true; return; }
    const data = { url: p.url, title: p.title || "" };
    if (S.transport === "ws" && wsSend("page.view", data)) { S.pageDirty = false; return; }
    if (S.transport === "poll") { S.pageDirty = false; api("POST", "page-view", data).catch(() => {}); return; }
    S.pageDirty = true; // sent when the socket opens
  }
  function identify(fields) {
    const body = {};
    ["user_id", "user_hash", "email", "name", "phone", "attributes"].forEach((k) => { if (fields[k] != null && fields[k] !== "") body[k] = fields[k]; });
    if (body.user_id != null) body.user_id = String(body.user_id);
    return new Promise((res, rej) => whenBooted(() => api("POST", "identify", body).then((r) => {
      if (r.visitor_token && r.visitor_token !== S.token) {
        setToken(r.visitor_token);
        if (S.ws) { const old = S.ws; S.ws = null; old.close(); S.wsOpen = false; connect(); }
      }
      S.contact = Object.assign({}, S.contact, r.contact || fields);
      res(S.contact);
    }, (e) => {
      if (e.status === 403 && /hash|identity/i.test(e.code + e.message)) showAlert(t("identifyFailed"));
      rej(e);
    })));
  }
  function sendContext(ctx) {
    S.context = ctx;
    renderIntro();
    const body = {};
    ["title", "url", "image_url", "price", "ref"].forEach((k) => { if (ctx[k] != null && ctx[k] !== "") body[k] = String(ctx[k]); });
    if (!body.image_url && ctx.image) body.image_url = String(ctx.image);
    whenBooted(() => api("POST", "context", body).then((r) => {
      const conv = r && (r.conversation || (r.id && r.status ? r : null));
      if (conv && conv.id) S.convs.set(conv.id, Object.assign({}, S.convs.get(conv.id), conv));
    }, () => {}));
  }
  function track(name, props) {
    if (!name) return;
    const at = new Date().toISOString(), attributes = { last_event: name, last_event_at: at };
    attributes["event:" + name.slice(0, 56)] = Object.assign({ at }, props && typeof props === "object" ? props : {});
    identify({ attributes }).catch(() => {});
  }

  // ---------------------------------------------------------------- parent (loader) channel
  S.afterBoot = [];
  const whenBooted = (fn) => (S.booted ? fn() : S.afterBoot.push(fn));
  function toParent(type, data) {
    if (!S.parent || w.parent === w) return;
    w.parent.postMessage({ charla: 1, type, data: data || {} }, S.parent);
  }
  w.addEventListener("message", (e) => {
    if (e.source !== w.parent || !e.data || e.data.charla !== 1) return;
    if (S.parent && e.origin !== S.parent) return;
    const m = e.data, data = m.data || {};
    if (m.type === "init") {
      if (S.parent) return; // once
      S.parent = e.origin;
      S.token = data.token || null;
      S.boot = data.boot || {};
      S.page = data.page || null;
      S.pageDirty = true;
      S.open = !!data.open;
      S.forcePolling = S.boot.transport === "polling";
      S.transport = S.forcePolling ? "poll" : "ws";
      L = pickLang(S.boot.locale, (S.site || {}).locale, data.lang, navigator.language);
      relabel();
      paintSite();
      session();
      if (S.open) opened();
      return;
    }
    if (!S.parent) return;
    switch (m.type) {
      case "open": S.open = true; opened(); break;
      case "close": S.open = false; lightbox(null); typingStop(); break;
      case "compose":
        if (data.text) { ui.text.value = data.text; grow(); ui.send.disabled = false; }
        setTimeout(() => { ui.text.focus(); ui.text.setSelectionRange(ui.text.value.length, ui.text.value.length); }, 80);
        break;
      case "identify": identify(data).catch(() => {}); break;
      case "track": track(String(data.name || ""), data.props); break;
      case "context": if (data && data.title) sendContext(data); break;
      case "page": sendPage(data); break;
      case "token":
        if (data.token && data.token !== S.token) { S.token = data.token; if (S.ws) { const o = S.ws; S.ws = null; o.close(); } S.msgs.clear(); cursor.clear(); dayNodes.clear(); ui.log.textContent = ""; session(); }
        break;
      case "shutdown":
        S.fatal = "shutdown";
        if (S.ws) { const o = S.ws; S.ws = null; o.close(); }
        stopPolling();
        api("POST", "shutdown", {}).catch(() => {}).then(() => toParent("shutdown-done"));
        break;
      default: break;
    }
  });
  function opened() {
    setTimeout(() => { if (!S.fatal && !ui.form.hidden) ui.text.focus(); else ui.closeBtn.focus(); }, 50);
    S.stick = true;
    render();
    markRead();
  }

  build();
  if (w.parent === w) { // opened directly (a shared chat link): a full-page chat, token kept here
    S.standalone = `charla:${C.app_id}:token`;
    d.documentElement.classList.add("standalone");
    S.open = true;
    ui.closeBtn.hidden = true;
    try { S.token = localStorage.getItem(S.standalone); } catch (e) { S.token = null; }
    L = pickLang((S.site || {}).locale, navigator.language);
    relabel();
    paintSite();
    session();
    opened();
  } else {
    w.parent.postMessage({ charla: 1, type: "hello" }, "*");
  }
})();
