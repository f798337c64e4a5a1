/**
 * The agent desk: wires the socket (live inbox and open conversation), the list endpoints,
 * the three panes, notifications and shortcuts. Plain ES modules, no build step.
 */

import { isBehind, parseCursor } from "../shared/cursors.js";
import { isTracked } from "../shared/events.js";
import { ConversationView } from "./conversation.js";
import { DetailsPane } from "./details.js";
import { t } from "./i18n.js";
import { LABEL_TEXT, LabelEditor, LabelStore } from "./labels.js";
import { ConversationList } from "./list.js";
import {
  alertAgent, askPermission, inBackground, notificationPermission, setTitleCount, unlockAudio,
} from "./notify.js";
import { Panes } from "./panes.js";
import { bindShortcuts } from "./shortcuts.js";
import { DeskSocket } from "./socket.js";
import { Transcript } from "./transcript.js";
import { avatar, count, debounce, el, getJSON, visitorName } from "./util.js";

const $ = (id) => document.getElementById(id);
const boot = JSON.parse($("desk-boot").textContent);
const me = boot.agent.id;
const sites = new Map(boot.sites.map((s) => [s.id, s]));
const API = boot.api;
const VIEWS = ["queue", "mine", "open", "resolved"];
const EMPTY_TEXT = {
  queue: t("list.empty.queue"),
  mine: t("list.empty.mine"),
  open: t("list.empty.open"),
  resolved: t("list.empty.resolved"),
};
const KEEP_TRANSCRIPTS = 15; // transcripts kept in memory, so going back resumes from a cursor
const FRESH_MS = 120000; // only conversations queued this recently count as news
// File links expire (an hour by default, PARLEY_ATTACHMENT_LINK_MAX_AGE); older ones than this are replaced
// by a replay from the start of the conversation, which brings fresh ones.
const FILE_LINKS_FRESH_MS = 30 * 60 * 1000;
const FILE_LINKS_RETRY_MS = 60000; // a broken thumbnail asks for fresh links at most this often

const state = {
  selected: null,
  transcripts: new Map(),
  queue: new Map(boot.sites.map((s) => [s.id, 0])),
  counts: { mine: 0, open: 0, mine_unread: 0 },
  known: new Map(), // id -> {owner, status, unread, assignee}: what we last saw, to tell news from echoes
  myStatus: "offline",
  welcomed: false,
  canned: null,
  cursor: null, // the list's opaque `next` token: where "load more" continues
  listToken: 0,
  readSent: new Map(),
};

const socketUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${boot.socket}`;
const socket = new DeskSocket(socketUrl);

const labels = new LabelStore(API);
const list = new ConversationList({ root: $("conversation-list"), me, sites: boot.sites, labels, onSelect: (id) => select(id) });
const details = new DetailsPane({ me, sites, onOpen: (id) => select(id) });
const labelEditor = new LabelEditor({
  store: labels, chips: $("label-chips"), input: $("label-input"), suggestions: $("label-suggestions"),
  onAdd: (conversation, label) => act("label.add", { conversation, label }),
  onRemove: (conversation, label) => act("label.remove", { conversation, label }),
  onRefuse: (text) => toast(text),
});
const panes = new Panes({
  desk: $("desk"), list: $("conversation-list"), toggle: $("details-toggle"), back: $("conv-back"),
  detailsBack: $("details-back"), detailsClose: $("details-close"),
});
const view = new ConversationView({
  me, meName: boot.agent.name, sites, socket, labels: labelEditor, api: API,
  onAction: (type, extra) => act(type, extra),
  onStaleLinks: (id) => refreshLinks(id),
  loadCanned: () => loadCanned(),
  loadAgents: (site) => getJSON(`${API}agents${site ? `?site=${site}` : ""}`).then((d) => d.agents),
});

// ---- the list ----------------------------------------------------------------------

function listUrl({ cursor = null, ids = null } = {}) {
  const params = new URLSearchParams({ view: list.view });
  if (list.q) params.set("q", list.q);
  if (list.site != null) params.set("site", String(list.site));
  if (list.label) params.set("label", list.label);
  if (ids) params.set("ids", ids.join(","));
  else if (cursor) params.set("cursor", cursor);
  return `${API}conversations?${params}`;
}

async function loadList({ append = false } = {}) {
  const token = ++state.listToken;
  const cursor = append ? state.cursor : null;
  $("conversation-list").setAttribute("aria-busy", "true");
  try {
    const data = await getJSON(listUrl({ cursor }));
    if (token !== state.listToken) return; // a newer view or search replaced this one
    for (const row of data.conversations) remember(row);
    state.cursor = data.next ?? null;
    list.setRows(data.conversations, { append, more: data.more });
    setCounts(data.counts);
    renderListChrome();
  } catch (err) {
    if (err.status === 401) location.assign(`/accounts/login/?next=${encodeURIComponent(location.pathname)}`);
    else toast(t("list.load_failed", { error: err.message }));
  } finally {
    if (token === state.listToken) $("conversation-list").removeAttribute("aria-busy");
  }
}

function renderListChrome() {
  const empty = list.rows.size === 0;
  $("list-empty").hidden = !empty;
  $("list-empty-text").textContent = list.q ? t("list.no_match", { q: list.q })
    : list.label ? LABEL_TEXT.emptyFiltered(list.label) : EMPTY_TEXT[list.view];
  $("load-more").hidden = !list.more;
}

/** Rows whose last message we do not know yet: fetched together, a moment after the burst of events. */
const staleRows = new Set();
const refreshRows = debounce(async () => {
  const ids = [...staleRows];
  staleRows.clear();
  if (!ids.length) return;
  try {
    const data = await getJSON(listUrl({ ids }));
    list.refresh(data.conversations);
    if (state.selected && ids.includes(state.selected)) details.update(list.get(state.selected) ?? {});
  } catch {
    /* the next update or reload fixes the preview */
  }
}, 250);

/**
 * Conversations the label filter may want but whose update did not say their labels (the inbox
 * update of a new message leaves them out): the list endpoint, filtered, answers for them.
 */
const unknownRows = new Set();
const probeRows = debounce(async () => {
  const ids = [...unknownRows];
  unknownRows.clear();
  if (!ids.length || !list.label) return;
  try {
    const data = await getJSON(listUrl({ ids }));
    for (const row of data.conversations) {
      remember(row);
      list.upsert(row);
    }
    renderListChrome();
  } catch {
    /* the next reload shows them */
  }
}, 250);

const refreshCounts = debounce(async () => {
  try {
    const params = new URLSearchParams();
    if (list.site != null) params.set("site", String(list.site));
    if (list.label) params.set("label", list.label); // the tabs count what the list shows
    setCounts((await getJSON(`${API}counts?${params}`)).counts);
  } catch {
    /* counts catch up on the next change */
  }
}, 400);

const reloadSearch = debounce(() => loadList(), 500);
const reloadLabels = debounce(() => labels.load(), 600);

/** The label filter above the list: the labels of the sites shown, with their open counts. */
function renderLabelFilter() {
  const select = $("label-filter");
  const names = labels.names(list.site);
  if (list.label && !names.some((l) => l.name === list.label)) names.unshift({ name: list.label, count: 0 });
  select.replaceChildren(el("option", { value: "" }, LABEL_TEXT.filterAll),
    ...names.map((l) => el("option", { value: l.name },
      l.count ? t("list.label_count", { name: l.name, count: count(l.count) }) : l.name)));
  select.value = list.label;
  select.hidden = names.length === 0;
  select.classList.toggle("is-active", Boolean(list.label));
}

function setLabelFilter(name) {
  if (name === list.label) return;
  list.label = name;
  renderLabelFilter();
  list.setRows([]);
  $("list-empty").hidden = true;
  loadList();
}

function setCounts(counts) {
  if (!counts) return;
  state.counts = counts;
  for (const node of document.querySelectorAll(".tabs [data-count]")) {
    const n = counts[node.dataset.count] ?? 0;
    node.textContent = n ? count(n) : "";
  }
  renderTitle();
}

function queueTotal() {
  let total = 0;
  for (const [site, count] of state.queue) if (list.site == null || list.site === site) total += count;
  return total;
}

function renderQueue() {
  const total = queueTotal();
  const badge = $("queue-count");
  badge.textContent = count(total);
  badge.classList.toggle("is-zero", total === 0);
  renderTitle();
}

/** "(n) Parley desk": people waiting in the queue plus my conversations with unread messages. */
function renderTitle() {
  setTitleCount(queueTotal() + (state.counts.mine_unread ?? 0));
}

function setView(name) {
  if (!VIEWS.includes(name)) return;
  list.view = name;
  for (const tab of document.querySelectorAll("[data-view]")) {
    tab.setAttribute("aria-selected", tab.dataset.view === name ? "true" : "false");
    tab.classList.toggle("is-active", tab.dataset.view === name);
  }
  list.setRows([]);
  renderListChrome();
  $("list-empty").hidden = true;
  loadList();
}

// ---- selecting a conversation ------------------------------------------------------------

function transcriptFor(id) {
  let transcript = state.transcripts.get(id);
  if (transcript) {
    state.transcripts.delete(id); // re-insert: the Map's order is our least-recently-used order
  } else {
    transcript = new Transcript(id);
  }
  state.transcripts.set(id, transcript);
  while (state.transcripts.size > KEEP_TRANSCRIPTS) state.transcripts.delete(state.transcripts.keys().next().value);
  return transcript;
}

/**
 * Subscribe from our cursor, or from the start when the file links we hold are old (`fromStart`, or
 * older than FILE_LINKS_FRESH_MS): a replay carries every message's files with fresh links.
 */
function subscribe(transcript, { fromStart = false } = {}) {
  transcript.resyncing = true;
  const again = fromStart || (transcript.started && transcript.staleFiles(FILE_LINKS_FRESH_MS));
  transcript.refreshing = again;
  if (again) transcript.refreshedAt = Date.now();
  socket.send({ type: "subscribe", conversation: transcript.id, cursor: again ? "0.0" : transcript.cursor() });
}

/** A file link stopped working (expired): ask for fresh ones, at most once a minute per conversation. */
function refreshLinks(id) {
  const transcript = state.transcripts.get(id);
  if (!transcript?.started || transcript.resyncing || id !== state.selected) return;
  if (Date.now() - (transcript.refreshedAt ?? 0) < FILE_LINKS_RETRY_MS) return;
  subscribe(transcript, { fromStart: true });
}

async function select(id) {
  if (!id) return;
  const previous = state.selected;
  if (previous && previous !== id) socket.send({ type: "unsubscribe", conversation: previous });
  state.selected = id;
  history.replaceState(null, "", `#conversation=${id}`);
  panes.showConversation(); // before list.select: the list's scroll position is kept as the agent left it
  list.select(id);
  const transcript = transcriptFor(id);
  const row = list.get(id) ?? transcript.conversation ?? { id };
  view.show(transcript, row);
  details.showLoading(row);
  subscribe(transcript);
  try {
    const data = await getJSON(`${API}conversations/${id}/customer`);
    if (state.selected === id) details.show(data, list.get(id) ?? view.row);
  } catch (err) {
    if (state.selected === id && err.status === 404) {
      toast(t("error.not_found"));
      clearSelection();
    }
  }
}

function clearSelection() {
  if (state.selected) socket.send({ type: "unsubscribe", conversation: state.selected });
  state.selected = null;
  history.replaceState(null, "", location.pathname);
  list.select(null);
  view.clear();
  details.clear();
  panes.showList();
}

/** Tell the server (and the customer) the agent has read the open conversation, when they can see it. */
function markRead() {
  const transcript = state.selected && state.transcripts.get(state.selected);
  if (!transcript?.started || inBackground()) return;
  const last = transcript.lastSeq();
  if (last > (state.readSent.get(transcript.id) ?? 0) && socket.send({ type: "read", conversation: transcript.id, seq: last })) {
    state.readSent.set(transcript.id, last);
  }
}

// ---- socket events -------------------------------------------------------------------

socket.on("welcome", (frame) => {
  const again = state.welcomed;
  state.welcomed = true;
  setMyStatus(frame.agent.status);
  for (const q of frame.queues ?? []) state.queue.set(q.site, q.count);
  renderQueue();
  if (again) {
    loadList(); // inbox events may have been missed while the link was down
    refreshCounts();
    labels.load();
  }
  if (state.selected) {
    const transcript = state.transcripts.get(state.selected);
    if (transcript) subscribe(transcript);
  }
});

socket.on("subscribed", (frame) => {
  const transcript = state.transcripts.get(frame.conversation?.id);
  if (!transcript) return;
  transcript.applyReplay(frame);
  if (frame.more) {
    // The replay was capped: continue from where it ended (a refresh from the start, from the replay's cursor).
    if (transcript.refreshing && frame.cursor) socket.send({ type: "subscribe", conversation: transcript.id, cursor: frame.cursor });
    else subscribe(transcript);
    return;
  }
  transcript.resyncing = false;
  transcript.refreshing = false;
  if (transcript.id === state.selected) {
    view.update(frame.conversation);
    details.update(frame.conversation);
    view.renderAll();
    markRead();
  }
});

// A pong names the server's head cursor of each conversation we follow; behind it, events were
// lost without a visible gap (the channel layer restarted and forgot our groups): subscribe again.
socket.on("pong", (frame) => {
  for (const [id, head] of Object.entries(frame.heads ?? {})) {
    const transcript = state.transcripts.get(Number(id));
    if (!transcript?.started || transcript.resyncing) continue;
    if (isBehind(parseCursor(transcript.cursor()), parseCursor(head))) subscribe(transcript);
  }
});

socket.on("*", (frame) => {
  if (!isTracked(frame.type)) return;
  const transcript = state.transcripts.get(frame.conversation);
  if (!transcript?.started) return;
  const { result, entry } = transcript.apply(frame);
  if (result === "gap") {
    if (!transcript.resyncing && transcript.id === state.selected) subscribe(transcript);
    return;
  }
  if (result !== "applied" || transcript.id !== state.selected) return;
  view.renderEntry(entry);
  view.doneTyping(entry.author); // their message arrived: "… is typing" has said what it had to say
  if (entry.author?.kind === "customer") markRead();
});

socket.on("reply.feedback", (frame) => {
  const transcript = state.transcripts.get(frame.conversation);
  const entry = transcript?.started ? transcript.applyFeedback(frame) : null;
  if (entry && transcript.id === state.selected) view.renderEntry(entry);
});

socket.on("conversation.updated", (frame) => {
  const row = frame.conversation;
  notifyIfNews(row);
  const before = list.get(row.id);
  const { row: merged } = list.upsert(row);
  if (list.label && !before && !Array.isArray(row.labels)) {
    unknownRows.add(row.id);
    probeRows();
  }
  if (!before || (row.last_seq ?? 0) > (before.last_seq ?? 0)) {
    if (list.get(row.id)) {
      staleRows.add(row.id);
      refreshRows();
    }
  }
  if (list.q && !before) reloadSearch();
  const seen = state.known.get(row.id);
  if (Array.isArray(row.labels) && (seen ? seen.labels !== JSON.stringify(row.labels)
    || (seen.status !== row.status && row.labels.length) : row.labels.length)) {
    reloadLabels(); // the filter's counts (and a label another agent just created)
  }
  if (!seen || seen.owner !== row.owner || seen.status !== row.status || seen.assignee !== (row.assignee?.id ?? null)
      || (row.assignee?.id === me && seen.unread !== row.unread)) {
    refreshCounts();
  }
  remember(row);
  const transcript = state.transcripts.get(row.id);
  if (transcript) transcript.conversation = { ...(transcript.conversation ?? {}), ...row };
  if (row.id === state.selected) {
    view.update(merged);
    details.update(merged);
  }
  renderListChrome();
});

socket.on("queue", (frame) => {
  state.queue.set(frame.site, frame.count);
  renderQueue();
});

socket.on("presence", (frame) => {
  if (frame.agent?.id === me) setMyStatus(frame.status);
});

socket.on("typing", (frame) => {
  if (frame.conversation === state.selected) view.showTyping(frame);
});

socket.on("read", (frame) => {
  const transcript = state.transcripts.get(frame.conversation);
  if (!transcript || frame.by !== "customer") return;
  transcript.customerReadSeq = Math.max(transcript.customerReadSeq, frame.seq);
  if (frame.conversation === state.selected) view.renderSeen();
});

socket.on("message.ack", (frame) => view.acked(frame));

socket.on("error", (frame) => {
  if (view.refused(frame)) {
    toast(t("error.message_not_sent", { detail: frame.detail }));
    return;
  }
  if (frame.code === "not_streaming") return; // the reply ended on its own a moment ago
  if (frame.ref === "label.add" || frame.ref === "label.remove") {
    toast(LABEL_TEXT.refused(frame.detail || frame.code));
    return;
  }
  if (frame.code === "not_found" && frame.ref === "subscribe") {
    toast(t("error.not_found"));
    clearSelection();
    return;
  }
  toast(frame.detail || t("error.refused"));
});

socket.on("state", ({ state: linkState }) => {
  const badge = $("link-state");
  badge.dataset.state = linkState;
  badge.title = { live: t("link.live"), connecting: t("link.connecting"), reconnecting: t("link.reconnecting") }[linkState]
    ?? linkState;
  if (linkState === "signed-out") location.assign(`/accounts/login/?next=${encodeURIComponent(location.pathname)}`);
  if (linkState === "forbidden") toast(t("error.forbidden"));
  if (linkState !== "live") setMyStatus("offline", { local: true });
});

function remember(row) {
  state.known.set(row.id, {
    owner: row.owner, status: row.status, unread: row.unread ?? 0, assignee: row.assignee?.id ?? null,
    // An update without labels (a new message's) changed none: keep what we knew.
    labels: Array.isArray(row.labels) ? JSON.stringify(row.labels) : state.known.get(row.id)?.labels ?? "[]",
  });
}

/** Beep and notify, in the background only, for a newly queued conversation or a customer message to me. */
function notifyIfNews(row) {
  const seen = state.known.get(row.id);
  const name = visitorName(row.visitor);
  const fresh = (iso) => iso && Date.now() - Date.parse(iso) < FRESH_MS;
  const open = () => select(row.id);
  if (row.status === "open" && row.owner === "queue" && (seen ? seen.owner !== "queue" || seen.status !== "open" : fresh(row.queued_at))) {
    alertAgent({ title: t("notify.waiting_title", { name }), body: t("notify.waiting_body"), tag: `conversation-${row.id}`, onClick: open });
    return;
  }
  const unreadGrew = seen ? row.unread > seen.unread : row.unread > 0 && fresh(row.last_message_at);
  if (row.status === "open" && row.assignee?.id === me && unreadGrew) {
    alertAgent({
      title: t("notify.message_title", { name }), body: t("notify.message_body"), tag: `conversation-${row.id}`, onClick: open,
    });
  }
}

// ---- actions ---------------------------------------------------------------------------

function act(type, extra) {
  if (!socket.send({ type, ...extra })) toast(t("error.not_connected"));
}

function setMyStatus(status, { local = false } = {}) {
  if (!local) state.myStatus = status;
  const shown = local ? status : state.myStatus;
  const button = $("presence");
  button.dataset.status = shown;
  const label = ["online", "away", "offline"].includes(shown) ? t(`presence.${shown}`) : shown;
  button.title = t(shown === "online" ? "presence.go_away" : "presence.go_online", { status: label });
  // The name starts with the initials the button shows (WCAG 2.5.3, label in name), then says the status.
  const initials = button.querySelector(".avatar")?.textContent?.trim();
  button.setAttribute("aria-label", `${initials ? `${initials}, ` : ""}${t("presence.label", { status: label })}`);
}

function togglePresence() {
  const next = state.myStatus === "online" ? "away" : "online";
  if (socket.send({ type: "presence", status: next })) setMyStatus(next);
  else toast(t("error.not_connected"));
}

async function loadCanned() {
  if (!state.canned) {
    state.canned = getJSON(`${API}canned`).then((d) => d.canned).catch(() => {
      state.canned = null;
      return [];
    });
  }
  return state.canned;
}

function toast(text) {
  const node = el("div", { class: "toast", role: "status" }, text);
  $("toasts").append(node);
  setTimeout(() => node.classList.add("is-leaving"), 3800);
  setTimeout(() => node.remove(), 4300);
}

// ---- page wiring -------------------------------------------------------------------------

for (const tab of document.querySelectorAll("[data-view]")) tab.addEventListener("click", () => setView(tab.dataset.view));
$("search").addEventListener("input", debounce(() => {
  list.q = $("search").value.trim();
  loadList();
}, 250));
$("site-filter").addEventListener("change", () => {
  list.site = $("site-filter").value ? Number($("site-filter").value) : null;
  renderQueue();
  renderLabelFilter();
  loadList();
});
$("label-filter").addEventListener("change", () => setLabelFilter($("label-filter").value));
labels.onChange(() => {
  renderLabelFilter();
  list.render(); // the rows' chips take the labels' colours
});
$("load-more").addEventListener("click", () => loadList({ append: true }));
$("presence").addEventListener("click", togglePresence);

const bell = $("notify-enable");
bell.hidden = notificationPermission() !== "default";
bell.addEventListener("click", async () => {
  await askPermission();
  bell.hidden = notificationPermission() !== "default";
});
for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, unlockAudio, { once: true, capture: true });
window.addEventListener("focus", markRead);
document.addEventListener("visibilitychange", markRead);

bindShortcuts({
  j: () => select(list.neighbour(1)),
  ArrowDown: () => select(list.neighbour(1)),
  k: () => select(list.neighbour(-1)),
  ArrowUp: () => select(list.neighbour(-1)),
  r: () => view.id && view.focusComposer(false),
  n: () => view.id && view.focusComposer(true),
  t: () => view.takeOver(),
  h: () => view.handBack(),
  s: () => view.stopBot(),
  a: () => view.assignToMe(),
  e: () => view.resolve(),
  o: () => view.reopen(),
  l: () => view.id && labelEditor.focus(),
  p: () => togglePresence(),
  "/": () => $("search").focus(),
  1: () => setView("queue"),
  2: () => setView("mine"),
  3: () => setView("open"),
  4: () => setView("resolved"),
}, { dialog: $("help-dialog"), openButton: $("help-open"), closeButton: $("help-close") });

setInterval(() => {
  list.tick();
  if (view.row?.owner === "queue") view.renderHeader();
  const open = state.selected && state.transcripts.get(state.selected);
  if (open?.started && !open.resyncing && open.staleFiles(FILE_LINKS_FRESH_MS)) subscribe(open); // links stay fresh
}, 30000);

$("presence").querySelector(".avatar").replaceWith(avatar(boot.agent.name, `agent-${me}`, "avatar-sm"));

const linked = /conversation=(\d+)/.exec(location.hash);
// A link from the reports page (/agent/?label=refund[&site=3]) opens the list filtered by it, in every open
// conversation (the report counts those of a period, some of them resolved).
const linkedFilter = new URLSearchParams(location.search);
const linkedSite = Number(linkedFilter.get("site"));
if (linkedSite && sites.has(linkedSite)) {
  $("site-filter").value = String(linkedSite);
  list.site = linkedSite;
}
if (linkedFilter.get("label")) list.label = linkedFilter.get("label");
setView(list.label ? "open" : "queue");
labels.load();
socket.connect();
if (linked) {
  // Wait for the socket so the subscribe goes out; the selection itself does not need the list.
  const once = () => {
    if (!state.selected) select(Number(linked[1]));
  };
  socket.on("welcome", once);
}
