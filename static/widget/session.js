/**
 * The visitor's session: the signed token from POST /api/widget/<site>/session, and the
 * frame's own storage that keeps it (and the connection's transcript) across reloads.
 */

/** localStorage of the frame's origin under `prefix`, or memory when storage is blocked (private modes, partitioning). */
export function frameStorage(prefix, backend = globalThis.localStorage) {
  const memory = new Map();
  const key = (name) => `${prefix}:${name}`;
  const attempt = (fn, fallback) => {
    try {
      return backend ? fn() : fallback();
    } catch {
      return fallback();
    }
  };
  return {
    get: (name) => attempt(() => backend.getItem(key(name)), () => memory.get(key(name)) ?? null),
    set: (name, value) => attempt(() => backend.setItem(key(name), value), () => memory.set(key(name), value)),
    remove: (name) => attempt(() => backend.removeItem(key(name)), () => memory.delete(key(name))),
    /** The `{get, set}` shape Connection wants, for keys it prefixes itself. */
    raw: {
      get: (name) => attempt(() => backend.getItem(name), () => memory.get(name) ?? null),
      set: (name, value) => attempt(() => backend.setItem(name, value), () => memory.set(name, value)),
    },
  };
}

export class SessionError extends Error {
  constructor(code, detail, status) {
    super(detail);
    this.code = code;
    this.status = status;
  }
}

/**
 * Start or resume the visitor: sends the stored token, the host page's URL, and any verified
 * identity or contact details; returns the server's answer `{visitor_token, visitor, site, availability}`.
 * Network trouble rejects with a TypeError (the caller retries); refusals with a SessionError.
 */
export async function sessionStart({ url, token = "", pageUrl = "", identity = null, contact = null, fetchImpl = fetch }) {
  const body = { token, page_url: pageUrl };
  if (identity?.userId) {
    body.user_id = String(identity.userId);
    body.user_hash = String(identity.hash ?? "");
  }
  const name = contact?.name ?? identity?.name;
  const email = contact?.email ?? identity?.email;
  if (name) body.name = String(name).slice(0, 120);
  if (email) body.email = String(email).slice(0, 254);
  const response = await fetchImpl(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
    cache: "no-store",
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = answer?.error ?? {};
    throw new SessionError(error.code ?? "unavailable", error.detail ?? `HTTP ${response.status}`, response.status);
  }
  return answer;
}

/** The WebSocket URL of the customer socket on the frame's own host. */
export function socketUrl(location = globalThis.location) {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws/widget/`;
}
