/**
 * Labels: the sites' labels as GET /agent/api/labels lists them, the chips a conversation wears,
 * and the open conversation's label bar (chips with a remove button, and an input that suggests
 * the site's labels and adds one with Enter). Changes go over the socket as `label.add` /
 * `label.remove`; the chips change only when `conversation.updated` says so, for every agent alike.
 */

import { t } from "./i18n.js";
import { el, getJSON } from "./util.js";

export const LABEL_TEXT = {
  filterAll: t("labels.all"),
  remove: (name) => t("labels.remove", { name }),
  create: (name) => t("labels.create", { name }),
  tooLong: (max) => t("labels.too_long", { max }),
  refused: (detail) => t("labels.refused", { detail }),
  more: (n) => t("labels.more", { count: n }),
  emptyFiltered: (name) => t("labels.empty_filtered", { name }),
};

export const MAX_LABEL_CHARS = 40;
const MAX_SUGGESTIONS = 8;
const MAX_ROW_LABELS = 2; // a list row shows this many chips, then "+n"
const STALE_MS = 5000; // focusing the input reloads labels older than this

/** A label name as the server stores it (chat/services/labels.py): trimmed, lower case, spaces as "-". */
export function cleanLabel(text) {
  return String(text ?? "").trim().toLowerCase().replace(/\s+/g, "-");
}

/** One label chip; with `onRemove`, it carries a × button named for screen readers. */
export function labelChip(name, { color = "", small = false, onRemove = null } = {}) {
  return el("span", {
    class: `label${small ? " label-sm" : ""}${color ? " has-color" : ""}`,
    style: color ? `--label:${color}` : null,
    dataset: { label: name },
  }, el("span", { class: "label-name" }, name),
  onRemove ? el("button", {
    type: "button", class: "label-remove", "aria-label": LABEL_TEXT.remove(name), title: LABEL_TEXT.remove(name),
    onclick: (event) => {
      event.stopPropagation();
      onRemove(name);
    },
  }, "×") : null);
}

/** The labels of the agent's sites, reloaded on demand; listeners hear every reload. */
export class LabelStore {
  constructor(api) {
    this.api = api;
    this.labels = []; // [{site, name, color, count}]
    this.version = 0;
    this.loadedAt = 0;
    this.pending = null;
    this.listeners = new Set();
  }

  onChange(fn) {
    this.listeners.add(fn);
  }

  /** Fetch the labels (one request at a time; a call during a fetch waits for it). */
  load() {
    if (!this.pending) {
      this.pending = getJSON(`${this.api}labels`).then((data) => {
        this.labels = data.labels ?? [];
        this.loadedAt = Date.now();
        this.version += 1;
        for (const fn of this.listeners) fn();
      }).catch(() => {
        /* suggestions and the filter keep what they had; the next reload retries */
      }).finally(() => {
        this.pending = null;
      });
    }
    return this.pending;
  }

  loadIfStale() {
    return Date.now() - this.loadedAt > STALE_MS ? this.load() : Promise.resolve();
  }

  /** A site's labels, by name. */
  forSite(site) {
    return this.labels.filter((l) => l.site === site);
  }

  has(site, name) {
    return this.labels.some((l) => l.site === site && l.name === name);
  }

  color(site, name) {
    return this.labels.find((l) => l.site === site && l.name === name)?.color ?? "";
  }

  /** Label names over the sites shown (one site, or all), with their open counts summed, for the filter. */
  names(site = null) {
    const counts = new Map();
    for (const l of this.labels) {
      if (site != null && l.site !== site) continue;
      counts.set(l.name, (counts.get(l.name) ?? 0) + l.count);
    }
    return [...counts].map(([name, count]) => ({ name, count })).sort((a, b) => a.name.localeCompare(b.name));
  }
}

/** The small chips of a list row: the first few labels, then "+n". */
export function rowLabels(row, store) {
  const names = row.labels ?? [];
  if (!names.length) return null;
  const shown = names.slice(0, MAX_ROW_LABELS);
  return el("span", { class: "conv-labels" },
    ...shown.map((name) => labelChip(name, { small: true, color: store.color(row.site, name) })),
    names.length > shown.length
      ? el("span", { class: "label label-sm label-more", title: names.slice(MAX_ROW_LABELS).join(", ") },
        LABEL_TEXT.more(names.length - shown.length))
      : null);
}

/**
 * The open conversation's label bar: chips, and a combobox input. Keys in the input: Enter adds
 * the highlighted suggestion (or the typed name), ↑/↓ move through suggestions, Backspace on an
 * empty input removes the last label, Escape leaves.
 */
export class LabelEditor {
  constructor({ store, chips, input, suggestions, onAdd, onRemove, onRefuse }) {
    this.store = store;
    this.chips = chips;
    this.input = input;
    this.box = suggestions;
    this.onAdd = onAdd; // (conversation id, name)
    this.onRemove = onRemove;
    this.onRefuse = onRefuse; // (text): tell the agent why nothing was sent
    this.row = null;
    this.options = []; // [{name, create}]
    this.at = -1;
    this.shown = ""; // what the chips show, to leave the DOM alone when nothing changed
    input.addEventListener("keydown", (event) => this.onKey(event));
    input.addEventListener("input", () => this.suggest());
    input.addEventListener("focus", () => {
      this.suggest();
      this.store.loadIfStale();
    });
    input.addEventListener("blur", () => this.close());
    store.onChange(() => {
      this.shown = "";
      this.render();
    });
  }

  get labels() {
    return this.row?.labels ?? [];
  }

  /** Show a conversation's labels (called on every header render; cheap when nothing changed). */
  show(row) {
    if (row?.id !== this.row?.id) {
      this.input.value = "";
      this.close();
    }
    this.row = row;
    // A label we do not know yet (another agent just created it): the suggestions and filter need it.
    if (this.labels.some((name) => !this.store.has(row.site, name))) this.store.load();
    this.render();
  }

  render() {
    const key = JSON.stringify([this.row?.id, this.labels, this.store.version]);
    if (key === this.shown) return;
    this.shown = key;
    const site = this.row?.site;
    const focused = this.chips.contains(document.activeElement) ? document.activeElement.closest("[data-label]")?.dataset.label : null;
    this.chips.replaceChildren(...this.labels.map((name) => el("li", {},
      labelChip(name, { color: this.store.color(site, name), onRemove: (n) => this.remove(n) }))));
    if (focused != null) {
      // A keyboard user removed a chip with its ×: keep them in the label bar rather than dropping focus.
      const again = [...this.chips.querySelectorAll("[data-label]")].find((chip) => chip.dataset.label === focused);
      (again?.querySelector(".label-remove") ?? this.input).focus();
    }
    this.suggest(); // a label just added or removed leaves or rejoins the suggestions
  }

  focus() {
    if (!this.row) return;
    this.input.focus();
  }

  add(text) {
    const name = cleanLabel(text);
    if (!name || !this.row) return;
    if (name.length > MAX_LABEL_CHARS) {
      this.onRefuse(LABEL_TEXT.tooLong(MAX_LABEL_CHARS));
      return;
    }
    this.input.value = "";
    this.close();
    if (!this.labels.includes(name)) this.onAdd(this.row.id, name);
    this.suggest();
  }

  remove(name) {
    if (this.row && this.labels.includes(name)) this.onRemove(this.row.id, name);
  }

  onKey(event) {
    if (event.isComposing) return;
    const open = !this.box.hidden && this.options.length > 0;
    switch (event.key) {
      case "Enter": {
        event.preventDefault();
        const chosen = open && this.at >= 0 ? this.options[this.at] : null;
        this.add(chosen ? chosen.name : this.input.value);
        break;
      }
      case "ArrowDown":
      case "ArrowUp": {
        if (!this.options.length) return;
        event.preventDefault();
        const n = this.options.length;
        this.at = event.key === "ArrowDown" ? (this.at + 1) % n : (this.at <= 0 ? n - 1 : this.at - 1);
        this.renderOptions();
        break;
      }
      case "Backspace":
        if (this.input.value === "" && this.labels.length) {
          event.preventDefault();
          this.remove(this.labels[this.labels.length - 1]);
        }
        break;
      case "Escape":
        event.preventDefault(); // the desk's shortcuts leave it to us
        this.input.value = "";
        this.close();
        this.input.blur();
        break;
      default:
    }
  }

  /** Suggest the site's labels not worn yet: names starting with the text first, then containing it. */
  suggest() {
    if (!this.row || document.activeElement !== this.input) return;
    const typed = cleanLabel(this.input.value);
    const worn = new Set(this.labels);
    const free = this.store.forSite(this.row.site).filter((l) => !worn.has(l.name));
    const starts = free.filter((l) => l.name.startsWith(typed));
    const contains = typed ? free.filter((l) => !l.name.startsWith(typed) && l.name.includes(typed)) : [];
    this.options = [...starts, ...contains].slice(0, MAX_SUGGESTIONS)
      .map((l) => ({ name: l.name, color: l.color, create: false }));
    const known = this.store.has(this.row.site, typed);
    if (typed && !known && !worn.has(typed) && typed.length <= MAX_LABEL_CHARS) this.options.push({ name: typed, color: "", create: true });
    this.at = typed && this.options.length ? 0 : -1; // typing highlights the best match; Enter takes it
    this.renderOptions();
  }

  renderOptions() {
    const open = this.options.length > 0;
    this.box.hidden = !open;
    this.input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) {
      this.input.removeAttribute("aria-activedescendant");
      this.box.replaceChildren();
      return;
    }
    this.box.replaceChildren(...this.options.map((option, i) => el("li", {
      id: `label-option-${i}`, role: "option", class: `label-option${i === this.at ? " is-active" : ""}${option.create ? " is-create" : ""}`,
      "aria-selected": i === this.at ? "true" : "false", dataset: { label: option.name },
      style: option.color ? `--label:${option.color}` : null,
      onmousedown: (event) => {
        event.preventDefault(); // keep the input focused
        this.add(option.name);
      },
    }, option.create ? LABEL_TEXT.create(option.name) : option.name)));
    if (this.at >= 0) {
      this.input.setAttribute("aria-activedescendant", `label-option-${this.at}`);
      this.box.children[this.at]?.scrollIntoView({ block: "nearest" });
    } else {
      this.input.removeAttribute("aria-activedescendant");
    }
  }

  close() {
    this.options = [];
    this.at = -1;
    this.renderOptions();
  }
}
