/**
 * The desk's link to /ws/agent/ (docs/protocol.md section 4): reconnects with backoff and
 * jitter, pings so presence stays fresh, and resends unacknowledged messages with their
 * own client_id (the server stores a client_id once, so a resend never doubles a message).
 */

import { backoffDelay } from "../shared/backoff.js";

const PING_MS = 25000; // well under the server's presence TTL (90 s by default)
const SILENCE_MS = 60000; // no frame (not even a pong) for this long: the link is dead
// Full jitter, so a restarted server is not hit by every desk at once.
const BACKOFF = { base: 500, max: 15000 };

export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;

export class DeskSocket {
  constructor(url) {
    this.url = url;
    this.ws = null;
    this.live = false; // welcome received on the current link
    this.attempt = 0;
    this.stopped = false;
    this.listeners = new Map();
    this.outbox = new Map(); // client_id -> message.send frame, until acked or refused
    this.timers = { ping: null, silence: null, retry: null };
  }

  /** Listen to a frame type ("*" for every frame), or "state" changes. */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
  }

  emit(type, payload) {
    for (const fn of [...(this.listeners.get(type) ?? []), ...(type !== "state" ? this.listeners.get("*") ?? [] : [])]) {
      try {
        fn(payload);
      } catch (err) {
        console.error(`desk: a "${type}" listener threw`, err); // one broken view must not stop the others
      }
    }
  }

  connect() {
    this.stopped = false;
    clearTimeout(this.timers.retry);
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.emit("state", { state: this.attempt ? "reconnecting" : "connecting" });
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      this.armSilence();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.type === "welcome") this.onWelcome();
      else if (frame.type === "message.ack") this.outbox.delete(frame.client_id);
      else if (frame.type === "error" && this.outbox.has(frame.ref) && !["unavailable", "internal"].includes(frame.code)) {
        this.outbox.delete(frame.ref);
      }
      this.emit(frame.type, frame);
    };
    ws.onclose = (event) => {
      if (this.ws === ws) this.lost(event.code);
    };
    ws.onerror = () => {}; // a close always follows
    this.armSilence();
  }

  onWelcome() {
    this.live = true;
    this.attempt = 0;
    this.emit("state", { state: "live" });
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => this.send({ type: "ping" }), PING_MS);
    for (const frame of this.outbox.values()) this.raw(frame);
  }

  lost(code) {
    this.live = false;
    this.ws = null;
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.silence);
    if (this.stopped) return;
    if (code === CLOSE_UNAUTHORIZED) {
      this.emit("state", { state: "signed-out" });
      return;
    }
    if (code === CLOSE_FORBIDDEN) {
      this.emit("state", { state: "forbidden" });
      return;
    }
    const delay = backoffDelay(this.attempt++, BACKOFF);
    this.emit("state", { state: "reconnecting", delay });
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  armSilence() {
    clearTimeout(this.timers.silence);
    this.timers.silence = setTimeout(() => {
      const ws = this.ws;
      if (!ws) return;
      ws.onclose = null;
      try {
        ws.close(4000);
      } catch {
        /* already closing */
      }
      this.lost(0);
    }, SILENCE_MS);
  }

  raw(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Send a frame now; false when the link is down (the caller tells the agent). */
  send(frame) {
    return this.live && this.raw(frame);
  }

  /** Send a message or note; it is resent after a reconnect until the server acknowledges it. */
  sendMessage(frame) {
    this.outbox.set(frame.client_id, frame);
    if (this.live) this.raw(frame);
  }

  close() {
    this.stopped = true;
    this.ws?.close(1000);
  }
}
