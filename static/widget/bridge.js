/**
 * The frame's side of the postMessage link with the host page's loader. Both ways are
 * pinned to one origin — the host page's, as checked by the server against the site's
 * allowed origins — and messages carry `parley: 1` so unrelated ones are ignored.
 */

export const BRIDGE_VERSION = 1;

export class HostBridge {
  /** `parentOrigin` empty (not embedded, or by an origin the site does not allow) makes a bridge that does nothing. */
  constructor(parentOrigin, win = globalThis.window) {
    this.origin = parentOrigin || "";
    this.win = win;
    this.parent = win && win.parent !== win ? win.parent : null;
    this.handlers = new Map();
    if (this.active) win.addEventListener("message", (event) => this.receive(event));
  }

  /** True when there is a host page to talk to. */
  get active() {
    return Boolean(this.origin && this.parent);
  }

  /** Call `fn(data)` for messages of `type` from the host page. */
  on(type, fn) {
    this.handlers.set(type, fn);
  }

  /** Tell the host page something; only a page of the allowed origin can read it. */
  post(type, data = {}) {
    if (this.active) this.parent.postMessage({ ...data, parley: BRIDGE_VERSION, type }, this.origin);
  }

  receive(event) {
    if (event.origin !== this.origin || event.source !== this.parent) return;
    const data = event.data;
    if (!data || typeof data !== "object" || data.parley !== BRIDGE_VERSION || typeof data.type !== "string") return;
    this.handlers.get(data.type)?.(data);
  }
}
