/**
 * The small Markdown the bot may write — paragraphs, lists, headings, bold, italic, inline
 * and fenced code, links — parsed to a tree and built as DOM nodes. Text only ever becomes
 * text nodes and the only attribute taken from the text is a checked link href, so no HTML
 * in a reply (an <img onerror>, a <script>) can run; unsafe links render as plain text.
 */

const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:"]);
export const LINK_REL = "noopener noreferrer nofollow";

// A path from the root of Parley's own origin ("/help/demo-shop/3/"): the help-center pages the bot cites.
// Not "//host" (another host) nor "/\\host" (browsers read a backslash as a slash).
const ROOT_PATH = /^\/(?![/\\])/;

/** The origin of the page running this, if it is a web origin (the widget frame is served by Parley). */
function ownOrigin() {
  const origin = globalThis.location?.origin;
  return typeof origin === "string" && /^https?:\/\//.test(origin) ? origin : null;
}

/**
 * The normalised href when `raw` is an absolute http, https or mailto URL, or a root-relative path
 * resolved against `base` (Parley's origin; by default the page's own); null for anything else.
 */
export function safeHref(raw, { base = ownOrigin() } = {}) {
  const text = String(raw ?? "").trim();
  if (!text) return null;
  const rooted = ROOT_PATH.test(text);
  if (rooted && !base) return null;
  let url;
  try {
    // Other relative forms ("returns", "#top", "?q") throw without a base: their meaning is unclear.
    url = rooted ? new URL(text, base) : new URL(text);
  } catch {
    return null;
  }
  if (!SAFE_SCHEMES.has(url.protocol)) return null;
  if (url.protocol !== "mailto:" && !url.hostname) return null;
  if (rooted && url.origin !== originOf(base)) return null; // "/\t/evil.example" parses as "//evil.example"
  return url.href;
}

function originOf(base) {
  try {
    return new URL(base).origin;
  } catch {
    return null;
  }
}

// ---- blocks ---------------------------------------------------------------------

const FENCE = /^ {0,3}(```|~~~)/;
const HEADING = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/;
const ITEM = /^\s*(?:([-*+])|(\d{1,9})[.)])\s+(.*)$/;

/** Blocks of `text`: {type: "p"|"heading", text} | {type: "list", ordered, start, items: [text]} | {type: "code", text}. */
export function parseBlocks(text) {
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  const blocks = [];
  let paragraph = null;
  let list = null;
  const close = () => {
    paragraph = null;
    list = null;
  };
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      close();
      const body = [];
      // A fence still open (the reply is streaming) runs to the end of the text.
      for (i += 1; i < lines.length && !lines[i].trimStart().startsWith(fence[1]); i += 1) body.push(lines[i]);
      blocks.push({ type: "code", text: body.join("\n") });
      continue;
    }
    if (!line.trim()) {
      close();
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      close();
      blocks.push({ type: "heading", text: heading[1] });
      continue;
    }
    const item = ITEM.exec(line);
    if (item) {
      const ordered = item[2] !== undefined;
      if (!list || list.ordered !== ordered) {
        paragraph = null;
        list = { type: "list", ordered, start: ordered ? Number(item[2]) : 1, items: [] };
        blocks.push(list);
      }
      list.items.push(item[3]);
      continue;
    }
    if (list) {
      list.items[list.items.length - 1] += `\n${line.trim()}`; // a continuation line of the last item
    } else if (paragraph) {
      paragraph.text += `\n${line}`;
    } else {
      paragraph = { type: "p", text: line };
      blocks.push(paragraph);
    }
  }
  return blocks;
}

// ---- inlines --------------------------------------------------------------------

const ESCAPABLE = /[\\`*_[\]()#+\-.!<>~|{}]/;
const BARE_URL = /^(?:https?:\/\/|mailto:)[^\s<>"'\u3000-\u303f\uff00-\uffef]+/i;
const TRAILING = /[.,;:!?'"*_]$/;
const WORD = /[\p{L}\p{N}]/u;

/**
 * Inline nodes: {type: "text", text} | {type: "br"} | {type: "code", text} | {type: "strong"|"em", children} |
 * {type: "link", href, children}. With `partial` (a reply still streaming, or cut short) an emphasis that
 * is opened but not yet closed runs to the end, so "**Ship" shows as bold rather than as asterisks.
 * `base` is the origin root-relative links resolve against (see safeHref).
 */
export function parseInline(text, { links = true, partial = false, base = ownOrigin() } = {}) {
  const src = String(text ?? "");
  const out = [];
  let buffer = "";
  const flush = () => {
    if (buffer) out.push({ type: "text", text: buffer });
    buffer = "";
  };
  let i = 0;
  while (i < src.length) {
    const ch = src[i];
    if (ch === "\\" && ESCAPABLE.test(src[i + 1] ?? "")) {
      buffer += src[i + 1];
      i += 2;
      continue;
    }
    if (ch === "\n") {
      flush();
      out.push({ type: "br" });
      i += 1;
      continue;
    }
    if (ch === "`") {
      const end = src.indexOf("`", i + 1);
      if (end > i + 1) {
        flush();
        out.push({ type: "code", text: src.slice(i + 1, end) });
        i = end + 1;
        continue;
      }
    }
    if (ch === "*" || ch === "_") {
      const delimiter = src[i + 1] === ch ? ch + ch : ch;
      let end = closingDelimiter(src, i, delimiter);
      if (end < 0 && partial && opensAt(src, i, delimiter)) end = src.length;
      if (end > 0) {
        flush();
        const inner = parseInline(src.slice(i + delimiter.length, end), { links, partial, base });
        out.push({ type: delimiter.length === 2 ? "strong" : "em", children: inner });
        i = end + delimiter.length;
      } else {
        buffer += delimiter;
        i += delimiter.length;
      }
      continue;
    }
    if (ch === "[") {
      const link = bracketLink(src, i);
      if (link) {
        flush();
        const children = parseInline(link.label, { links: false, partial, base });
        const href = links ? safeHref(link.target, { base }) : null;
        if (href) out.push({ type: "link", href, children });
        else out.push(...children); // an unsafe or nested link keeps only its words, inert
        i = link.end;
        continue;
      }
    }
    if (ch === "<") {
      const end = src.indexOf(">", i + 1);
      // An autolink is an absolute URL (CommonMark): "</script>" or "</p>" stays text, not a link to a path.
      const href = links && end > 0 ? safeHref(src.slice(i + 1, end), { base: null }) : null;
      if (href && !/\s/.test(src.slice(i + 1, end))) {
        flush();
        out.push({ type: "link", href, children: [{ type: "text", text: src.slice(i + 1, end) }] });
        i = end + 1;
        continue;
      }
    }
    if (links && (ch === "h" || ch === "H" || ch === "m" || ch === "M") && !WORD.test(src[i - 1] ?? "")) {
      const bare = bareUrl(src.slice(i));
      if (bare) {
        flush();
        const href = safeHref(bare);
        out.push(href ? { type: "link", href, children: [{ type: "text", text: bare }] } : { type: "text", text: bare });
        i += bare.length;
        continue;
      }
    }
    buffer += ch;
    i += 1;
  }
  flush();
  return out;
}

/** True when the delimiter at `start` can open emphasis: text follows at once, and "_" is not inside a word. */
function opensAt(src, start, delimiter) {
  const from = start + delimiter.length;
  if (from >= src.length || /\s/.test(src[from])) return false;
  return !(delimiter[0] === "_" && WORD.test(src[start - 1] ?? "")); // snake_case is a name, not emphasis
}

/** Where the emphasis opened at `start` closes, or -1 when it does not (then it is plain text). */
function closingDelimiter(src, start, delimiter) {
  const from = start + delimiter.length;
  if (!opensAt(src, start, delimiter)) return -1;
  for (let j = src.indexOf(delimiter, from + 1); j > 0; j = src.indexOf(delimiter, j + 1)) {
    if (delimiter.length === 1 && (src[j + 1] === delimiter || src[j - 1] === delimiter)) {
      j += src[j + 1] === delimiter ? 1 : 0; // part of a double delimiter: step over it
      continue;
    }
    if (/\s/.test(src[j - 1])) continue;
    if (delimiter[0] === "_" && WORD.test(src[j + delimiter.length] ?? "")) continue;
    return j;
  }
  return -1;
}

/** `[label](target "title")` starting at `start`: its parts and where it ends, or null. */
function bracketLink(src, start) {
  let depth = 0;
  let close = -1;
  for (let j = start; j < src.length; j += 1) {
    if (src[j] === "\\") j += 1;
    else if (src[j] === "[") depth += 1;
    else if (src[j] === "]" && --depth === 0) {
      close = j;
      break;
    }
  }
  if (close < 0 || src[close + 1] !== "(") return null;
  depth = 0;
  for (let j = close + 1; j < src.length; j += 1) {
    if (src[j] === "(") depth += 1;
    else if (src[j] === ")" && --depth === 0) {
      let target = src.slice(close + 2, j).trim().replace(/\s+(["']).*\1$/, "");
      if (target.startsWith("<") && target.endsWith(">")) target = target.slice(1, -1);
      return { label: src.slice(start + 1, close), target, end: j + 1 };
    }
  }
  return null;
}

/** A bare URL at the start of `text`, minus trailing punctuation and unbalanced closing brackets. */
function bareUrl(text) {
  const match = BARE_URL.exec(text);
  if (!match) return null;
  let url = match[0];
  for (;;) {
    if (TRAILING.test(url)) url = url.slice(0, -1);
    else if (url.endsWith(")") && count(url, "(") < count(url, ")")) url = url.slice(0, -1);
    else break;
  }
  return /^(?:https?:\/\/|mailto:)./i.test(url) ? url : null;
}

function count(text, ch) {
  return text.split(ch).length - 1;
}

// ---- DOM ------------------------------------------------------------------------

/**
 * `text` as a DocumentFragment of safe nodes, built with `doc` (the page's document by default);
 * `partial` for a reply that is still streaming or was cut short, `base` for root-relative links
 * (see parseInline). Every link opens in a new tab, so the chat stays where it was.
 */
export function renderMarkdown(text, doc = globalThis.document, { partial = false, base = ownOrigin() } = {}) {
  const fragment = doc.createDocumentFragment();
  const options = { partial, base };
  for (const block of parseBlocks(text)) fragment.appendChild(renderBlock(block, doc, options));
  return fragment;
}

function renderBlock(block, doc, options) {
  if (block.type === "code") {
    const pre = doc.createElement("pre");
    const code = doc.createElement("code");
    code.appendChild(doc.createTextNode(block.text));
    pre.appendChild(code);
    return pre;
  }
  if (block.type === "list") {
    const list = doc.createElement(block.ordered ? "ol" : "ul");
    if (block.ordered && block.start !== 1) list.setAttribute("start", String(block.start));
    for (const item of block.items) list.appendChild(withInlines(doc.createElement("li"), item, doc, options));
    return list;
  }
  const paragraph = doc.createElement("p");
  if (block.type === "heading") {
    paragraph.setAttribute("class", "md-heading");
    paragraph.appendChild(withInlines(doc.createElement("strong"), block.text, doc, options));
    return paragraph;
  }
  return withInlines(paragraph, block.text, doc, options);
}

function withInlines(parent, text, doc, { partial, base }) {
  appendInlines(parent, parseInline(text, { partial, base }), doc);
  return parent;
}

const TAGS = { strong: "strong", em: "em" };

function appendInlines(parent, nodes, doc) {
  for (const node of nodes) {
    if (node.type === "text") {
      parent.appendChild(doc.createTextNode(node.text));
    } else if (node.type === "br") {
      parent.appendChild(doc.createElement("br"));
    } else if (node.type === "code") {
      const code = doc.createElement("code");
      code.appendChild(doc.createTextNode(node.text));
      parent.appendChild(code);
    } else if (node.type === "link") {
      const anchor = doc.createElement("a");
      anchor.setAttribute("href", node.href);
      anchor.setAttribute("rel", LINK_REL);
      anchor.setAttribute("target", "_blank");
      appendInlines(anchor, node.children, doc);
      parent.appendChild(anchor);
    } else if (TAGS[node.type]) {
      const element = doc.createElement(TAGS[node.type]);
      appendInlines(element, node.children, doc);
      parent.appendChild(element);
    }
  }
}
