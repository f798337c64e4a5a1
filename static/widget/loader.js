/*
 * Parley widget loader: the one script a site embeds.
 *   <script src="https://parley.example/static/widget/loader.js" data-site="SITE_KEY" async></script>
 * Draws the launcher bubble and, only when needed, the chat iframe (served by Parley, on its
 * own origin). Host page API: Parley.open(), .close(), .toggle(), .identify({userId, name,
 * email, hash}), .reset() (call it when the page's user logs out), .on("unread" | "open" |
 * "close", fn), and the window event "parley:unread".
 * Every postMessage is pinned to Parley's origin one way and the host's origin the other.
 */
(() => {
  "use strict";
  const w = window;
  const d = document;
  if (w.Parley && w.Parley.version) return; // the snippet was pasted twice

  const script = d.currentScript || d.querySelector('script[data-site][src*="widget/loader.js"]');
  const site = script && script.getAttribute("data-site");
  if (!site) {
    console.warn("parley: the loader script needs a data-site attribute");
    return;
  }
  const parley = new URL(script.src, location.href).origin;
  const key = `parley:${site}:`;
  const zh = /^zh/i.test(navigator.language || "");
  const labels = zh ? { open: "打开聊天", close: "关闭聊天" } : { open: "Open chat", close: "Close chat" };
  const listeners = {};
  let frame = null;
  let ready = false;
  let open = false;
  let focusOnReady = false;
  let identity = null;
  let unread = 0;
  let mounted = false;
  let resetPending = false; // Parley.reset() not yet confirmed by the frame (also kept in storage, across pages)
  const later = []; // API calls made before the page had a body to draw in

  const store = (area, name, value) => {
    try {
      const s = w[area];
      if (value === undefined) return s.getItem(key + name);
      if (value === null) s.removeItem(key + name);
      else s.setItem(key + name, value);
    } catch (e) {
      /* storage blocked: the widget still works, it just forgets across reloads */
    }
    return null;
  };

  const css = `
#parley-launcher,#parley-frame{all:initial;position:fixed;z-index:2147483000;box-sizing:border-box}
#parley-launcher{right:20px;bottom:20px;width:60px;height:60px;border-radius:50%;cursor:pointer;display:grid;place-items:center;
background:linear-gradient(135deg,#4f46e5,#7c3aed);color:#fff;box-shadow:0 8px 24px rgba(79,70,229,.35),0 2px 6px rgba(15,23,42,.15);
transition:transform .18s ease,box-shadow .18s ease;-webkit-tap-highlight-color:transparent}
#parley-launcher:hover{transform:scale(1.06);box-shadow:0 10px 28px rgba(79,70,229,.42),0 2px 6px rgba(15,23,42,.15)}
#parley-launcher:focus-visible{outline:3px solid #a5b4fc;outline-offset:3px}
#parley-launcher svg{position:absolute;width:28px;height:28px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;
stroke-linejoin:round;transition:transform .2s ease,opacity .2s ease}
#parley-launcher .parley-x{opacity:0;transform:rotate(-60deg) scale(.6)}
.parley-open #parley-launcher .parley-chat{opacity:0;transform:rotate(60deg) scale(.6)}
.parley-open #parley-launcher .parley-x{opacity:1;transform:none}
#parley-badge{all:initial;position:absolute;top:-3px;right:-3px;min-width:20px;height:20px;padding:0 6px;box-sizing:border-box;
border-radius:10px;border:2px solid #fff;background:#ef4444;color:#fff;font:700 11px/16px system-ui,-apple-system,sans-serif;text-align:center}
#parley-badge[hidden]{display:none}
#parley-frame{right:20px;bottom:92px;width:380px;height:min(680px,calc(100vh - 116px));border:0;border-radius:18px;background:#fff;
box-shadow:0 16px 48px rgba(15,23,42,.22),0 2px 8px rgba(15,23,42,.08);opacity:0;transform:translateY(14px) scale(.98);
transform-origin:bottom right;visibility:hidden;pointer-events:none;transition:opacity .2s ease,transform .2s ease,visibility 0s .2s}
.parley-open #parley-frame{opacity:1;transform:none;visibility:visible;pointer-events:auto;transition:opacity .2s ease,transform .2s ease}
@media (max-width:480px){#parley-frame{inset:0;width:100%;height:100%;border-radius:0;transform:translateY(24px)}
.parley-open #parley-launcher{display:none}html.parley-open,html.parley-open body{overflow:hidden}}
@media (prefers-reduced-motion:reduce){#parley-launcher,#parley-frame,#parley-launcher svg{transition:none}}`;

  const emit = (type, detail) => {
    (listeners[type] || []).slice().forEach((fn) => {
      try {
        fn(detail);
      } catch (e) {
        console.error("parley: listener failed", e);
      }
    });
    w.dispatchEvent(new CustomEvent(`parley:${type}`, { detail }));
  };

  const post = (type, data) => {
    if (ready && frame) frame.contentWindow.postMessage(Object.assign({}, data, { parley: 1, type }), parley);
  };

  const setUnread = (count) => {
    unread = Math.max(0, Number(count) || 0);
    badge.hidden = !unread || open;
    badge.textContent = unread > 99 ? "99+" : String(unread);
    launcher.setAttribute("aria-label", labels[open ? "close" : "open"] + (unread ? ` (${unread})` : ""));
    store("localStorage", "unread", unread ? String(unread) : null);
  };

  const makeFrame = () => {
    if (frame) return;
    const page = location.href.length <= 1000 ? location.href : location.origin + location.pathname.slice(0, 900);
    frame = d.createElement("iframe");
    frame.id = "parley-frame";
    frame.title = "Chat";
    frame.src = `${parley}/widget/${encodeURIComponent(site)}/?origin=${encodeURIComponent(location.origin)}&page=${encodeURIComponent(page)}`;
    frame.setAttribute("allow", "clipboard-write");
    d.body.appendChild(frame);
  };

  const show = (value, byUser) => {
    if (value === open) return;
    open = value;
    if (open) makeFrame();
    d.documentElement.classList.toggle("parley-open", open);
    launcher.setAttribute("aria-expanded", String(open));
    setUnread(unread);
    store("sessionStorage", "open", open ? "1" : null);
    if (open && byUser) {
      focusOnReady = !ready;
      frame.focus(); // move focus into the frame now, while this click counts as the user's gesture
    }
    post("visibility", { open, focus: Boolean(byUser) });
    if (!open && byUser) launcher.focus();
    emit(open ? "open" : "close", {});
  };

  w.addEventListener("message", (event) => {
    const data = event.data;
    if (!frame || event.origin !== parley || event.source !== frame.contentWindow) return;
    if (!data || data.parley !== 1) return;
    if (data.type === "ready") {
      ready = true;
      if (data.labels) Object.assign(labels, data.labels);
      if (typeof data.title === "string") frame.title = data.title.slice(0, 200);
      post("init", { open, focus: focusOnReady, identity, reset: resetPending });
      focusOnReady = false;
      setUnread(unread);
    } else if (data.type === "unread") {
      const before = unread;
      setUnread(data.count);
      if (unread !== before) emit("unread", { count: unread });
    } else if (data.type === "conversation") {
      store("localStorage", "active", "1");
    } else if (data.type === "close") {
      show(false, true);
    } else if (data.type === "reset") {
      resetPending = false; // the frame revoked the visitor's tokens (or holds on to do it on its next load)
      store("localStorage", "reset", null);
    }
  });

  d.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && open) show(false, true);
  });

  const icon = (cls, path) => {
    const ns = "http://www.w3.org/2000/svg";
    const svg = d.createElementNS(ns, "svg");
    const shape = d.createElementNS(ns, "path");
    svg.setAttribute("class", cls);
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    shape.setAttribute("d", path);
    svg.appendChild(shape);
    return svg;
  };
  const launcher = d.createElement("button");
  launcher.id = "parley-launcher";
  launcher.type = "button";
  launcher.setAttribute("aria-controls", "parley-frame");
  launcher.setAttribute("aria-expanded", "false");
  launcher.append(
    icon("parley-chat", "M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.9A8 8 0 1 1 21 12zM8.5 11.5h.01M12 11.5h.01M15.5 11.5h.01"),
    icon("parley-x", "M6 9l6 6 6-6"),
  );
  const badge = d.createElement("span");
  badge.id = "parley-badge";
  badge.hidden = true;
  launcher.appendChild(badge);
  launcher.addEventListener("click", () => show(!open, true));

  const mount = () => {
    mounted = true;
    const style = d.createElement("style");
    style.id = "parley-style";
    style.textContent = css;
    d.head.appendChild(style);
    d.body.appendChild(launcher);
    setUnread(store("localStorage", "unread"));
    resetPending = resetPending || store("localStorage", "reset") === "1";
    // Open again after a reload if it was open; load it hidden if there is a conversation to watch for
    // replies, or a reset (of a page that was left before the frame confirmed it) to finish.
    if (store("sessionStorage", "open")) show(true, false);
    else if (store("localStorage", "active") || resetPending) makeFrame();
    later.splice(0).forEach((fn) => fn());
  };
  const whenMounted = (fn) => (mounted ? fn() : later.push(fn));

  w.Parley = {
    version: 1,
    open: () => whenMounted(() => show(true, true)),
    close: () => whenMounted(() => show(false, true)),
    toggle: () => whenMounted(() => show(!open, true)),
    identify: (user) => {
      identity = user && typeof user === "object"
        ? { userId: user.userId, name: user.name, email: user.email, hash: user.hash } : null;
      post("identify", identity || {});
    },
    // The page's user logged out: revoke the visitor's tokens everywhere, so its conversations need the
    // identity hash again, and start anonymously. Works before the frame exists, and across a navigation.
    reset: () => {
      identity = null;
      resetPending = true;
      store("localStorage", "reset", "1");
      store("localStorage", "active", null);
      whenMounted(() => {
        setUnread(0);
        if (ready) post("reset", {});
        else makeFrame(); // its init carries the reset
      });
    },
    on: (type, fn) => {
      (listeners[type] = listeners[type] || []).push(fn);
      return () => w.Parley.off(type, fn);
    },
    off: (type, fn) => {
      listeners[type] = (listeners[type] || []).filter((f) => f !== fn);
    },
    get unread() {
      return unread;
    },
    get isOpen() {
      return open;
    },
  };

  if (d.body) mount();
  else d.addEventListener("DOMContentLoaded", mount);
  w.dispatchEvent(new CustomEvent("parley:ready"));
})();
