/**
 * Small DOM and formatting helpers shared by the desk modules. User text only ever goes
 * through `textContent`, never `innerHTML`. Times and numbers are written in the page's locale.
 */

import { LOCALE, t } from "./i18n.js";

const relativeFormat = new Intl.RelativeTimeFormat(LOCALE, { numeric: "auto" });
const unitFormats = new Map();

/** "4m", "3h", "4分钟": a count of one unit, as short as the locale writes it. */
function units(count, unit) {
  if (!unitFormats.has(unit)) {
    unitFormats.set(unit, new Intl.NumberFormat(LOCALE, { style: "unit", unit, unitDisplay: "narrow" }));
  }
  return unitFormats.get(unit).format(count);
}

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
  if (!visitor) return t("visitor.anonymous");
  return visitor.name || visitor.email || t("visitor.numbered", { id: visitor.id });
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

/** "now", "4m", "3h", "2d" (现在, 4分钟, ...), or a date for older times: the list's compact age. */
export function ago(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 45) return relativeFormat.format(0, "second");
  if (seconds < 3600) return units(Math.round(seconds / 60), "minute");
  if (seconds < 86400) return units(Math.floor(seconds / 3600), "hour");
  if (seconds < 86400 * 7) return units(Math.floor(seconds / 86400), "day");
  return new Date(iso).toLocaleDateString(LOCALE, { month: "short", day: "numeric" });
}

/** "5 minutes ago", "yesterday", "5分钟前": a past time in words, for details. */
export function relative(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  const steps = [[60, "second"], [3600, "minute", 60], [86400, "hour", 3600], [86400 * 30, "day", 86400]];
  for (const [below, unit, size = 1] of steps) {
    if (Math.abs(seconds) < below) return relativeFormat.format(Math.round(seconds / size), unit);
  }
  return relativeFormat.format(Math.round(seconds / (86400 * 30)), "month");
}

/** A waiting time: "12s", "4m", "1h 5m" (12秒, 4分钟, 1小时 5分钟). */
export function duration(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return units(seconds, "second");
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return units(minutes, "minute");
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${units(hours, "hour")} ${units(minutes % 60, "minute")}`;
  return `${units(Math.floor(hours / 24), "day")} ${units(hours % 24, "hour")}`;
}

/** Clock time of a message, e.g. "14:05". */
export function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString(LOCALE, { hour: "2-digit", minute: "2-digit" }) : "";
}

/** "Today", "Yesterday" (今天, 昨天) or a long date, for transcript day separators. */
export function dayLabel(iso, now = new Date()) {
  const day = new Date(iso);
  const start = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const diff = Math.round((start(now) - start(day)) / 86400000);
  if (diff === 0 || diff === 1) {
    const text = relativeFormat.format(-diff, "day");
    return text.charAt(0).toLocaleUpperCase(LOCALE) + text.slice(1);
  }
  return day.toLocaleDateString(LOCALE, { weekday: "short", month: "short", day: "numeric", year: "numeric" });
}

/** A long date and time, for details. */
export function longTime(iso) {
  return iso ? new Date(iso).toLocaleString(LOCALE, { dateStyle: "medium", timeStyle: "short" }) : "—";
}

/** A count in the page's locale, e.g. "1,234". */
export function count(n) {
  return new Intl.NumberFormat(LOCALE).format(n);
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
