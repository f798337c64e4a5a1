// @ts-check
// A search result's snippet as DOM nodes: plain text with the matches in <mark>, never parsed as HTML.

/**
 * The snippet the desk's search sends with each row. Marks are [start, end) offsets into `text` in UTF-16 code
 * units (JavaScript string indices), sorted and not overlapping.
 * @typedef {{ text: string, marks: Array<[number, number]> }} Snippet
 */

/**
 * Build the snippet's nodes: text nodes between the marks, a <mark> around each match. A mark that is out of
 * range, reversed or overlaps the one before is skipped, so a bad payload can only lose highlighting.
 * @param {Snippet} snippet
 * @param {Pick<Document, "createElement" | "createTextNode" | "createDocumentFragment">} [doc]
 * @returns {DocumentFragment}
 */
export function snippetNodes(snippet, doc = document) {
  const fragment = doc.createDocumentFragment();
  const text = typeof snippet?.text === "string" ? snippet.text : "";
  const marks = Array.isArray(snippet?.marks) ? snippet.marks : [];
  let at = 0;
  for (const mark of marks) {
    if (!Array.isArray(mark)) continue;
    const [start, end] = mark;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < at || end <= start || end > text.length) continue;
    if (start > at) fragment.appendChild(doc.createTextNode(text.slice(at, start)));
    const marked = doc.createElement("mark");
    marked.appendChild(doc.createTextNode(text.slice(start, end)));
    fragment.appendChild(marked);
    at = end;
  }
  if (at < text.length) fragment.appendChild(doc.createTextNode(text.slice(at)));
  return fragment;
}
