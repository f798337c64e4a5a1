// Tests of static/widget/markdown.js: run with `node --test tests/js/`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { LINK_REL, parseBlocks, parseInline, renderMarkdown, safeHref } from "../../static/widget/markdown.js";
import { fakeDocument } from "./fakedom.mjs";

const html = (text) => renderMarkdown(text, fakeDocument).outerHTML;
const rel = `rel="${LINK_REL}" target="_blank"`;

describe("safeHref", () => {
  test("keeps absolute http, https and mailto URLs, normalised", () => {
    assert.equal(safeHref("https://shop.example/returns"), "https://shop.example/returns");
    assert.equal(safeHref(" HTTP://Shop.Example "), "http://shop.example/");
    assert.equal(safeHref("mailto:help@shop.example"), "mailto:help@shop.example");
  });

  test("refuses every other scheme, however it is disguised", () => {
    for (const href of [
      "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
      "java\nscript:alert(1)", "\u0001javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
      "vbscript:msgbox(1)", "file:///etc/passwd", "ftp://example.com/", "blob:https://x/1",
    ]) {
      assert.equal(safeHref(href), null, href);
    }
  });

  test("refuses host-less and relative URLs when there is no origin to resolve a root path against", () => {
    for (const href of ["/admin/", "returns", "//evil.example/x", "https://", "#top", ""]) {
      assert.equal(safeHref(href), null, href);
    }
  });

  test("a root-relative path resolves against Parley's origin: the help center the bot cites", () => {
    const base = "https://chat.example";
    assert.equal(safeHref("/help/demo-shop/3/", { base }), "https://chat.example/help/demo-shop/3/");
    assert.equal(safeHref(" /help/demo-shop/?lang=zh-hans#top ", { base }),
      "https://chat.example/help/demo-shop/?lang=zh-hans#top");
    assert.equal(safeHref("/help/a b/", { base: "http://127.0.0.1:8000" }), "http://127.0.0.1:8000/help/a%20b/");
  });

  test("only a single leading slash counts: nothing that reaches another host or another scheme", () => {
    const base = "https://chat.example";
    for (const href of [
      "//evil.example/x", "/\\evil.example/x", "\\/evil.example/x", "/\t/evil.example/x", "/\n/evil.example",
      "help/demo-shop/3/", "./help/", "../help/", "?q=1", "#top", "javascript:alert(1)", "",
    ]) {
      assert.equal(safeHref(href, { base }), null, JSON.stringify(href));
    }
    assert.equal(safeHref("/help/", { base: "not a url" }), null);
    assert.equal(safeHref("/help/", { base: null }), null);
  });
});

describe("blocks", () => {
  test("blank lines separate paragraphs; single newlines are line breaks", () => {
    assert.equal(html("One\ntwo\n\nThree"), "<p>One<br>two</p><p>Three</p>");
  });

  test("bulleted and numbered lists, with the start number kept", () => {
    assert.equal(html("Steps:\n- Open *Orders*\n- Click **Return**"),
      "<p>Steps:</p><ul><li>Open <em>Orders</em></li><li>Click <strong>Return</strong></li></ul>");
    assert.equal(html("3. three\n4. four"), '<ol start="3"><li>three</li><li>four</li></ol>');
    assert.equal(html("1. a\n2. b"), "<ol><li>a</li><li>b</li></ol>");
  });

  test("a line under a list item continues it; a switch of list kind starts a new list", () => {
    assert.equal(html("- a\n  more\n1. b"), "<ul><li>a<br>more</li></ul><ol><li>b</li></ol>");
  });

  test("headings become bold paragraphs and fenced code keeps its text verbatim", () => {
    assert.equal(html("## Shipping"), '<p class="md-heading"><strong>Shipping</strong></p>');
    assert.equal(html("```\n<b>x</b> **y**\n```"), "<pre><code>&lt;b&gt;x&lt;/b&gt; **y**</code></pre>");
  });

  test("a fence still open while the reply streams runs to the end", () => {
    assert.deepEqual(parseBlocks("Try:\n```\nnpm i"), [{ type: "p", text: "Try:" }, { type: "code", text: "npm i" }]);
  });
});

describe("inlines", () => {
  test("bold, italic and code", () => {
    assert.equal(html("**Free** shipping over *$50* with `CODE`"),
      "<p><strong>Free</strong> shipping over <em>$50</em> with <code>CODE</code></p>");
    assert.equal(html("__bold__ and _it_"), "<p><strong>bold</strong> and <em>it</em></p>");
  });

  test("unclosed or spaced markers stay literal (a reply mid-stream renders as typed)", () => {
    assert.equal(html("**Shipp"), "<p>**Shipp</p>");
    assert.equal(html("2 * 3 * 4"), "<p>2 * 3 * 4</p>");
    assert.equal(html("order_id and snake_case_name"), "<p>order_id and snake_case_name</p>");
  });

  test("backslash escapes a marker", () => {
    assert.equal(html("\\*not italic\\*"), "<p>*not italic*</p>");
  });

  test("links get rel and target; bare and angle-bracket URLs are linked too", () => {
    assert.equal(html("See [returns](https://shop.example/returns)."),
      `<p>See <a href="https://shop.example/returns" ${rel}>returns</a>.</p>`);
    assert.equal(html("Go to https://shop.example/track."),
      `<p>Go to <a href="https://shop.example/track" ${rel}>https://shop.example/track</a>.</p>`);
    assert.equal(html("(see https://en.wikipedia.org/wiki/Foo_(bar))"),
      `<p>(see <a href="https://en.wikipedia.org/wiki/Foo_(bar)" ${rel}>https://en.wikipedia.org/wiki/Foo_(bar)</a>)</p>`);
    assert.equal(html("<mailto:help@shop.example>"),
      `<p><a href="mailto:help@shop.example" ${rel}>mailto:help@shop.example</a></p>`);
  });

  test("the bot's help-center citations become links to Parley's own pages, opening in a new tab", () => {
    const cited = renderMarkdown("Express costs $12.95.\n\nSource: [Shipping costs](/help/demo-shop/2/)", fakeDocument,
      { base: "http://127.0.0.1:8000" }).outerHTML;
    assert.equal(cited, "<p>Express costs $12.95.</p>"
      + `<p>Source: <a href="http://127.0.0.1:8000/help/demo-shop/2/" ${rel}>Shipping costs</a></p>`);
    assert.equal(renderMarkdown("来源：[配送时间](/help/demo-shop/14/)", fakeDocument, { base: "https://chat.example" }).outerHTML,
      `<p>来源：<a href="https://chat.example/help/demo-shop/14/" ${rel}>配送时间</a></p>`);
    // Only a [label](/path) link: an angle-bracket autolink must be absolute, so a closing tag stays text.
    assert.equal(renderMarkdown("</help/x/> <script>alert(1)</script>", fakeDocument, { base: "https://chat.example" })
      .outerHTML, "<p>&lt;/help/x/&gt; &lt;script&gt;alert(1)&lt;/script&gt;</p>");
  });

  test("a bare URL stops at Chinese punctuation", () => {
    assert.equal(html("请访问 https://shop.example/zh。谢谢"),
      `<p>请访问 <a href="https://shop.example/zh" ${rel}>https://shop.example/zh</a>。谢谢</p>`);
  });

  test("a link label keeps its emphasis but may not hold another link", () => {
    assert.deepEqual(parseInline("[**a** [b](https://b.example)](https://a.example)"), [
      { type: "link", href: "https://a.example/", children: [
        { type: "strong", children: [{ type: "text", text: "a" }] }, { type: "text", text: " " },
        { type: "text", text: "b" },
      ] },
    ]);
  });
});

describe("hostile input renders inert", () => {
  test("HTML in a reply is text, never elements", () => {
    const fragment = renderMarkdown('Hi <img src=x onerror="alert(1)"> <script>alert(2)</script>', fakeDocument);
    assert.equal(fragment.outerHTML,
      "<p>Hi &lt;img src=x onerror=\"alert(1)\"&gt; &lt;script&gt;alert(2)&lt;/script&gt;</p>");
    assert.deepEqual(fragment.elements().map((e) => e.tagName), ["p"]);
  });

  test("javascript:, data: and relative links keep only their words", () => {
    assert.equal(html("[click](javascript:alert(1)) [x](data:text/html,hi) [y](/admin/)"), "<p>click x y</p>");
    assert.equal(html("[z](JaVaScRiPt:alert(document.domain))"), "<p>z</p>");
    const based = (text) => renderMarkdown(text, fakeDocument, { base: "https://chat.example" }).outerHTML;
    assert.equal(based("[a](//evil.example/) [b](/\\evil.example/) [c](javascript:alert(1)) [d](data:,x) [e](help/x)"),
      "<p>a b c d e</p>");
  });

  test("a bare javascript: URL is not linked", () => {
    const fragment = renderMarkdown("javascript:alert(1)", fakeDocument);
    assert.equal(fragment.elements().filter((e) => e.tagName === "a").length, 0);
  });

  test("link targets cannot smuggle attributes", () => {
    const fragment = renderMarkdown('[a](https://x.example/" onmouseover="alert(1))', fakeDocument);
    const anchors = fragment.elements().filter((e) => e.tagName === "a");
    for (const anchor of anchors) {
      assert.deepEqual([...anchor.attributes.keys()].sort(), ["href", "rel", "target"]);
      assert.ok(!anchor.getAttribute("href").includes('"'));
    }
  });

  test("only a handful of tags and attributes can ever come out", () => {
    const sample = "# T\n\n- **a** _b_ `c`\n1. [d](https://d.example)\n\n```\ne\n```\n<iframe src=//x>";
    const elements = renderMarkdown(sample, fakeDocument).elements();
    const allowed = new Set(["p", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "br"]);
    for (const element of elements) {
      assert.ok(allowed.has(element.tagName), element.tagName);
      for (const name of element.attributes.keys()) assert.ok(["href", "rel", "target", "class", "start"].includes(name), name);
    }
  });

  test("pathological markers stay fast", () => {
    const started = Date.now();
    renderMarkdown("*_[".repeat(3000), fakeDocument);
    assert.ok(Date.now() - started < 1000);
  });
});

describe("a reply still streaming, or cut short", () => {
  test("an emphasis opened but not closed yet runs to the end instead of showing its markers", () => {
    const partial = (text) => renderMarkdown(text, fakeDocument, { partial: true }).outerHTML;
    assert.equal(partial("Here's what our **Returns"), "<p>Here's what our <strong>Returns</strong></p>");
    assert.equal(partial("- *one\n- two"), "<ul><li><em>one</em></li><li>two</li></ul>");
    assert.equal(partial("2 * 3 and snake_case and **"), "<p>2 * 3 and snake_case and **</p>");
    assert.equal(partial("**done** now"), "<p><strong>done</strong> now</p>");
    assert.equal(html("Here's what our **Returns"), "<p>Here's what our **Returns</p>"); // complete: literal
  });
});
