/**
 * The conversation list: the rows of one view (Queue, Mine, All open, Resolved), kept live from
 * the socket's `conversation.updated` events. Membership and order are decided here exactly as
 * the server's list endpoint decides them, so a live update lands where a reload would put it.
 */

import { t } from "./i18n.js";
import { rowLabels } from "./labels.js";
import { snippetNodes } from "./search-snippet.js";
import { ago, count, duration, el, visitorAvatar, visitorName } from "./util.js";

const PREVIEW_PREFIX = { agent: t("preview.agent"), bot: t("preview.bot"), system: "", customer: "" };

const byTime = (field, direction) => (a, b) => {
  const x = a[field] ? Date.parse(a[field]) : null;
  const y = b[field] ? Date.parse(b[field]) : null;
  if (x !== y) {
    if (x === null) return direction === "asc" ? -1 : 1; // queue: unknown first; others: unknown last
    if (y === null) return direction === "asc" ? 1 : -1;
    return direction === "asc" ? x - y : y - x;
  }
  return direction === "asc" ? a.id - b.id : b.id - a.id;
};

const ORDER = {
  queue: byTime("queued_at", "asc"),
  mine: byTime("last_message_at", "desc"),
  open: byTime("last_message_at", "desc"),
  resolved: byTime("updated_at", "desc"),
};

export class ConversationList {
  constructor({ root, me, sites, labels, onSelect }) {
    this.root = root;
    this.me = me;
    this.sites = new Map(sites.map((s) => [s.id, s]));
    this.labels = labels; // the LabelStore: the colours of the rows' label chips
    this.onSelect = onSelect;
    this.view = "queue";
    this.q = "";
    this.site = null;
    this.label = ""; // show only conversations wearing this label
    this.rows = new Map();
    this.items = new Map(); // id -> <li>
    this.selectedId = null;
    this.more = false;
    root.addEventListener("click", (event) => {
      const li = event.target.closest("[data-conversation-id]");
      if (li) this.onSelect(Number(li.dataset.conversationId));
    });
  }

  /** Does a conversation (agent payload) belong in the current view, site and label filter? */
  belongs(row) {
    if (this.site != null && row.site !== this.site) return false;
    if (this.label && !(row.labels ?? []).includes(this.label)) return false;
    switch (this.view) {
      case "queue":
        return row.status === "open" && row.owner === "queue";
      case "mine":
        return row.status === "open" && row.assignee?.id === this.me;
      case "open":
        return row.status === "open";
      default:
        return row.status === "resolved";
    }
  }

  /** Replace the rows (a fresh fetch), or add a further page. */
  setRows(rows, { append = false, more = false } = {}) {
    if (!append) this.rows.clear();
    // A search's rows come best match first: that order is kept (live updates keep a row's place).
    for (const row of rows) this.rows.set(row.id, { ...row, rank: this.rows.size });
    this.more = more;
    this.render();
  }

  /**
   * Merge a live update. Returns what happened: {before, row, added, removed}. With a search
   * active, only rows already shown are updated (the server decides what matches the text).
   */
  upsert(payload) {
    const before = this.rows.get(payload.id) ?? null;
    const row = { ...(before ?? {}), ...payload };
    const fits = this.belongs(row) && (!this.q || before !== null);
    if (fits) this.rows.set(row.id, row);
    else this.rows.delete(row.id);
    this.render();
    return { before, row, added: fits && !before, removed: !fits && Boolean(before) };
  }

  /** Fill in fields only the list endpoint knows (the last message), keeping live fields that are newer. */
  refresh(rows) {
    for (const fresh of rows) {
      const held = this.rows.get(fresh.id);
      if (!held) continue;
      const newer = Date.parse(held.updated_at ?? 0) > Date.parse(fresh.updated_at ?? 0);
      this.rows.set(fresh.id, newer ? { ...fresh, ...held, preview: fresh.preview } : { ...held, ...fresh });
    }
    this.render();
  }

  get(id) {
    return this.rows.get(id) ?? null;
  }

  ordered() {
    const rows = [...this.rows.values()];
    return this.q ? rows.sort((a, b) => a.rank - b.rank) : rows.sort(ORDER[this.view]);
  }

  select(id) {
    this.selectedId = id;
    for (const [itemId, li] of this.items) {
      const on = itemId === id;
      li.classList.toggle("is-active", on);
      li.setAttribute("aria-selected", on ? "true" : "false");
    }
    this.items.get(id)?.scrollIntoView({ block: "nearest" });
  }

  /** The id `step` rows away from the selected one (j/k). */
  neighbour(step) {
    const ids = this.ordered().map((r) => r.id);
    if (!ids.length) return null;
    const at = ids.indexOf(this.selectedId);
    if (at < 0) return ids[step > 0 ? 0 : ids.length - 1];
    return ids[Math.min(ids.length - 1, Math.max(0, at + step))];
  }

  /** Bring the DOM in line with the rows: update changed items, add, remove and reorder. */
  render() {
    const ordered = this.ordered();
    const keep = new Set(ordered.map((r) => r.id));
    for (const [id, li] of this.items) {
      if (!keep.has(id)) {
        li.remove();
        this.items.delete(id);
      }
    }
    let previous = null;
    for (const row of ordered) {
      let li = this.items.get(row.id);
      const signature = JSON.stringify([row, this.view, this.site, this.labels.version]);
      if (!li) {
        li = el("li", { class: "conv", role: "option", dataset: { conversationId: row.id }, tabindex: "-1" });
        this.items.set(row.id, li);
      }
      if (li.dataset.signature !== signature) {
        li.dataset.signature = signature;
        this.fill(li, row);
      }
      li.classList.toggle("is-active", row.id === this.selectedId);
      li.setAttribute("aria-selected", row.id === this.selectedId ? "true" : "false");
      const expected = previous ? previous.nextSibling : this.root.firstChild;
      if (expected !== li) this.root.insertBefore(li, expected);
      previous = li;
    }
    this.root.dataset.rows = String(ordered.length);
  }

  fill(li, row) {
    const name = visitorName(row.visitor);
    const unread = row.unread > 0 && row.status === "open";
    li.classList.toggle("has-unread", unread);
    li.dataset.owner = row.owner;
    li.dataset.status = row.status;
    const preview = row.preview;
    const previewText = preview
      ? `${preview.internal ? t("preview.note") : PREVIEW_PREFIX[preview.author] ?? ""}${preview.body || "…"}`
      : t("list.no_messages");
    li.replaceChildren(
      visitorAvatar(row.visitor ?? { id: row.id }),
      el("div", { class: "conv-main" },
        el("div", { class: "conv-top" },
          el("span", { class: "conv-name" }, name),
          row.visitor?.verified ? el("span", { class: "verified", title: t("list.verified") }, "✓") : null,
          el("time", { class: "conv-time", dataset: { ago: row.last_message_at ?? row.updated_at ?? "" } },
            ago(row.last_message_at ?? row.updated_at))),
        this.q && row.snippet
          ? el("div", { class: "conv-preview conv-snippet" }, snippetNodes(row.snippet)) // where the search matched
          : el("div", { class: `conv-preview${preview?.internal ? " is-note" : ""}` }, previewText),
        el("div", { class: "conv-meta" },
          this.chip(row),
          rowLabels(row, this.labels),
          this.sites.size > 1 ? el("span", { class: "conv-site" }, this.sites.get(row.site)?.name ?? "") : null,
          unread ? el("span", { class: "unread", title: t("list.unread", { count: count(row.unread) }) }, count(row.unread)) : null)),
    );
  }

  chip(row) {
    if (row.status === "resolved") return el("span", { class: "chip chip-resolved" }, t("chip.resolved"));
    if (row.owner === "bot") return el("span", { class: "chip chip-bot" }, t("chip.bot"));
    if (row.owner === "queue") {
      // "Waiting {time}": the time is its own element, so tick() can update it alone.
      const [before, after = ""] = t("chip.waiting").split("{time}");
      return el("span", { class: "chip chip-queue" }, before,
        el("span", { class: "wait", dataset: { since: row.queued_at ?? "" } }, duration(row.queued_at)), after || null);
    }
    const mine = row.assignee?.id === this.me;
    return el("span", { class: `chip chip-agent${mine ? " is-me" : ""}` },
      mine ? t("chip.you") : row.assignee?.name ?? t("chip.agent"));
  }

  /** Refresh relative times and waiting times without touching anything else. */
  tick() {
    const now = Date.now();
    for (const node of this.root.querySelectorAll("[data-ago]")) node.textContent = ago(node.dataset.ago, now);
    for (const node of this.root.querySelectorAll("[data-since]")) node.textContent = duration(node.dataset.since, now);
  }
}
