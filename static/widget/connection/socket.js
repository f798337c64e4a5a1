// @ts-check
/**
 * The WebSocket transport: one socket to /ws/widget/, JSON frames both ways. It reports what
 * happens and decides nothing; once closed, it reports nothing more.
 */

import { parseFrame } from "./protocol.js";

/** @typedef {import("./protocol.js").Frame} Frame */

const OPEN = 1;
const CLOSING = 2;

/**
 * @typedef {object} SocketHandlers
 * @property {() => void} onOpen  the socket opened (say hello now)
 * @property {() => void} onActivity  a frame arrived, so the link is alive
 * @property {(frame: Frame) => void} onFrame  a frame that is a JSON object
 * @property {(code: number) => void} onClose  the socket closed, with its close code (0 when none)
 */

/**
 * What we use of a WebSocket, so tests can pass their own.
 * @typedef {object} SocketLike
 * @property {number} readyState
 * @property {(data: string) => void} send
 * @property {(code?: number) => void} close
 * @property {((event: any) => void) | null} onopen
 * @property {((event: any) => void) | null} onmessage
 * @property {((event: any) => void) | null} onclose
 * @property {((event: any) => void) | null} onerror
 */

/** @typedef {new (url: string) => SocketLike} SocketClass */

export class SocketLink {
  /**
   * Open a socket; throws when the browser refuses the URL at once.
   * @param {SocketClass} WebSocketImpl
   * @param {string} url
   * @param {SocketHandlers} handlers
   */
  constructor(WebSocketImpl, url, handlers) {
    this.closed = false;
    const ws = new WebSocketImpl(url);
    this.ws = ws;
    ws.onopen = () => {
      if (!this.closed) handlers.onOpen();
    };
    ws.onmessage = (event) => {
      if (this.closed) return;
      handlers.onActivity();
      const frame = parseFrame(event.data);
      if (frame) handlers.onFrame(frame);
    };
    ws.onclose = (event) => {
      if (!this.closed) handlers.onClose(event?.code ?? 0);
    };
    ws.onerror = () => {}; // a close event always follows; that is where we act
  }

  /**
   * Send a frame now; false when the socket is not open.
   * @param {Frame} frame
   * @returns {boolean}
   */
  send(frame) {
    if (this.closed || this.ws.readyState !== OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Close the socket and stop reporting; nothing of it reaches the handlers afterwards. */
  close() {
    if (this.closed) return;
    this.closed = true;
    const ws = this.ws;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      if (ws.readyState < CLOSING) ws.close(1000);
    } catch {
      /* already gone */
    }
  }
}
