/**
 * Files in the widget (docs/protocol.md section 3.2), loaded by the frame only once a file is attached or
 * a message carries one, so the first load stays small. Two parts:
 * - FileTray: the composer's files. Each uploads at once (XMLHttpRequest, for its progress bar), with a
 *   remove button, a Retry after a network failure, and the server's reason when it refuses the file.
 *   The frame sends the message with the uploaded ids once every upload is done.
 * - FileRenderer: a message's files under its body: images as thumbnails that open full size in the widget
 *   (in a new tab with a modified click), anything else as a row (icon, name, type, size) that downloads.
 * Names and types only ever go through textContent and attributes, never innerHTML.
 */

import { humanSize } from "../shared/files.js";

const SVG = "http://www.w3.org/2000/svg";
const DOC_ICON = "M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8zM14 3v5h5M9 13h6M9 17h6";
const THUMB_BOX = 220; // px: the longest side of a thumbnail in the transcript
export const MAX_FILES = 5; // PARLEY_ATTACHMENTS_PER_MESSAGE's default: the server has the last word
export const UPLOAD_URL = "/api/widget/attachments";

const KINDS = {
  "application/pdf": "PDF", "text/plain": "Text", "image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF",
  "image/webp": "WebP",
};

export { humanSize };

/** A short name for a content type: "PDF", "PNG", else the subtype in capitals, else the name's extension. */
export function fileKind(type, name = "") {
  if (KINDS[type]) return KINDS[type];
  const sub = String(type || "").split("/")[1];
  if (sub) return sub.toUpperCase().slice(0, 12);
  const dot = String(name).lastIndexOf(".");
  return dot > 0 ? String(name).slice(dot + 1).toUpperCase().slice(0, 8) : "";
}

/** Only links of our own server: a relative path, or this page's origin. */
function safeLink(url, origin = globalThis.location?.origin ?? "") {
  if (typeof url !== "string" || !url) return "";
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  return origin && url.startsWith(`${origin}/`) ? url : "";
}

/**
 * What an upload's answer means: `done` (the attachment), `refused` (the server will not take this file:
 * its reason to show), `failed` (worth a Retry: the network, the server, a rate limit), `unauthorized`.
 * @param {number} status  0 when the request never got an answer
 * @param {string} text  the answer's body
 */
export function uploadOutcome(status, text) {
  let answer = null;
  try {
    answer = JSON.parse(text);
  } catch {
    /* not JSON: a proxy's page, or nothing */
  }
  if (status === 201 && answer?.attachment && Number.isInteger(answer.attachment.id)) {
    return { kind: "done", attachment: answer.attachment };
  }
  if (status === 401) return { kind: "unauthorized" };
  const error = answer?.error && typeof answer.error === "object" ? answer.error : {};
  const detail = typeof error.detail === "string" ? error.detail : "";
  if (status === 0 || status >= 500 || status === 429 || (status === 201 && !answer)) {
    const outcome = { kind: "failed", code: error.code || (status === 429 ? "rate_limited" : "unavailable"), detail };
    if (typeof error.retry_after === "number") outcome.retry_after = error.retry_after;
    return outcome;
  }
  const byStatus = { 413: "too_large", 404: "not_found" };
  return { kind: "refused", code: error.code || byStatus[status] || "bad_request", detail: detail || `HTTP ${status}` };
}

/**
 * Upload one file as the customer: multipart `file`, the visitor token as a Bearer. Returns the outcome's
 * promise (never rejected) and a way to abort it.
 */
/**
 * Take back an upload that was not sent: the server deletes it (best effort; an unsent upload harms nobody).
 * @param {{id: number, token: string, url?: string, fetchImpl?: typeof fetch}} options
 */
export function discardUpload({ id, token, url = UPLOAD_URL, fetchImpl = globalThis.fetch }) {
  return fetchImpl(`${url}/${id}`, { method: "DELETE", headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
}

export function uploadFile({ file, token, onProgress = () => {}, url = UPLOAD_URL, XHR = globalThis.XMLHttpRequest }) {
  const xhr = new XHR();
  let aborted = false;
  const promise = new Promise((resolve) => {
    xhr.open("POST", url);
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload?.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total) onProgress(Math.min(100, Math.round((100 * event.loaded) / event.total)));
    });
    xhr.addEventListener("load", () => resolve(uploadOutcome(xhr.status, xhr.responseText)));
    xhr.addEventListener("error", () => resolve(uploadOutcome(0, "")));
    xhr.addEventListener("abort", () => resolve({ kind: aborted ? "aborted" : "failed", code: "unavailable", detail: "" }));
    const form = new FormData();
    form.append("file", file, file.name || "file");
    xhr.send(form);
  });
  return {
    promise,
    abort: () => {
      aborted = true;
      xhr.abort();
    },
  };
}

function make(doc, tag, className, text) {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function docIcon(doc) {
  const svg = doc.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "file-icon");
  const path = doc.createElementNS(SVG, "path");
  path.setAttribute("d", DOC_ICON);
  svg.appendChild(path);
  return svg;
}

/** Display size of a thumbnail: the image's proportions within THUMB_BOX, so nothing jumps as it loads. */
export function thumbnailSize(width, height) {
  const w = Number(width) || 0;
  const h = Number(height) || 0;
  if (w <= 0 || h <= 0) return null;
  const scale = Math.min(1, THUMB_BOX / Math.max(w, h));
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

/** Draws a message's files; updates them in place when a replay brings fresh links. */
export class FileRenderer {
  /**
   * @param {object} options
   * @param {(key: string, params?: object) => string} options.t
   * @param {() => void} [options.onStale]  an image did not load: its link may have expired
   * @param {string} [options.origin]  this page's origin (links elsewhere are not shown)
   */
  constructor({ t, onStale = () => {}, origin, doc = globalThis.document }) {
    this.t = t;
    this.onStale = onStale;
    this.origin = origin ?? globalThis.location?.origin ?? "";
    this.doc = doc;
  }

  /**
   * The `.files` box of a bubble, made to show `files` (kept in place when it already shows them).
   * @param {HTMLElement} bubble
   * @param {object[]} files
   */
  fill(bubble, files) {
    let box = bubble.querySelector(":scope > .files");
    const key = files.map((f) => `${f.id}:${f.url ? 1 : 0}`).join(",");
    if (!box || box.dataset.key !== key) {
      box?.remove();
      box = this.render(files);
      box.dataset.key = key;
      bubble.appendChild(box);
      return box;
    }
    // The same files with fresh links: a loaded image stays as it is, one that failed or waits reloads.
    const nodes = [...box.children];
    files.forEach((file, at) => this.relink(nodes[at], file));
    return box;
  }

  /** A new `.files` box. */
  render(files) {
    const box = make(this.doc, "div", "files");
    for (const file of files) box.appendChild(file.image && file.thumbnail_url ? this.image(file) : this.row(file));
    return box;
  }

  image(file) {
    const doc = this.doc;
    const name = String(file.name ?? "");
    const link = make(doc, "a", "file-image");
    link.dataset.fileId = String(file.id);
    link.target = "_blank";
    link.rel = "noopener";
    link.setAttribute("aria-label", this.t("files.open", { name }));
    const img = make(doc, "img");
    img.alt = name;
    const size = thumbnailSize(file.width, file.height);
    if (size) {
      img.width = size.width;
      img.height = size.height;
    }
    img.decoding = "async";
    img.addEventListener?.("error", () => this.onStale());
    link.appendChild(img);
    // A plain click shows the image here; a modified one (new tab, download) is left to the browser.
    link.addEventListener?.("click", (event) => {
      if (event.button || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || !link.href) return;
      event.preventDefault();
      this.view(link.href, name);
    });
    this.relink(link, file);
    return link;
  }

  /** Show one image full size over the conversation; Escape, the close button or a click beside it close it. */
  view(href, name) {
    const doc = this.doc;
    const dialog = make(doc, "dialog", "file-viewer");
    dialog.setAttribute("aria-label", name);
    const close = make(doc, "button", "viewer-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", this.t("files.close"));
    const img = make(doc, "img", "viewer-image");
    img.alt = name;
    img.src = href;
    const download = make(doc, "a", "viewer-download", this.t("files.download", { name }));
    download.href = href;
    download.download = name;
    const bar = make(doc, "div", "viewer-bar");
    bar.append(make(doc, "span", "viewer-name", name), download);
    dialog.append(close, img, bar);
    close.addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close();  // the backdrop, not the image or its bar
    });
    dialog.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      event.stopPropagation(); // closes the image, not the widget (frame.js closes it on Escape)
      dialog.close();
    });
    dialog.addEventListener("close", () => dialog.remove());
    doc.body.appendChild(dialog);
    dialog.showModal();
    close.focus();
    return dialog;
  }

  row(file) {
    const doc = this.doc;
    const name = String(file.name ?? "");
    const href = safeLink(file.url, this.origin);
    const row = make(doc, href ? "a" : "div", "file-row");
    row.dataset.fileId = String(file.id);
    const text = make(doc, "span", "file-text");
    const meta = [fileKind(file.type, name), humanSize(file.size)].filter(Boolean).join(" · ");
    text.append(make(doc, "span", "file-name", name), make(doc, "span", "file-meta", meta));
    row.append(docIcon(doc), text);
    if (href) {
      row.download = name;
      row.setAttribute("aria-label", `${this.t("files.download", { name })} (${meta})`);
      this.relink(row, file);
    }
    return row;
  }

  /** Point a file's element at its (fresh) links. */
  relink(node, file) {
    if (!node) return;
    const href = safeLink(file.url, this.origin);
    if (node.tagName === "A" || node.tagName === "a") {
      if (href) node.href = href;
      else node.removeAttribute("href");
    }
    const img = node.querySelector?.("img");
    const src = safeLink(file.thumbnail_url, this.origin);
    if (img && src && img.getAttribute("src") !== src && !(img.complete && img.naturalWidth > 0 && img.getAttribute("src"))) {
      img.src = src;
    }
  }
}

let nextKey = 1;

/**
 * The composer's files: each uploads at once and shows its progress; the frame asks `status()` before it
 * sends and `files()` for what to send, and is told of every change (`onChange`).
 */
export class FileTray {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root  the tray above the composer
   * @param {(key: string, params?: object) => string} options.t
   * @param {(file: File, onProgress: (percent: number) => void) => {promise: Promise<any>, abort: () => void}} options.upload
   * @param {() => void} [options.onChange]
   * @param {() => void} [options.onUnauthorized]  the token was refused: the frame gets a new session
   * @param {(text: string) => void} [options.notice]  tell the customer something
   * @param {(id: number) => void} [options.discard]  an uploaded file was taken back before sending
   */
  constructor({
    root, t, upload, onChange = () => {}, onUnauthorized = () => {}, notice = () => {}, discard = () => {},
    doc = globalThis.document,
  }) {
    this.root = root;
    this.t = t;
    this.upload = upload;
    this.discard = discard;
    this.onChange = onChange;
    this.onUnauthorized = onUnauthorized;
    this.notice = notice;
    this.doc = doc;
    this.items = [];
    this.waiting = false;
    this.then = null; // the send that waits for the uploads
    root.addEventListener("click", (event) => {
      const button = event.target.closest?.("button[data-action]");
      const chip = button?.closest(".chip");
      if (!chip) return;
      if (button.dataset.action === "remove") this.remove(chip.dataset.key);
      else this.retry(chip.dataset.key);
    });
  }

  /** Attach files: each one uploads at once (beyond MAX_FILES one is refused here). */
  add(files) {
    for (const file of files) {
      const item = { key: String(nextKey++), file, name: file.name || "file", state: "uploading", percent: 0, attachment: null, message: "", job: null };
      this.items.push(item);
      if (this.items.filter((i) => i.state !== "refused").length > MAX_FILES) {
        this.refuse(item, this.t("files.too_many", { name: item.name, max: MAX_FILES }));
      } else {
        this.start(item);
      }
    }
    this.render();
  }

  refuse(item, message) {
    item.state = "refused";
    item.message = message;
  }

  start(item) {
    item.state = "uploading";
    item.percent = 0;
    item.message = "";
    const job = this.upload(item.file, (percent) => {
      item.percent = percent;
      this.renderItem(item);
    });
    item.job = job;
    job.promise.then((outcome) => {
      if (item.job !== job || !this.items.includes(item)) return; // removed meanwhile
      item.job = null;
      if (outcome.kind === "done") {
        item.state = "done";
        item.attachment = outcome.attachment;
      } else if (outcome.kind === "refused") {
        this.refuse(item, this.t("files.refused", { name: item.name, reason: outcome.detail || outcome.code }));
      } else {
        if (outcome.kind === "unauthorized") this.onUnauthorized();
        item.state = "failed";
        item.message = outcome.code === "rate_limited" && outcome.detail
          ? this.t("files.refused", { name: item.name, reason: outcome.detail })
          : this.t("files.failed", { name: item.name });
      }
      this.render();
    });
  }

  remove(key) {
    const item = this.items.find((i) => i.key === key);
    if (!item) return;
    item.job?.abort();
    item.job = null;
    if (item.state === "done" && item.attachment?.id) this.discard(item.attachment.id); // taken back before sending
    this.items = this.items.filter((i) => i !== item);
    this.render();
  }

  retry(key) {
    const item = this.items.find((i) => i.key === key);
    if (!item || item.state !== "failed") return;
    this.start(item);
    this.render();
  }

  /** "empty", "uploading" (wait), "failed" (a Retry is due first) or "ready". Refused files do not count. */
  status() {
    const live = this.items.filter((i) => i.state !== "refused");
    if (!live.length) return "empty";
    if (live.some((i) => i.state === "uploading")) return "uploading";
    return live.some((i) => i.state === "failed") ? "failed" : "ready";
  }

  /** The uploaded files, as the message carries them: {id, name, type, size}. */
  files() {
    return this.items.filter((i) => i.state === "done").map(({ attachment: a }) => ({ id: a.id, name: a.name, type: a.type, size: a.size }));
  }

  /**
   * Asked before a message goes: true when it may go now (with `files()`). While files upload it waits and
   * `send` is called once they are done; after a failed upload the customer is told to retry or remove it.
   * @param {() => void} send
   */
  beforeSend(send) {
    const status = this.status();
    if (status === "uploading") {
      this.then = send;
      this.setWaiting(true);
    } else if (status === "failed") {
      this.notice(this.t("files.fix"));
    }
    return status === "ready" || status === "empty";
  }

  /** An upload ended or a file went: a message that waited for its files goes now (or says why not). */
  settle() {
    const send = this.then;
    if (!send || this.status() === "uploading") return;
    this.then = null;
    this.setWaiting(false);
    if (this.status() === "failed") this.notice(this.t("files.fix"));
    else send();
  }

  /** Whether the message waits for the uploads (shown on the tray). */
  setWaiting(waiting) {
    this.waiting = waiting;
    this.render();
  }

  /** The message went out: forget every file (the refused ones too). */
  clear() {
    for (const item of this.items) item.job?.abort();
    this.items = [];
    this.waiting = false;
    this.then = null;
    this.render();
  }

  // ---- the chips ----------------------------------------------------------------------

  render() {
    const doc = this.doc;
    const chips = new Map([...this.root.querySelectorAll(":scope > .chip")].map((c) => [c.dataset.key, c]));
    for (const [key, chip] of chips) if (!this.items.some((i) => i.key === key)) chip.remove();
    for (const item of this.items) {
      let chip = chips.get(item.key);
      if (!chip) {
        chip = this.chip(item);
        this.root.insertBefore(chip, this.root.querySelector(":scope > .tray-note"));
      }
      this.renderItem(item, chip);
    }
    let note = this.root.querySelector(":scope > .tray-note");
    if (this.waiting && this.items.length) {
      if (!note) {
        note = make(doc, "p", "tray-note", this.t("files.waiting"));
        note.setAttribute("role", "status");
        this.root.appendChild(note);
      }
    } else {
      note?.remove();
    }
    this.root.hidden = !this.items.length;
    this.onChange();
    this.settle();
  }

  chip(item) {
    const doc = this.doc;
    const chip = make(doc, "div", "chip");
    chip.dataset.key = item.key;
    const preview = make(doc, "span", "chip-preview");
    preview.appendChild(docIcon(doc));
    const text = make(doc, "span", "chip-text");
    text.append(make(doc, "span", "chip-name", item.name), make(doc, "span", "chip-status"));
    const progress = make(doc, "progress", "chip-progress");
    progress.max = 100;
    progress.setAttribute("aria-label", item.name);
    const retry = make(doc, "button", "chip-retry", this.t("files.retry"));
    retry.type = "button";
    retry.dataset.action = "retry";
    retry.setAttribute("aria-label", this.t("files.retry_name", { name: item.name }));
    const remove = make(doc, "button", "chip-remove", "×");
    remove.type = "button";
    remove.dataset.action = "remove";
    remove.setAttribute("aria-label", this.t("files.remove", { name: item.name }));
    remove.title = this.t("files.remove", { name: item.name });
    text.appendChild(progress);
    chip.append(preview, text, retry, remove);
    return chip;
  }

  renderItem(item, chip = this.root.querySelector(`:scope > .chip[data-key="${item.key}"]`)) {
    if (!chip) return;
    chip.dataset.state = item.state;
    const status = chip.querySelector(".chip-status");
    const progress = chip.querySelector(".chip-progress");
    progress.hidden = item.state !== "uploading";
    progress.value = item.percent;
    chip.querySelector(".chip-retry").hidden = item.state !== "failed";
    if (item.state === "uploading") status.textContent = this.t("files.uploading", { percent: item.percent });
    else if (item.state === "done") status.textContent = [fileKind(item.attachment.type, item.name), humanSize(item.attachment.size)].filter(Boolean).join(" · ");
    else status.textContent = item.message;
    status.setAttribute("role", item.state === "refused" || item.state === "failed" ? "alert" : "none");
    const src = item.state === "done" ? safeLink(item.attachment.thumbnail_url) : "";
    const preview = chip.querySelector(".chip-preview");
    if (src && !preview.querySelector("img")) {
      const img = make(this.doc, "img");
      img.alt = "";
      img.src = src;
      preview.replaceChildren(img);
    }
  }
}

/**
 * The frame's files: its tray above the composer, and the transcript's renderer (frame.js calls this once).
 * @param {{t: Function, root: HTMLElement, view: any, token: () => string, notice: (text: string) => void,
 *   reauthenticate: () => void, refreshLinks: (maxAgeMs: number) => void}} frame
 */
export function setUp({ t, root, view, token, notice, reauthenticate, refreshLinks }) {
  loadStyles();
  const tray = new FileTray({
    root, t, notice, onUnauthorized: reauthenticate,
    upload: (file, onProgress) => uploadFile({ file, token: token(), onProgress }),
    discard: (id) => discardUpload({ id, token: token() }),
  });
  view.setFileRenderer(new FileRenderer({ t, onStale: () => refreshLinks(60000) }));
  return tray;
}

/** The files' stylesheet, added once next to frame.css. */
export function loadStyles(doc = globalThis.document, href = new URL("./attachments.css", import.meta.url).href) {
  if (doc.querySelector("link[data-files]")) return;
  const link = doc.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  link.dataset.files = "";
  doc.head.appendChild(link);
}
