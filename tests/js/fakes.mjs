// Test doubles for the widget connection: a scriptable WebSocket, a manual clock,
// an in-memory storage and a fetch whose response body streams chunks on demand.

/** Timers that only move when the test says so. */
export class FakeClock {
  constructor() {
    this.now = 0;
    this.nextId = 1;
    this.timers = new Map();
    this.setTimeout = (fn, ms) => {
      const id = this.nextId++;
      this.timers.set(id, { id, fn, ms, at: this.now + ms });
      return id;
    };
    this.clearTimeout = (id) => {
      this.timers.delete(id);
    };
  }

  /** Delays of the timers still pending, in the order they were set. */
  pending() {
    return [...this.timers.values()].map((t) => t.ms);
  }

  /** Run every timer due within `ms`, in time order, then stop at now + ms. */
  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.timers.values()].filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers.delete(due.id);
      this.now = due.at;
      due.fn();
    }
    this.now = end;
  }
}

/** A WebSocket class whose instances the test opens, feeds and closes by hand. */
export function fakeWebSocketClass() {
  class FakeWebSocket {
    static instances = [];

    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedWith = null;
      FakeWebSocket.instances.push(this);
    }

    send(text) {
      if (this.readyState !== 1) throw new Error("send on a socket that is not open");
      this.sent.push(JSON.parse(text));
    }

    close(code) {
      this.closedWith = code ?? 1005;
      this.readyState = 3;
    }

    // ---- what the server does ----

    open() {
      this.readyState = 1;
      this.onopen?.({});
    }

    receive(frame) {
      this.onmessage?.({ data: JSON.stringify(frame) });
    }

    serverClose(code) {
      this.readyState = 3;
      this.onclose?.({ code });
    }

    /** A connect that fails: error, then close 1006, never open. */
    fail() {
      this.readyState = 3;
      this.onerror?.({});
      this.onclose?.({ code: 1006 });
    }

    frames(type) {
      return this.sent.filter((f) => f.type === type);
    }
  }
  return FakeWebSocket;
}

/** sessionStorage-like get/set over a Map, shared across "reloads". */
export class MemoryStorage {
  constructor() {
    this.map = new Map();
  }

  get(key) {
    return this.map.has(key) ? this.map.get(key) : null;
  }

  set(key, value) {
    this.map.set(key, value);
  }
}

/** A response body whose reader yields the chunks the test pushes. */
export function streamingBody(signal) {
  const queue = [];
  let waiting = null;
  let ended = false;
  const settle = () => {
    if (!waiting) return;
    const { resolve } = waiting;
    if (queue.length) {
      waiting = null;
      resolve({ done: false, value: queue.shift() });
    } else if (ended) {
      waiting = null;
      resolve({ done: true, value: undefined });
    }
  };
  signal?.addEventListener("abort", () => {
    ended = true;
    if (waiting) {
      const { reject } = waiting;
      waiting = null;
      reject(Object.assign(new Error("aborted"), { name: "AbortError" }));
    }
  });
  const reader = {
    read() {
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        settle();
      });
    },
    cancel() {
      ended = true;
      settle();
      return Promise.resolve();
    },
  };
  return {
    body: { getReader: () => reader },
    push(bytes) {
      queue.push(bytes);
      settle();
    },
    end() {
      ended = true;
      settle();
    },
  };
}

/** Let pending promise callbacks (fetch, stream reads) run. */
export function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Builders of server frames, shaped like chat/events.py. */
export const ev = {
  message(seq, prev, body, kind = "agent", conversation = 7) {
    return {
      type: "message.new", conversation, prev_seq: prev,
      message: { id: 100 + seq, seq, author: { kind, name: kind }, body, created_at: "2024-01-01T00:00:00Z", status: "sent" },
    };
  },
  start(seq, prev, replyId, conversation = 7) {
    return { type: "reply.start", conversation, reply_id: replyId, seq, prev_seq: prev, author: { kind: "bot", name: "Parley" } };
  },
  delta(seq, replyId, index, text, conversation = 7) {
    return { type: "reply.delta", conversation, reply_id: replyId, seq, index, text };
  },
  snapshot(seq, replyId, index, text, conversation = 7) {
    return { type: "reply.snapshot", conversation, reply_id: replyId, seq, index, text };
  },
  end(seq, replyId, index, body, status = "complete", conversation = 7) {
    return { type: "reply.end", conversation, reply_id: replyId, seq, index, body, status };
  },
  conversation(id = 7, extra = {}) {
    return { id, status: "open", owner: "bot", assignee: null, last_seq: 0, ...extra };
  },
};
