// @ts-check
/**
 * The SSE fallback's upstream half: what the socket would carry as frames goes as POSTs with
 * the visitor token as a bearer. Each call answers with what happened; the connection acts on it.
 */

/** @typedef {import("./sse.js").FetchLike} FetchLike */
/** @typedef {import("./outbox.js").OutboxEntry} OutboxEntry */

/**
 * Where and as whom to call: read at each call, since the token and even fetch may change.
 * @typedef {{fetchImpl: FetchLike, base: string, token: string}} HttpContext
 */

/**
 * @typedef {{code: string, detail: string, ref: string}} ErrorPayload
 */

/**
 * @typedef {{kind: "unreachable"}
 *   | {kind: "unauthorized"}
 *   | {kind: "ack", answer: Record<string, any>}
 *   | {kind: "refused", code: string, detail: string, retry_after?: number}} SendAnswer
 */

/**
 * @typedef {{kind: "unauthorized"}
 *   | {kind: "saved", helpful: boolean}
 *   | {kind: "refused", code: string, detail: string}} FeedbackAnswer
 */

/**
 * @param {HttpContext} http
 * @param {string} path
 */
export function httpUrl(http, path) {
  return `${String(http.base).replace(/\/+$/, "")}${path}`;
}

/**
 * @param {HttpContext} http
 * @param {Record<string, string>} [extra]
 * @returns {Record<string, string>}
 */
export function authHeaders(http, extra = {}) {
  return { Authorization: `Bearer ${http.token}`, ...extra };
}

/**
 * What a queued message sends, over the socket (`message.send`) and over HTTP alike: its client_id, its
 * text, and the ids of its files when it has any (the same ids on every retry).
 * @param {OutboxEntry} entry
 * @returns {{client_id: string, body: string, attachments?: number[]}}
 */
export function messageFields(entry) {
  /** @type {{client_id: string, body: string, attachments?: number[]}} */
  const fields = { client_id: entry.client_id, body: entry.body };
  if (entry.attachments?.length) fields.attachments = [...entry.attachments];
  return fields;
}

/**
 * POST one queued message; the JSON answer is its ack.
 * @param {HttpContext} http
 * @param {OutboxEntry} entry
 * @returns {Promise<SendAnswer>}
 */
export async function postMessage(http, entry) {
  let response;
  let answer = null;
  try {
    response = await http.fetchImpl(httpUrl(http, "/api/widget/messages"), {
      method: "POST",
      headers: authHeaders(http, { "Content-Type": "application/json", Accept: "application/json" }),
      body: JSON.stringify(messageFields(entry)),
    });
    answer = await response.json().catch(() => null);
  } catch {
    return { kind: "unreachable" }; // network trouble: the same client_id goes again later
  }
  if (response.status === 401) return { kind: "unauthorized" };
  if (response.ok) return { kind: "ack", answer: answer ?? {} };
  const error = answer?.error ?? answer ?? {};
  const fallback = response.status === 429 ? "rate_limited" : response.status >= 500 ? "unavailable" : "bad_request";
  /** @type {SendAnswer} */
  const refused = { kind: "refused", code: error.code ?? fallback, detail: error.detail ?? `HTTP ${response.status}` };
  if (error.retry_after != null) refused.retry_after = error.retry_after; // a rate limit's "not before"
  return refused;
}

/**
 * POST a stop for a streaming reply; the error to report, or null when it went through.
 * @param {HttpContext} http
 * @param {unknown} replyId
 * @returns {Promise<ErrorPayload | null>}
 */
export async function postStop(http, replyId) {
  try {
    const response = await http.fetchImpl(httpUrl(http, `/api/widget/replies/${encodeURIComponent(String(replyId))}/stop`), {
      method: "POST",
      headers: authHeaders(http, { Accept: "application/json" }),
    });
    if (!response.ok) return { code: "stop_failed", detail: `HTTP ${response.status}`, ref: "reply.stop" };
  } catch {
    return { code: "unavailable", detail: "Could not reach the server to stop the reply.", ref: "reply.stop" };
  }
  return null;
}

/**
 * POST the customer's verdict on a reply; the answer `{helpful}` is the server's confirmation.
 * @param {HttpContext} http
 * @param {unknown} replyId
 * @param {boolean} helpful
 * @returns {Promise<FeedbackAnswer>}
 */
export async function postFeedback(http, replyId, helpful) {
  try {
    const response = await http.fetchImpl(httpUrl(http, `/api/widget/replies/${encodeURIComponent(String(replyId))}/feedback`), {
      method: "POST",
      headers: authHeaders(http, { "Content-Type": "application/json", Accept: "application/json" }),
      body: JSON.stringify({ helpful }),
    });
    const answer = await response.json().catch(() => null);
    if (response.status === 401) return { kind: "unauthorized" };
    if (!response.ok) {
      const error = answer?.error ?? {};
      return { kind: "refused", code: error.code ?? "bad_request", detail: error.detail ?? `HTTP ${response.status}` };
    }
    return { kind: "saved", helpful: typeof answer?.helpful === "boolean" ? answer.helpful : helpful };
  } catch {
    return { kind: "refused", code: "unavailable", detail: "Could not reach the server to save the feedback." };
  }
}

/**
 * @typedef {{kind: "ok", answer: Record<string, any>}
 *   | {kind: "unauthorized"}
 *   | {kind: "refused", code: string, detail: string, retry_after?: number}} CommandAnswer
 */

/**
 * POST one of the widget's commands (rating, contact, transcript) with a JSON body; the JSON answer
 * is what the socket's answering frame would carry. Errors keep the server's code, as over the socket.
 * @param {HttpContext} http
 * @param {string} path
 * @param {Record<string, unknown>} body
 * @returns {Promise<CommandAnswer>}
 */
export async function postCommand(http, path, body) {
  let response;
  let answer = null;
  try {
    response = await http.fetchImpl(httpUrl(http, path), {
      method: "POST",
      headers: authHeaders(http, { "Content-Type": "application/json", Accept: "application/json" }),
      body: JSON.stringify(body),
    });
    answer = await response.json().catch(() => null);
  } catch {
    return { kind: "refused", code: "unavailable", detail: "Could not reach the server." };
  }
  if (response.status === 401) return { kind: "unauthorized" };
  if (response.ok) return { kind: "ok", answer: answer && typeof answer === "object" ? answer : {} };
  const error = answer?.error ?? {};
  /** @type {Record<number, string>} */
  const byStatus = { 404: "not_found", 409: "not_resolved", 429: "rate_limited" };
  const fallback = byStatus[response.status] ?? (response.status >= 500 ? "unavailable" : "bad_request");
  /** @type {CommandAnswer} */
  const refused = { kind: "refused", code: error.code ?? fallback, detail: error.detail ?? `HTTP ${response.status}` };
  if (error.retry_after != null) refused.retry_after = error.retry_after;
  return refused;
}
