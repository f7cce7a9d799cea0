/*! Charla widget loader (docs/widget.md). Served by /widget.js with the Charla origin baked in. */
(() => {
  "use strict";
  const w = window, d = document, ORIGIN = "__CHARLA_ORIGIN__", Z = "2147483000";
  const prev = w.Charla;
  if (prev && prev.loaded) return;
  const me = d.currentScript || d.querySelector('script[data-app-id][src*="widget.js"]');
  const queue = (prev && prev.q) || [];
  const handlers = {};
  const T = {
    en: { open: "Open chat", close: "Close chat", chat: "Chat", newmsg: "New message", dismiss: "Dismiss" },
    es: { open: "Abrir chat", close: "Cerrar chat", chat: "Chat", newmsg: "Nuevo mensaje", dismiss: "Cerrar" },
  };
  const CSS = `:host{all:initial!important;display:block!important}
*{box-sizing:border-box}
.b{position:fixed;right:20px;bottom:20px;z-index:${Z};width:60px;height:60px;border-radius:50%;border:0;margin:0;padding:0;cursor:pointer;background:var(--p,#4F46E5);color:var(--t,#fff);box-shadow:0 1px 6px rgba(0,0,0,.1),0 8px 24px rgba(0,0,0,.16);display:flex;align-items:center;justify-content:center;transition:transform .18s ease;animation:in .3s ease both;-webkit-tap-highlight-color:transparent}
.b:hover{transform:scale(1.06)}.b:active{transform:scale(.96)}
.b:focus-visible{outline:3px solid var(--p,#4F46E5);outline-offset:3px}
.b svg{position:absolute;width:28px;height:28px;transition:transform .2s ease,opacity .2s ease}
.b .x{opacity:0;transform:rotate(-60deg) scale(.6)}
.o .b .c{opacity:0;transform:rotate(60deg) scale(.6)}.o .b .x{opacity:1;transform:none}
.n{position:absolute;top:-3px;right:-3px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#E11D48;color:#fff;border:2px solid #fff;font:700 12px/18px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;text-align:center}
.n[hidden],.p[hidden]{display:none}
.f{position:fixed;right:20px;bottom:92px;z-index:${Z};width:384px;height:min(704px,calc(100vh - 116px));max-height:calc(100vh - 116px);border-radius:18px;overflow:hidden;background:#fff;box-shadow:0 4px 12px rgba(0,0,0,.08),0 16px 48px rgba(0,0,0,.2);opacity:0;visibility:hidden;pointer-events:none;transform:translateY(16px) scale(.97);transform-origin:bottom right;transition:opacity .2s ease,transform .2s ease,visibility 0s .2s}
.o .f{opacity:1;visibility:visible;pointer-events:auto;transform:none;transition:opacity .2s ease,transform .2s ease}
.f iframe{display:block;width:100%;height:100%;border:0;margin:0;color-scheme:normal}
.p{position:fixed;right:20px;bottom:94px;z-index:${Z};width:300px;max-width:calc(100vw - 40px);border-radius:16px;background:#fff;box-shadow:0 2px 8px rgba(0,0,0,.08),0 12px 32px rgba(0,0,0,.16);animation:in .25s ease both}
.p .m{display:block;width:100%;margin:0;padding:14px 38px 14px 16px;border:0;border-radius:16px;background:none;color:#1F2937;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;text-align:left;cursor:pointer}
.p strong{display:block;font-size:13px;color:#6B7280;font-weight:600;margin-bottom:2px}
.p span{display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden;word-break:break-word}
.p .x{position:absolute;top:6px;right:6px;width:26px;height:26px;border:0;border-radius:50%;background:transparent;color:#6B7280;cursor:pointer;font:18px/26px system-ui,sans-serif;padding:0}
.p .x:hover{background:#F3F4F6}.p button:focus-visible{outline:2px solid var(--p,#4F46E5);outline-offset:-2px}
.l .b,.l .f,.l .p{left:20px;right:auto}.l .f{transform-origin:bottom left}
@keyframes in{from{opacity:0;transform:translateY(8px) scale(.9)}}
@media (max-width:480px){.f{inset:0;right:0;bottom:0;width:100%;height:100%;max-height:none;border-radius:0}.o .b,.o .p{display:none}}
@media (prefers-reduced-motion:reduce){.b,.f,.p,.b svg{transition:none;animation:none}}`;
  const CHAT = '<svg class="c" viewBox="0 0 28 28" fill="currentColor" aria-hidden="true"><path d="M14 3C7.4 3 2 7.6 2 13.3c0 3 1.5 5.7 4 7.6-.2 1.9-1 3.6-2.3 4.8 2.8 0 5.2-1 6.9-2.4 1.1.3 2.2.4 3.4.4 6.6 0 12-4.6 12-10.4S20.6 3 14 3Z"/></svg>';
  const CLOSE = '<svg class="x" viewBox="0 0 28 28" fill="none" stroke="currentColor" stroke-width="2.6" stroke-linecap="round" aria-hidden="true"><path d="M8 11l6 6 6-6"/></svg>';

  let S = null; // the booted widget

  const lang = (l) => (String(l || "").toLowerCase().indexOf("es") === 0 ? "es" : "en");
  const t = (k) => T[S ? S.lang : lang(navigator.language)][k];
  const emit = (name, arg) => (handlers[name] || []).slice().forEach((fn) => { try { fn(arg); } catch (e) { setTimeout(() => { throw e; }); } });
  const store = {
    get(k) { try { return w.localStorage.getItem(k); } catch (e) { return (store.m || {})[k] || null; } },
    set(k, v) { try { v == null ? w.localStorage.removeItem(k) : w.localStorage.setItem(k, v); } catch (e) { (store.m = store.m || {})[k] = v; } },
  };
  const el = (tag, cls, html) => { const e = d.createElement(tag); if (cls) e.className = cls; if (html) e.innerHTML = html; return e; };
  const page = () => ({ url: location.href, title: d.title, referrer: d.referrer });

  // --- host element, shadow root, styles (CSP-safe: adoptedStyleSheets) ---
  function mount() {
    const host = d.createElement("charla-widget");
    host.setAttribute("data-charla", "");
    const root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      const st = d.createElement("style");
      st.textContent = CSS;
      root.appendChild(st);
    }
    const box = el("div", S.opts.position === "left" ? "l" : "");
    root.appendChild(box);
    (d.body || d.documentElement).appendChild(host);
    S.host = host; S.box = box;
    paint();
    if (!S.opts.hide_launcher) {
      const b = el("button", "b", CHAT + CLOSE + '<span class="n" hidden></span>');
      b.type = "button";
      b.setAttribute("aria-expanded", "false");
      b.addEventListener("click", () => toggle());
      box.appendChild(b);
      S.btn = b; S.badge = b.querySelector(".n");
      label();
    }
  }
  function paint() {
    const c = (S.cfg && S.cfg.colors) || {};
    if (S.box) {
      S.box.style.setProperty("--p", /^#[0-9a-f]{3,8}$/i.test(c.primary) ? c.primary : "#4F46E5");
      S.box.style.setProperty("--t", /^#[0-9a-f]{3,8}$/i.test(c.text) ? c.text : "#FFFFFF");
    }
  }
  function label() {
    if (!S.btn) return;
    S.btn.setAttribute("aria-label", S.open ? t("close") : t("open") + (S.unread ? ` (${S.unread})` : ""));
    S.btn.setAttribute("aria-expanded", String(S.open));
  }

  // --- the iframe (created lazily) and its postMessage channel ---
  function frame() {
    if (S.frame || !S.box) return S.frame;
    const f = el("div", "f"), i = d.createElement("iframe");
    i.src = `${ORIGIN}/widget/frame/?app_id=${encodeURIComponent(S.appId)}`;
    i.title = (S.cfg && S.cfg.team_name) || t("chat");
    i.setAttribute("allow", "clipboard-write");
    f.appendChild(i);
    S.box.insertBefore(f, S.box.firstChild);
    S.frame = i; S.wrap = f; S.ready = false;
    return i;
  }
  function post(type, data) {
    if (!S) return;
    if (!S.ready) { S.outbox.push([type, data]); frame(); return; }
    S.frame.contentWindow.postMessage({ charla: 1, type, data }, ORIGIN);
  }
  function onMessage(e) {
    if (!S || !S.frame || e.source !== S.frame.contentWindow || e.origin !== ORIGIN) return;
    const m = e.data, data = (m && m.data) || {};
    if (!m || m.charla !== 1) return;
    if (m.type === "hello") {
      S.frame.contentWindow.postMessage({ charla: 1, type: "init", data: {
        app_id: S.appId, token: store.get(S.key), boot: S.opts, page: page(), open: S.open, lang: S.lang,
      } }, ORIGIN);
    } else if (m.type === "ready") {
      S.ready = true;
      if (data.site) { S.cfg = Object.assign({}, S.cfg, data.site); paint(); }
      const out = S.outbox; S.outbox = [];
      out.forEach(([type, dt]) => post(type, dt));
    } else if (m.type === "token") {
      if (data.token && data.token !== store.get(S.key)) store.set(S.key, data.token);
    } else if (m.type === "unread") {
      unread(data.count | 0, data.last);
    } else if (m.type === "message") {
      emit("message", data.message);
    } else if (m.type === "close") {
      close();
    } else if (m.type === "open") {
      open();
    } else if (m.type === "shutdown-done" && S.dying) {
      teardown();
    }
  }

  // --- unread: badge, preview, title flash, sound ---
  function unread(n, last) {
    const before = S.unread;
    S.unread = n;
    if (S.badge) { S.badge.hidden = !n; S.badge.textContent = n > 9 ? "9+" : String(n); }
    label();
    if (n !== before) emit("unread", n);
    if (n > before && (!S.open || d.hidden)) {
      flash(true);
      if (S.opts.sound !== false) beep();
      if (!S.open && last && last.text && !S.opts.hide_launcher) preview(last);
    }
    if (!n) { flash(false); preview(null); }
  }
  function preview(last) {
    if (S.prev) { S.prev.remove(); S.prev = null; }
    if (!last) return;
    const p = el("div", "p", "<button type=button class=m><strong></strong><span></span></button><button type=button class=x>\u00d7</button>");
    p.querySelector("strong").textContent = last.name || t("newmsg");
    p.querySelector("span").textContent = last.text;
    const x = p.querySelector(".x");
    x.setAttribute("aria-label", t("dismiss"));
    x.addEventListener("click", () => preview(null));
    p.querySelector(".m").addEventListener("click", () => open());
    S.box.appendChild(p);
    S.prev = p;
  }
  function flash(on) {
    clearInterval(S.flashT);
    if (S.flashOn) { d.title = S.title; S.flashOn = false; }
    if (!on || !S.unread) return;
    S.title = d.title;
    S.flashT = setInterval(() => {
      if (!S.flashOn && d.title !== S.title) S.title = d.title; // the page changed its title meanwhile
      S.flashOn = !S.flashOn;
      d.title = S.flashOn ? `(${S.unread}) ${t("newmsg")}` : S.title;
    }, 1200);
  }
  function beep() {
    try {
      const A = w.AudioContext || w.webkitAudioContext;
      const ctx = S.audio || (S.audio = new A());
      if (ctx.state === "suspended") ctx.resume();
      const o = ctx.createOscillator(), g = ctx.createGain(), n = ctx.currentTime;
      o.type = "sine";
      o.frequency.setValueAtTime(880, n);
      o.frequency.setValueAtTime(1320, n + 0.09);
      g.gain.setValueAtTime(0.0001, n);
      g.gain.exponentialRampToValueAtTime(0.12, n + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, n + 0.28);
      o.connect(g); g.connect(ctx.destination);
      o.start(n); o.stop(n + 0.3);
    } catch (e) { /* no audio: fine */ }
  }

  // --- open / close ---
  function open() {
    if (!S || S.open) return;
    frame();
    S.open = true;
    S.box.classList.add("o");
    preview(null); flash(false); label();
    if (w.matchMedia && w.matchMedia("(max-width:480px)").matches) {
      S.ov = d.documentElement.style.overflow;
      d.documentElement.style.overflow = "hidden";
    }
    post("open");
    // Move focus into the chat now (the iframe then focuses its composer). Only once: a later
    // iframe.focus() would pull focus off whatever the visitor is already typing in.
    if (d.activeElement !== S.host) try { S.frame.focus(); } catch (e) { /* ignore */ }
    emit("open");
  }
  function close() {
    if (!S || !S.open) return;
    S.open = false;
    S.box.classList.remove("o");
    if (S.ov !== undefined) { d.documentElement.style.overflow = S.ov; S.ov = undefined; }
    label();
    post("close");
    if (S.btn && d.activeElement === S.host) S.btn.focus(); // focus was in the chat: back to the bubble
    emit("close");
  }
  const toggle = () => (S && S.open ? close() : open());

  // --- page views (boot, pushState, popstate, hashchange) ---
  let lastUrl = "";
  function nav() {
    setTimeout(() => {
      if (!S || location.href === lastUrl) return;
      lastUrl = location.href;
      if (S.frame) post("page", page());
    }, 60);
  }
  function hookHistory() {
    if (w.__charlaNav) return;
    w.__charlaNav = 1;
    ["pushState", "replaceState"].forEach((name) => {
      const orig = history[name];
      history[name] = function () { const r = orig.apply(this, arguments); w.dispatchEvent(new Event("charla:nav")); return r; };
    });
  }

  // --- other tabs: token changes ---
  function onStorage(e) {
    if (!S || e.key !== S.key) return;
    if (e.newValue) post("token", { token: e.newValue });
    else if (S.frame) { // another tab shut the visitor down: start over here too
      S.wrap.remove(); S.frame = S.wrap = null; S.ready = false; S.outbox = [];
      unread(0);
    }
  }

  // --- commands ---
  function boot(opts) {
    opts = Object.assign({}, opts || {});
    const appId = String(opts.app_id || (me && me.getAttribute("data-app-id")) || "");
    if (!appId) { console.warn("Charla: boot needs an app_id"); return; }
    if (S) teardown();
    S = {
      appId, opts, key: `charla:${appId}:token`, lang: lang(opts.locale || navigator.language),
      open: false, unread: 0, outbox: [], frame: null, ready: false,
      cfg: JSON.parse(store.get(`charla:${appId}:cfg`) || "null"),
    };
    if (S.cfg && S.cfg.locale && !opts.locale) S.lang = lang(S.cfg.locale);
    const me2 = S;
    const start = () => {
      if (S !== me2) return;
      mount();
      lastUrl = location.href;
      // A returning chatter, an identified user or a forced transport gets the
      // iframe at once (hidden): it holds the socket, reports unread, sends page views.
      if (store.get(S.key) || opts.user_id || opts.email || opts.open) frame();
      if (opts.open) open();
      emit("ready");
      S.booted = true;
    };
    fetch(`${ORIGIN}/widget/config/?app_id=${encodeURIComponent(appId)}`, { credentials: "omit" })
      .then((r) => (r.status === 404 ? null : r.ok ? r.json() : S.cfg || {}))
      .catch(() => S.cfg || {})
      .then((cfg) => {
        if (S !== me2) return;
        if (!cfg) { console.warn(`Charla: unknown app_id "${appId}"`); S = null; return; }
        S.cfg = cfg;
        store.set(`charla:${appId}:cfg`, JSON.stringify(cfg));
        if (!opts.locale && cfg.locale) S.lang = lang(cfg.locale);
        if (d.body) start(); else d.addEventListener("DOMContentLoaded", start);
      });
  }
  function teardown() {
    if (!S) return;
    if (S.open) close();
    flash(false);
    if (S.host) S.host.remove();
    S = null;
  }
  function shutdown() {
    if (!S) return;
    const token = store.get(S.key);
    store.set(S.key, null);
    if (S.ready) {
      S.dying = true;
      post("shutdown");
      setTimeout(teardown, 3000);
    } else {
      if (token) {
        fetch(`${ORIGIN}/api/widget/v1/shutdown`, {
          method: "POST", credentials: "omit", keepalive: true,
          headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: "{}",
        }).catch(() => {});
      }
      teardown();
    }
  }

  const pending = [];
  function run(cmd, a, b) {
    if (cmd === "on" || cmd === "off") {
      if (typeof b !== "function") return;
      const list = (handlers[a] = handlers[a] || []);
      if (cmd === "on") { list.push(b); if (a === "ready" && S && S.booted) b(); }
      else if (list.indexOf(b) >= 0) list.splice(list.indexOf(b), 1);
      return;
    }
    if (cmd === "boot") return boot(a);
    if (!S) { pending.push([cmd, a, b]); return; }
    switch (cmd) {
      case "open": return open();
      case "close": return close();
      case "toggle": return toggle();
      case "showNewMessage": open(); return post("compose", { text: a == null ? "" : String(a) });
      case "identify": case "update": return post("identify", a || {});
      case "track": return post("track", { name: String(a || ""), props: b || {} });
      case "context": return post("context", a || {});
      case "shutdown": return shutdown();
      default: console.warn(`Charla: unknown command "${cmd}"`);
    }
  }
  const api = function (cmd, a, b) {
    if (cmd !== "boot" && cmd !== "on" && cmd !== "off" && cmd !== "shutdown" && S && !S.booted) { pending.push([cmd, a, b]); return; }
    return run(cmd, a, b);
  };
  api.loaded = true;
  api.version = 1;
  api.q = [];
  w.Charla = api;

  w.addEventListener("message", onMessage);
  w.addEventListener("storage", onStorage);
  hookHistory();
  ["charla:nav", "popstate", "hashchange"].forEach((ev) => w.addEventListener(ev, nav));
  w.addEventListener("focus", () => { if (S && S.open) flash(false); });
  w.Charla("on", "ready", () => { const p = pending.splice(0); p.forEach((c) => run(c[0], c[1], c[2])); });

  // Replay the calls made before we loaded; boot from data-app-id when none did.
  const calls = Array.prototype.map.call(queue, (args) => Array.prototype.slice.call(args));
  if (!calls.some((c) => c[0] === "boot") && me && me.getAttribute("data-app-id")) {
    calls.unshift(["boot", { app_id: me.getAttribute("data-app-id"), locale: me.getAttribute("data-locale") || undefined }]);
  }
  calls.forEach((c) => api(c[0], c[1], c[2]));
})();
