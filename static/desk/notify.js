/**
 * Getting an agent's attention when the desk is in the background: a short beep made with
 * WebAudio (no audio file), a browser notification, and a count in the page title.
 */

import { t } from "./i18n.js";

const BASE_TITLE = t("desk.title");

let audio = null;

/** Browsers only let a page make sound after a user gesture: prepare the audio context on the first one. */
export function unlockAudio() {
  const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
  if (!Ctx) return;
  if (!audio) audio = new Ctx();
  if (audio.state === "suspended") audio.resume().catch(() => {});
}

/** Two soft notes, about a quarter of a second. */
export function beep() {
  if (!audio || audio.state !== "running") return;
  const now = audio.currentTime;
  for (const [offset, freq] of [[0, 880], [0.12, 1320]]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, now + offset);
    gain.gain.exponentialRampToValueAtTime(0.18, now + offset + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.12);
    osc.connect(gain).connect(audio.destination);
    osc.start(now + offset);
    osc.stop(now + offset + 0.13);
  }
}

/** True when the agent is not looking at the desk. */
export function inBackground() {
  return document.hidden || !document.hasFocus();
}

export function notificationsSupported() {
  return "Notification" in globalThis;
}

export function notificationPermission() {
  return notificationsSupported() ? Notification.permission : "unsupported";
}

export async function askPermission() {
  if (!notificationsSupported() || Notification.permission !== "default") return notificationPermission();
  return Notification.requestPermission();
}

/**
 * Beep and show a notification, only while the desk is in the background. `tag` replaces an
 * older notification about the same conversation; clicking focuses the desk and calls `onClick`.
 */
export function alertAgent({ title, body, tag, onClick }) {
  if (!inBackground()) return false;
  beep();
  if (notificationPermission() === "granted") {
    try {
      const note = new Notification(title, { body, tag, renotify: true, silent: true });
      note.onclick = () => {
        globalThis.focus();
        onClick?.();
        note.close();
      };
    } catch {
      /* some platforms only allow notifications from a service worker */
    }
  }
  return true;
}

/** "(3) Parley desk" while something waits, "Parley desk" otherwise. */
export function setTitleCount(count) {
  document.title = count > 0 ? `(${count}) ${BASE_TITLE}` : BASE_TITLE;
}
