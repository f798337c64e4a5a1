// Tests of static/desk/search-snippet.js: run with `node --test tests/js/`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { snippetNodes } from "../../static/desk/search-snippet.js";
import { fakeDocument } from "./fakedom.mjs";

const render = (snippet) => {
  const holder = fakeDocument.createElement("span");
  holder.appendChild(snippetNodes(snippet, fakeDocument));
  return holder.outerHTML;
};

describe("snippetNodes", () => {
  test("wraps each match in <mark> and keeps the text around it", () => {
    const html = render({ text: "Where is my refund? A refund takes days", marks: [[12, 18], [22, 28]] });
    assert.equal(html, "<span>Where is my <mark>refund</mark>? A <mark>refund</mark> takes days</span>");
  });

  test("markup in the text stays text", () => {
    const html = render({ text: "<img src=x onerror=alert(1)> refund", marks: [[29, 35]] });
    assert.equal(html, "<span>&lt;img src=x onerror=alert(1)&gt; <mark>refund</mark></span>");
  });

  test("counts offsets as JavaScript does, so text after an emoji is marked right", () => {
    const text = "👍 退货政策";
    const start = text.indexOf("退货");
    assert.equal(render({ text, marks: [[start, start + 2]] }), "<span>👍 <mark>退货</mark>政策</span>");
  });

  test("skips marks that are out of range, reversed or overlapping, and survives a broken payload", () => {
    const html = render({ text: "abcdef", marks: [[1, 3], [2, 4], [5, 4], [4, 99], ["x", 5]] });
    assert.equal(html, "<span>a<mark>bc</mark>def</span>");
    assert.equal(render(/** @type {any} */ (null)), "<span></span>");
    assert.equal(render({ text: "plain", marks: [] }), "<span>plain</span>");
  });
});
