// Tests of the widget frame's small modules: i18n.js, bridge.js, session.js (`node --test tests/js/`).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { HostBridge } from "../../static/widget/bridge.js";
import { CATALOGS, LANGUAGES, pickLanguage, translator } from "../../static/widget/i18n.js";
import { SessionError, frameStorage, sessionStart, socketUrl } from "../../static/widget/session.js";

describe("i18n", () => {
  test("the site's language wins when we ship it; otherwise any zh browser gets Simplified Chinese", () => {
    const cases = [
      ["", "zh-CN", "zh-hans"], ["", "zh-TW", "zh-hans"], ["", "zh", "zh-hans"], ["", "en-US", "en"],
      ["", "fr-FR", "en"], [undefined, undefined, "en"], ["zh-hans", "en-GB", "zh-hans"], ["en", "zh-CN", "en"],
      ["de", "zh-CN", "zh-hans"], ["ZH-Hans", "en", "zh-hans"],
    ];
    for (const [site, browser, expected] of cases) assert.equal(pickLanguage(site, browser), expected, `${site}/${browser}`);
  });

  test("both catalogs have exactly the same keys and the same placeholders", () => {
    const [en, zh] = LANGUAGES.map((language) => CATALOGS[language]);
    assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
    const placeholders = (text) => (text.match(/\{\w+\}/g) ?? []).sort();
    for (const key of Object.keys(en)) assert.deepEqual(placeholders(zh[key]), placeholders(en[key]), key);
  });

  test("translate fills placeholders and falls back to English, then to the key", () => {
    const t = translator("zh-hans");
    assert.equal(t("typing.agent", { name: "Sam" }), "Sam 正在输入");
    assert.equal(translator("en")("error.too_long", { max: 4000 }), "Messages are limited to 4000 characters.");
    assert.equal(translator("xx")("message.seen"), "Seen");
    assert.equal(t("no.such.key"), "no.such.key");
  });
});

/** A window inside an iframe: a parent to post to, and message listeners to feed. */
function fakeFrameWindow() {
  const parent = { posted: [], postMessage(message, origin) { this.posted.push({ message, origin }); } };
  const listeners = [];
  const win = { parent, addEventListener: (type, fn) => type === "message" && listeners.push(fn) };
  const deliver = (event) => listeners.forEach((fn) => fn(event));
  return { win, parent, deliver };
}

describe("HostBridge", () => {
  test("posts only to the host page's origin, tagged as ours", () => {
    const { win, parent } = fakeFrameWindow();
    new HostBridge("https://shop.example", win).post("unread", { count: 2 });
    assert.deepEqual(parent.posted, [{ message: { count: 2, parley: 1, type: "unread" }, origin: "https://shop.example" }]);
  });

  test("hears the host page only: right origin, right window, our tag", () => {
    const { win, parent, deliver } = fakeFrameWindow();
    const bridge = new HostBridge("https://shop.example", win);
    const heard = [];
    bridge.on("identify", (data) => heard.push(data.userId));
    const message = { parley: 1, type: "identify", userId: "u1" };
    deliver({ origin: "https://evil.example", source: parent, data: message });
    deliver({ origin: "https://shop.example", source: {}, data: message });
    deliver({ origin: "https://shop.example", source: parent, data: { ...message, parley: 2 } });
    deliver({ origin: "https://shop.example", source: parent, data: "identify" });
    deliver({ origin: "https://shop.example", source: parent, data: message });
    assert.deepEqual(heard, ["u1"]);
  });

  test("without an allowed host origin, or outside an iframe, it stays silent", () => {
    const { win, parent } = fakeFrameWindow();
    const unembedded = new HostBridge("", win);
    unembedded.post("unread", { count: 1 });
    const top = { addEventListener() {} };
    top.parent = top;
    const alone = new HostBridge("https://shop.example", top);
    assert.equal(unembedded.active, false);
    assert.equal(alone.active, false);
    assert.deepEqual(parent.posted, []);
  });
});

describe("session", () => {
  test("frame storage prefixes keys and falls back to memory when storage throws", () => {
    const backing = new Map();
    const storage = frameStorage("parley:shop", {
      getItem: (k) => backing.get(k) ?? null, setItem: (k, v) => backing.set(k, v), removeItem: (k) => backing.delete(k),
    });
    storage.set("token", "t1");
    assert.equal(backing.get("parley:shop:token"), "t1");
    assert.equal(storage.get("token"), "t1");
    storage.remove("token");
    assert.equal(storage.get("token"), null);

    const blocked = frameStorage("p", { getItem() { throw new Error("denied"); }, setItem() { throw new Error("denied"); } });
    blocked.set("token", "t2");
    assert.equal(blocked.get("token"), "t2");
  });

  test("the session call sends token, page, identity and contact, and returns the answer", async () => {
    const calls = [];
    const fetchImpl = async (url, init) => {
      calls.push({ url, body: JSON.parse(init.body), method: init.method });
      return { ok: true, status: 200, json: async () => ({ visitor_token: "new", visitor: { id: 7 } }) };
    };
    const answer = await sessionStart({
      url: "/api/widget/shop/session", token: "old", pageUrl: "https://shop.example/cart", fetchImpl,
      identity: { userId: 42, hash: "abc", name: "Cleo" }, contact: { email: "cleo@example.com" },
    });
    assert.equal(answer.visitor_token, "new");
    assert.deepEqual(calls, [{ url: "/api/widget/shop/session", method: "POST", body: {
      token: "old", page_url: "https://shop.example/cart", user_id: "42", user_hash: "abc", name: "Cleo",
      email: "cleo@example.com" } }]);
  });

  test("a refusal is a SessionError with the server's code", async () => {
    const fetchImpl = async () => ({ ok: false, status: 403, json: async () => ({ error: { code: "identity_rejected", detail: "no" } }) });
    await assert.rejects(sessionStart({ url: "/s", fetchImpl }), (error) => error instanceof SessionError
      && error.code === "identity_rejected" && error.status === 403);
  });

  test("the socket URL follows the frame's scheme and host", () => {
    assert.equal(socketUrl({ protocol: "https:", host: "chat.example" }), "wss://chat.example/ws/widget/");
    assert.equal(socketUrl({ protocol: "http:", host: "127.0.0.1:8000" }), "ws://127.0.0.1:8000/ws/widget/");
  });
});
