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
    /** The storage key of `name`, as a `storage` event names it. */
    key,
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

/**
 * Revoke every token of the token's visitor (Parley.reset(): the host page's user logged out):
 * POST /api/widget/<site>/session/revoke. Resolves true when revoked, false when the token was
 * already dead (expired, or revoked by another tab) — nothing is left to revoke either way.
 * Network trouble rejects with a TypeError (the caller retries); other refusals with a SessionError.
 */
export async function sessionRevoke({ url, token, fetchImpl = fetch }) {
  const response = await fetchImpl(url, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    cache: "no-store",
  });
  if (response.ok) return true;
  if (response.status === 401) return false;
  const answer = await response.json().catch(() => ({}));
  const error = answer?.error ?? {};
  throw new SessionError(error.code ?? "unavailable", error.detail ?? `HTTP ${response.status}`, response.status);
}

/** The WebSocket URL of the customer socket on the frame's own host. */
export function socketUrl(location = globalThis.location) {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws/widget/`;
}
