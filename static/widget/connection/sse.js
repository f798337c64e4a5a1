// @ts-check
/**
 * The Server-Sent Events fallback's downstream half: GET /api/widget/events streams the same
 * frames as the socket, each with the cursor after it as its `id`. Read over fetch (not
 * EventSource) so the visitor token goes in a header, never in a URL.
 */

import { CLOSE } from "./protocol.js";

/** @typedef {import("./protocol.js").Frame} Frame */

/** @typedef {{event: string, data: string, id: string}} ServerSentEvent */

/**
 * Incremental `text/event-stream` parser: feed it decoded text in chunks of any size,
 * get back whole events `{event, data, id}`. Lines may end in LF, CR or CRLF, and a
 * CRLF may be split across two chunks.
 */
export class SSEParser {
  constructor() {
    this.partial = "";
    this.endedWithCR = false;
    this.first = true;
    /** @type {string[]} */
    this.data = [];
    this.event = "";
    this.lastEventId = "";
    /** @type {number | null} */
    this.retry = null;
  }

  /**
   * Parse one chunk; returns the events it completed, in order.
   * @param {string} text
   * @returns {ServerSentEvent[]}
   */
  push(text) {
    if (!text) return [];
    let chunk = text;
    if (this.first) {
      this.first = false;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    // A CR that ended the last chunk already closed its line; its LF is not a second line.
    if (this.endedWithCR && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.endedWithCR = chunk.endsWith("\r");
    const lines = (this.partial + chunk).split(/\r\n|\r|\n/);
    this.partial = lines.pop() ?? "";
    /** @type {ServerSentEvent[]} */
    const events = [];
    for (const line of lines) this.line(line, events);
    return events;
  }

  /**
   * @param {string} line
   * @param {ServerSentEvent[]} events
   */
  line(line, events) {
    if (line === "") {
      if (this.data.length) {
        events.push({ event: this.event || "message", data: this.data.join("\n"), id: this.lastEventId });
      }
      this.data = [];
      this.event = "";
      return;
    }
    if (line.startsWith(":")) return; // a comment, e.g. the server's keep-alive ping
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

/**
 * One SSE event as a frame: its JSON `data`, typed by the event name when the data has no type.
 * @param {ServerSentEvent} event
 * @returns {Frame | null}
 */
export function eventFrame({ event, data }) {
  let frame;
  try {
    frame = JSON.parse(data);
  } catch {
    return null;
  }
  if (!frame || typeof frame !== "object") return null;
  if (!frame.type && event !== "message") frame = { type: event, ...frame };
  return frame;
}

/** @typedef {(url: string, init?: Record<string, any>) => Promise<any>} FetchLike */

/**
 * @typedef {object} StreamHandlers
 * @property {() => void} onActivity  bytes arrived (a `: ping` comment too), so the stream is alive
 * @property {() => void} onOpen  the server accepted the stream: the link is live
 * @property {(frame: Frame) => void} onFrame
 * @property {(cursor: string) => void} onPosition  the cursor after the frame just handled
 * @property {(code: number) => void} onLost  the stream failed or ended; 4401/4403 when refused
 */

export class EventStreamLink {
  /**
   * @param {FetchLike} fetchImpl
   * @param {StreamHandlers} handlers
   */
  constructor(fetchImpl, handlers) {
    this.fetchImpl = fetchImpl;
    this.handlers = handlers;
    this.closed = false;
    this.controller = typeof AbortController === "function" ? new AbortController() : null;
  }

  /**
   * Open the stream and read it until it ends or is closed.
   * @param {string} url
   * @param {Record<string, string>} headers
   */
  async open(url, headers) {
    let response;
    try {
      response = await this.fetchImpl(url, { headers, cache: "no-store", signal: this.controller?.signal });
    } catch {
      if (!this.closed) this.handlers.onLost(0);
      return;
    }
    if (this.closed) return;
    if (response.status === 401 || response.status === 403) {
      this.handlers.onLost(response.status === 401 ? CLOSE.UNAUTHORIZED : CLOSE.FORBIDDEN);
      return;
    }
    if (!response.ok || !response.body) {
      this.handlers.onLost(0);
      return;
    }
    this.handlers.onOpen();
    await this.read(response.body.getReader());
  }

  /**
   * @param {{read: () => Promise<{done: boolean, value?: Uint8Array}>, cancel?: () => Promise<unknown> | void}} reader
   */
  async read(reader) {
    const decoder = new TextDecoder();
    const parser = new SSEParser();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (this.closed) break;
        if (done) return void this.handlers.onLost(0);
        this.handlers.onActivity();
        for (const event of parser.push(decoder.decode(value, { stream: true }))) {
          if (this.closed) break; // a gap dropped this stream: the rest comes again from the cursor
          this.handle(event);
        }
        if (this.closed) break;
      }
    } catch {
      if (!this.closed) this.handlers.onLost(0);
    }
    try {
      reader.cancel?.()?.catch?.(() => {});
    } catch {
      /* already released */
    }
  }

  /**
   * One event: the same frame as on the socket; its `id` is the cursor after it.
   * @param {ServerSentEvent} event
   */
  handle(event) {
    const frame = eventFrame(event);
    if (!frame) return;
    this.handlers.onFrame(frame);
    if (event.id && !this.closed) this.handlers.onPosition(event.id);
  }

  /** Abort the request and stop reporting. */
  close() {
    this.closed = true;
    this.controller?.abort();
  }
}
