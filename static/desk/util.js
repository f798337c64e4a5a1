/**
 * Small DOM and formatting helpers shared by the desk modules. User text only ever goes
 * through `textContent`, never `innerHTML`.
 */

/** Create an element: el("div", {class: "x", dataset: {seq: 1}}, child, "text"). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") node.style.cssText = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** The name to show for a visitor: name, else email, else "Visitor #id". */
export function visitorName(visitor) {
  if (!visitor) return "Visitor";
  return visitor.name || visitor.email || `Visitor #${visitor.id}`;
}

/** One or two capital letters for an avatar. */
export function initials(name) {
  const words = String(name || "?").replace(/[@#].*$/, "").trim().split(/\s+/).filter(Boolean);
  if (!words.length) return "?";
  const letters = words.length > 1 ? words[0][0] + words[words.length - 1][0] : words[0].slice(0, 2);
  return letters.toUpperCase();
}

/** A stable hue for a person, so their avatar keeps its colour everywhere. */
export function hue(seed) {
  let h = 0;
  for (const ch of String(seed)) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

/** An initials avatar. */
export function avatar(name, seed, size = "") {
  return el("span", { class: `avatar ${size}`.trim(), style: `--hue:${hue(seed ?? name)}`, "aria-hidden": "true" },
    initials(name));
}

/** A visitor's avatar: initials when we know a name or email, a person glyph for anonymous visitors. */
export function visitorAvatar(visitor, size = "") {
  if (visitor?.name || visitor?.email) return avatar(visitorName(visitor), visitor.id, size);
  const node = el("span", { class: `avatar avatar-anon ${size}`.trim(), style: `--hue:${hue(visitor?.id ?? 0)}`, "aria-hidden": "true" });
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  for (const d of ["M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z", "M4.5 20a7.5 7.5 0 0 1 15 0"]) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  node.append(svg);
  return node;
}

/** "now", "4m", "3h", "2d", or a date for older times. */
export function ago(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 45) return "now";
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  if (seconds < 86400 * 7) return `${Math.floor(seconds / 86400)}d`;
  return new Date(iso).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

/** A waiting time: "12s", "4m", "1h 5m". */
export function duration(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** Clock time of a message, e.g. "14:05". */
export function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : "";
}

/** "Today", "Yesterday" or a long date, for transcript day separators. */
export function dayLabel(iso, now = new Date()) {
  const day = new Date(iso);
  const start = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const diff = Math.round((start(now) - start(day)) / 86400000);
  if (diff === 0) return "Today";
  if (diff === 1) return "Yesterday";
  return day.toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric", year: "numeric" });
}

/** A long date and time, for details. */
export function longTime(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "—";
}

/** Call `fn` at most once per animation frame, with the latest arguments. */
export function oncePerFrame(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
}

/** Call `fn` `ms` after the last call. */
export function debounce(fn, ms) {
  let timer = null;
  const run = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  run.cancel = () => clearTimeout(timer);
  return run;
}

/** GET a JSON endpoint of the desk API; throws {status, code, detail} on refusal. */
export async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data?.error?.detail || `HTTP ${response.status}`);
    error.status = response.status;
    error.code = data?.error?.code;
    throw error;
  }
  return data;
}
