// Tests of static/desk/i18n.js, the desk's string catalogue: `node --test tests/js/`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { CATALOGS, LANGUAGE, LANGUAGES, intlLocale, languageOf, t, translator } from "../../static/desk/i18n.js";

const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("desk catalogue", () => {
  test("every language has exactly the keys English has", () => {
    const keys = Object.keys(CATALOGS.en).sort();
    assert.ok(keys.length > 100);
    for (const language of LANGUAGES) assert.deepEqual(Object.keys(CATALOGS[language]).sort(), keys, language);
  });

  test("a translation names the same placeholders as the English text", () => {
    for (const [key, text] of Object.entries(CATALOGS.en)) {
      assert.deepEqual(placeholders(CATALOGS["zh-hans"][key]), placeholders(text), key);
    }
  });

  test("no text is left empty, and the Chinese table is translated", () => {
    for (const language of LANGUAGES) {
      for (const [key, text] of Object.entries(CATALOGS[language])) assert.ok(text.trim(), `${language} ${key}`);
    }
    assert.notEqual(CATALOGS["zh-hans"]["composer.send"], CATALOGS.en["composer.send"]);
  });
});

describe("translator", () => {
  test("fills placeholders and keeps unknown ones", () => {
    const zh = translator("zh-hans");
    assert.equal(zh("chip.with", { name: "Ana" }), "由 Ana 处理");
    assert.equal(zh("chip.waiting"), "已等待 {time}");
  });

  test("falls back to English for an unknown language, and to the key for an unknown key", () => {
    assert.equal(translator("fr")("composer.send"), "Send");
    assert.equal(translator("zh-hans")("no.such.key"), "no.such.key");
  });

  test("outside a browser the page language is English", () => {
    assert.equal(LANGUAGE, "en");
    assert.equal(t("list.unread", { count: 3 }), "3 unread");
  });

  test("<html lang> values map to our languages and Intl locales", () => {
    assert.equal(languageOf("zh-hans"), "zh-hans");
    assert.equal(languageOf("zh-Hans-CN"), "zh-hans");
    assert.equal(languageOf("en"), "en");
    assert.equal(languageOf(""), "en");
    assert.equal(intlLocale("zh-hans"), "zh-Hans-CN");
    assert.equal(intlLocale("en"), "en");
  });
});
