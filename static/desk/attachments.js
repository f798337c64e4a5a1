/**
 * Files in the desk (docs/protocol.md section 3.2): the composer's tray of uploads (paperclip, drop,
 * paste; each file uploads at once, with its own progress bar, remove button and the server's
 * refusal or a Retry for a network failure), and the files a message carries, drawn under its body
 * (images as thumbnails that open full size, anything else as a download row). Names and types only
 * ever go through `textContent` and attributes, never `innerHTML`.
 */

import { t } from "./i18n.js";
import { el } from "./util.js";
import { humanSize } from "../shared/files.js";

export const FILE_TEXT = {
  attach: t("files.attach"),
  attachHint: t("files.attach_hint"),
  drop: t("files.drop"),
  tray: t("files.tray"),
  remove: (name) => t("files.remove", { name }),
  retry: t("files.retry"),
  retryName: (name) => t("files.retry_name", { name }),
  uploading: (percent) => t("files.uploading", { percent }),
  uploaded: t("files.uploaded"),
  network: t("files.network"),
  serverFailed: (status) => t("files.server_failed", { status }),
  refused: (status) => t("files.refused", { status }),
  busy: (seconds) => (seconds ? t("files.busy_in", { seconds }) : t("files.busy")),
  stillUploading: t("files.still_uploading"),
  fixFailed: t("files.fix_failed"),
  open: (name) => t("files.open", { name }),
  download: (name, kind, size) => t("files.download", { name, kind, size }),
  signedOut: t("files.signed_out"),
};


const KINDS = {
  "application/pdf": "PDF",
  "text/plain": t("files.kind_text"),
  "image/png": "PNG",
  "image/jpeg": "JPEG",
  "image/gif": "GIF",
  "image/webp": "WebP",
};

/** A short, human name for a content type: "PDF", "PNG", else the subtype in capitals. */
export function fileKind(type, name = "") {
  if (KINDS[type]) return KINDS[type];
  const sub = String(type || "").split("/")[1];
  if (sub) return sub.toUpperCase().slice(0, 12);
  const ext = String(name).includes(".") ? String(name).split(".").pop() : "";
  return ext ? ext.toUpperCase().slice(0, 8) : t("files.kind_file");
}

/** The size to show an image's thumbnail at (the server's thumbnails are at most 320 px), so nothing jumps. */
export function thumbBox(width, height, max = { width: 240, height: 180 }) {
  const w = Number(width) || 0;
  const h = Number(height) || 0;
  if (!w || !h) return null;
  const scale = Math.min(1, max.width / w, max.height / h);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

/** A key that changes when a message's files or their links do: re-render only then. */
export function filesKey(files) {
  return (files ?? []).map((f) => `${f.id}|${f.url}|${f.thumbnail_url ?? ""}`).join(";");
}

const SVG = "http://www.w3.org/2000/svg";

function icon(paths, cls = "file-icon") {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", cls);
  svg.setAttribute("aria-hidden", "true");
  for (const d of paths) {
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

export const docIcon = () => icon(["M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z", "M14 3v5h5", "M9 13h6M9 17h4"]);
export const clipIcon = () => icon(["M20.5 11.5 12.4 19.6a5 5 0 0 1-7.1-7.1l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4l7.8-7.8"], "clip-icon");

/**
 * A message's files: images as thumbnails (alt = the file's name, sized from its width/height), the
 * rest as rows with an icon, the name, the type and the size, linking to the download.
 * `onOpen(file)` opens an image full size (a plain click; modified clicks open a new tab).
 */
export function renderFiles(files, { onOpen = null, onBroken = null } = {}) {
  const list = files ?? [];
  if (!list.length) return null;
  const box = el("div", { class: "msg-files", dataset: { count: list.length } });
  for (const file of list) {
    const name = String(file.name ?? "file");
    if (file.image && file.thumbnail_url) {
      const size = thumbBox(file.width, file.height);
      const img = el("img", {
        src: file.thumbnail_url, alt: name, loading: "lazy", decoding: "async",
        width: size?.width, height: size?.height,
      });
      if (onBroken) img.addEventListener("error", () => onBroken(file), { once: true });
      box.append(el("a", {
        class: "file-image", href: file.url, target: "_blank", rel: "noopener", title: FILE_TEXT.open(name),
        dataset: { fileId: file.id, name, type: file.type ?? "" },
        onclick: (event) => {
          if (!onOpen || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
          event.preventDefault();
          onOpen(file);
        },
      }, img));
    } else {
      const kind = fileKind(file.type, name);
      const size = humanSize(file.size);
      box.append(el("a", {
        class: "file-row", href: file.url, download: name, rel: "noopener", title: FILE_TEXT.download(name, kind, size),
        "aria-label": FILE_TEXT.download(name, kind, size), dataset: { fileId: file.id, name, type: file.type ?? "" },
      }, el("span", { class: "file-badge" }, docIcon()),
      el("span", { class: "file-text" },
        el("span", { class: "file-name" }, name),
        el("span", { class: "file-meta" }, `${kind} · ${size}`))));
    }
  }
  return box;
}

/** The desk's CSRF token: the page's own (its sign-out form), else Django's cookie. */
export function csrfToken(doc = document) {
  const field = doc.querySelector("input[name=csrfmiddlewaretoken]");
  if (field?.value) return field.value;
  const match = /(?:^|;\s*)csrftoken=([^;]+)/.exec(doc.cookie ?? "");
  return match ? decodeURIComponent(match[1]) : "";
}

/** A file as the server will judge it: a pasted image without an extension gets one from its type. */
function named(file) {
  const ext = { "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp", "application/pdf": "pdf", "text/plain": "txt" };
  if (file.name && /\.[A-Za-z0-9]+$/.test(file.name)) return file.name;
  const base = file.name || `pasted-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-")}`;
  return ext[file.type] ? `${base}.${ext[file.type]}` : base;
}

let counter = 0;

/**
 * The files the agent is about to send, per conversation (an upload belongs to the conversation it
 * was made for). Each item: {key, conversation, name, size, state: uploading | done | failed, progress,
 * attachment, error, retry}. `onChange(conversation)` hears every change.
 */
export class UploadTray {
  constructor({ api, onChange, csrf = csrfToken }) {
    this.url = `${api}attachments`;
    this.onChange = onChange;
    this.csrf = csrf;
    this.items = new Map(); // conversation -> [item]
  }

  list(conversation) {
    return this.items.get(conversation) ?? [];
  }

  add(conversation, files) {
    if (!conversation) return;
    const items = this.items.get(conversation) ?? [];
    for (const file of files) {
      const item = {
        key: `f${++counter}`, conversation, file, name: named(file), size: file.size, state: "uploading",
        progress: 0, attachment: null, error: "", retry: false, xhr: null,
      };
      items.push(item);
      this.upload(item);
    }
    this.items.set(conversation, items);
    this.onChange(conversation);
  }

  upload(item) {
    item.state = "uploading";
    item.progress = 0;
    item.error = "";
    item.retry = false;
    const form = new FormData();
    form.append("conversation", String(item.conversation));
    form.append("file", item.file, item.name);
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open("POST", this.url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", this.csrf());
    xhr.withCredentials = true;
    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable || item.xhr !== xhr) return;
      item.progress = Math.min(99, Math.round((event.loaded / event.total) * 100));
      this.onChange(item.conversation, item);
    });
    xhr.addEventListener("load", () => {
      if (item.xhr !== xhr) return;
      item.xhr = null;
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      if (xhr.status === 201 && data?.attachment) {
        item.state = "done";
        item.progress = 100;
        item.attachment = data.attachment;
      } else {
        item.state = "failed";
        const error = data?.error ?? {};
        item.code = error.code ?? `http_${xhr.status}`;
        if (xhr.status === 429) {
          item.error = error.detail || FILE_TEXT.busy(error.retry_after);
          item.retry = true;
        } else if (xhr.status === 401) {
          item.error = FILE_TEXT.signedOut;
        } else if (xhr.status >= 500 || xhr.status === 408) {
          item.error = error.detail || FILE_TEXT.serverFailed(xhr.status);
          item.retry = true; // the server or a proxy failed, not the file: trying again may work
        } else {
          // The server's verdict on this file (too_large, type_not_allowed, type_mismatch, empty_file, …).
          item.error = error.detail || FILE_TEXT.refused(xhr.status);
        }
      }
      this.onChange(item.conversation, item);
    });
    xhr.addEventListener("error", () => {
      if (item.xhr !== xhr) return;
      item.xhr = null;
      item.state = "failed";
      item.code = "network";
      item.error = FILE_TEXT.network;
      item.retry = true;
      this.onChange(item.conversation, item);
    });
    xhr.send(form);
  }

  retry(item) {
    if (item.state !== "failed" || !item.retry) return;
    this.upload(item);
    this.onChange(item.conversation, item);
  }

  remove(item) {
    const items = this.list(item.conversation);
    const at = items.indexOf(item);
    if (at < 0) return;
    if (item.xhr) {
      const xhr = item.xhr;
      item.xhr = null;
      xhr.abort();
    }
    if (item.state === "done" && item.attachment?.id) {
      // Taken back before sending: the server forgets it (best effort; an unsent upload harms nobody).
      fetch(`${this.url}/${item.attachment.id}`, {
        method: "DELETE",
        headers: { "X-CSRFToken": this.csrf() },
        credentials: "same-origin",
      }).catch(() => {});
    }
    items.splice(at, 1);
    this.onChange(item.conversation);
  }

  /** What a send may take: {ready: [item], waiting, failed}. */
  status(conversation) {
    const items = this.list(conversation);
    return {
      ready: items.filter((i) => i.state === "done"),
      waiting: items.some((i) => i.state === "uploading"),
      failed: items.some((i) => i.state === "failed"),
    };
  }

  /** The uploaded files leave the tray with a message; they come back if the server refuses it. */
  take(conversation) {
    const items = this.list(conversation).filter((i) => i.state === "done");
    this.items.set(conversation, this.list(conversation).filter((i) => i.state !== "done"));
    this.onChange(conversation);
    return items;
  }

  restore(conversation, items) {
    const held = this.list(conversation);
    for (const item of items) if (!held.includes(item)) held.push(item);
    this.items.set(conversation, held);
    this.onChange(conversation);
  }
}

/** One tray chip: focusable, with its progress bar, the server's refusal, Retry, and "Remove <name>". */
export function trayChip(item, { onRemove, onRetry }) {
  const preview = item.attachment?.thumbnail_url
    ? el("img", { class: "tray-thumb", src: item.attachment.thumbnail_url, alt: "", width: 32, height: 32 })
    : el("span", { class: "tray-icon" }, docIcon());
  const status = item.state === "uploading" ? FILE_TEXT.uploading(item.progress)
    : item.state === "done" ? `${fileKind(item.attachment?.type, item.name)} · ${humanSize(item.attachment?.size ?? item.size)}`
      : item.error;
  const chip = el("li", {
    class: `tray-item is-${item.state}`, tabindex: "0",
    dataset: { key: item.key, name: item.name, state: item.state, code: item.code ?? "" },
    "aria-label": `${item.name}, ${item.state === "done" ? FILE_TEXT.uploaded : status}`,
    onkeydown: (event) => {
      if (event.target !== chip) return;
      if (event.key === "Delete" || event.key === "Backspace") {
        event.preventDefault();
        onRemove(item);
      }
    },
  },
  preview,
  el("span", { class: "tray-text" },
    el("span", { class: "tray-name", title: item.name }, item.name),
    el("span", { class: `tray-status${item.state === "failed" ? " is-error" : ""}`, role: item.state === "failed" ? "alert" : null }, status),
    item.state === "uploading"
      ? el("progress", { class: "tray-progress", max: "100", value: String(item.progress), "aria-label": FILE_TEXT.uploading(item.progress) })
      : null),
  item.state === "failed" && item.retry
    ? el("button", { type: "button", class: "tray-retry", "aria-label": FILE_TEXT.retryName(item.name), onclick: () => onRetry(item) }, FILE_TEXT.retry)
    : null,
  el("button", {
    type: "button", class: "tray-remove", "aria-label": FILE_TEXT.remove(item.name), title: FILE_TEXT.remove(item.name),
    onclick: () => onRemove(item),
  }, "×"));
  return chip;
}

/** The files a drag carries (any drag of files from the desktop; text drags are left alone). */
export function dragHasFiles(event) {
  return [...(event.dataTransfer?.types ?? [])].includes("Files");
}

/** The files a paste carries (a screenshot, an image copied from a page or a file manager). */
export function pastedFiles(event) {
  const data = event.clipboardData;
  if (!data) return [];
  const files = [...(data.files ?? [])];
  if (files.length) return files;
  return [...(data.items ?? [])].filter((i) => i.kind === "file").map((i) => i.getAsFile()).filter(Boolean);
}
