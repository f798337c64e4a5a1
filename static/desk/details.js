/**
 * The right pane: who the customer is (name, email, verified or not, current page, browser,
 * first and last seen), their satisfaction rating of this conversation, and their earlier
 * conversations.
 */

import { t } from "./i18n.js";
import { count, el, longTime, relative, visitorAvatar, visitorName } from "./util.js";

const $ = (id) => document.getElementById(id);

// The mouth of the face the customer picked, 1 (worst) to 5 (best), and what each means.
const RATING_MOUTHS = {
  1: "M8 17.5q4-4.5 8 0", 2: "M8.5 16.5q3.5-2.5 7 0", 3: "M8.5 15.5h7", 4: "M8.5 14.5q3.5 3 7 0", 5: "M8 14q4 5 8 0",
};
const RATING_WORDS = { 1: t("rating.1"), 2: t("rating.2"), 3: t("rating.3"), 4: t("rating.4"), 5: t("rating.5") };

const STATUS_TEXT = (row, me) => {
  if (row.status === "resolved") return t("details.status_resolved");
  if (row.owner === "bot") return t("details.status_bot");
  if (row.owner === "queue") return t("details.status_queue");
  return row.assignee?.id === me ? t("chip.assigned_to_you") : t("chip.with", { name: row.assignee?.name ?? t("chip.an_agent") });
};

export class DetailsPane {
  constructor({ me, sites, onOpen }) {
    this.me = me;
    this.sites = sites;
    this.onOpen = onOpen;
    this.data = null;
    this.row = null;
  }

  clear() {
    this.data = null;
    $("details").hidden = true;
    $("details-empty").hidden = false;
  }

  /** Show what the list already knows at once; the customer endpoint fills in the rest. */
  showLoading(row) {
    this.row = row;
    this.data = null;
    this.render();
  }

  show(data, row) {
    this.data = data;
    this.row = row ?? this.row;
    this.render();
  }

  update(row) {
    if (!this.row || row.id !== this.row.id) return;
    this.row = { ...this.row, ...row };
    this.render();
  }

  render() {
    const row = this.row;
    if (!row) return this.clear();
    const visitor = { ...(row.visitor ?? {}), ...(this.data?.visitor ?? {}) };
    const name = visitorName(visitor);
    const box = $("details");
    $("details-empty").hidden = true;
    box.hidden = false;
    const dl = (...pairs) => el("dl", { class: "facts" }, ...pairs.filter(Boolean).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    const page = safeUrl(visitor.page_url)
      ? el("a", { href: visitor.page_url, target: "_blank", rel: "noopener noreferrer", title: visitor.page_url },
        prettyUrl(visitor.page_url))
      : el("span", { class: "muted" }, t("details.unknown"));
    const loading = this.data === null;
    const earlier = this.data?.earlier ?? [];
    box.replaceChildren(
      el("div", { class: "profile" },
        visitorAvatar({ ...visitor, id: visitor.id ?? row.id }, "avatar-lg"),
        el("h2", { class: "profile-name", id: "details-name" }, name),
        visitor.email ? el("a", { class: "profile-email", href: `mailto:${visitor.email}` }, visitor.email)
          : el("span", { class: "profile-email muted" }, t("details.no_email")),
        visitor.verified
          ? el("span", { class: "badge badge-verified", id: "details-verified", title: t("details.verified_title") }, t("details.verified"))
          : el("span", { class: "badge badge-anon", id: "details-verified", title: t("details.not_verified_title") },
            t("details.not_verified"))),
      el("section", { class: "details-section" },
        el("h3", {}, t("details.visit")),
        dl([t("details.current_page"), page],
          [t("details.browser"), loading ? "…" : visitor.browser || el("span", { class: "muted" }, t("details.unknown"))],
          [t("details.first_seen"), loading ? "…" : longTime(visitor.first_seen)],
          [t("details.last_seen"), loading ? "…" : `${longTime(visitor.last_seen)} (${relative(visitor.last_seen)})`],
          this.sites.size > 1 ? [t("details.site"), this.sites.get(row.site)?.name ?? ""] : null)),
      el("section", { class: "details-section" },
        el("h3", {}, t("details.this_conversation")),
        dl([t("details.status"), STATUS_TEXT(row, this.me)],
          [t("details.started"), longTime(row.created_at ?? this.data?.started_at)],
          row.queued_at ? [t("details.queued"), longTime(row.queued_at)] : null,
          [t("details.messages"), count(row.last_seq ?? 0)])),
      ...[ratingSection(row.rating)].filter(Boolean), // replaceChildren would write a null out as "null"
      el("section", { class: "details-section" },
        el("h3", {}, t("details.earlier"), this.data ? el("span", { class: "count" }, count(earlier.length)) : null),
        loading ? el("p", { class: "muted" }, t("details.loading"))
          : earlier.length ? el("ul", { class: "earlier" }, ...earlier.map((c) => el("li", {},
            el("button", { type: "button", class: "earlier-item", onclick: () => this.onOpen(c.id), dataset: { earlierId: c.id } },
              el("span", { class: "earlier-top" },
                el("span", {}, longTime(c.created_at)),
                el("span", { class: `chip chip-${c.status === "resolved" ? "resolved" : c.owner === "bot" ? "bot" : c.owner}` },
                  c.status === "resolved" ? t("chip.resolved") : t("chip.open"))),
              el("span", { class: "earlier-preview" }, c.preview?.body ?? t("details.no_messages"))))))
            : el("p", { class: "muted" }, t("details.first_conversation"))),
    );
    if (visitor.user_agent) box.querySelector(".facts dd:nth-of-type(2)")?.setAttribute("title", visitor.user_agent);
    return undefined;
  }
}

/** The customer's rating of this conversation: face, score, comment and when; nothing before they rate. */
function ratingSection(rating) {
  if (!rating || !RATING_MOUTHS[rating.score]) return null;
  const comment = (rating.comment ?? "").trim();
  return el("section", { class: "details-section", id: "details-rating", dataset: { score: rating.score } },
    el("h3", {}, t("details.satisfaction")),
    el("div", { class: `rating rating-${rating.score}` },
      face(rating.score),
      el("span", { class: "rating-text" },
        el("strong", { class: "rating-score" }, `${rating.score}/5`),
        el("span", { class: "rating-word" }, RATING_WORDS[rating.score]))),
    comment ? el("blockquote", { class: "rating-comment" }, comment) : null,
    el("p", { class: "rating-when muted" }, t("details.rated", { when: longTime(rating.rated_at), ago: relative(rating.rated_at) })));
}

/** A drawn face (no emoji font needed): a circle, two eyes, and a mouth from a frown to a grin. */
function face(score) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "rating-face");
  svg.setAttribute("aria-hidden", "true");
  const shape = (tag, attrs) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    svg.append(node);
  };
  shape("circle", { cx: 12, cy: 12, r: 10 });
  shape("circle", { cx: 9, cy: 10, r: 1, class: "eye" });
  shape("circle", { cx: 15, cy: 10, r: 1, class: "eye" });
  shape("path", { d: RATING_MOUTHS[score] });
  return svg;
}

/** Only http(s) pages become links: a stored URL must never run script when an agent clicks it. */
function safeUrl(url) {
  try {
    return ["http:", "https:"].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

function prettyUrl(url) {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname === "/" ? "" : u.pathname}`;
  } catch {
    return url;
  }
}
