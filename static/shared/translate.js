// @ts-check
// The one way the widget and the desk fill a string from their catalogues.

/**
 * A translate function over `catalogs` for `language`: t("key", {name}) → text with {name} filled in; a key the
 * language lacks falls back to `fallback` (English), then to the key itself.
 * @param {Readonly<Record<string, Record<string, string>>>} catalogs
 * @param {Record<string, string>} fallback
 * @param {string} language
 * @returns {(key: string, params?: Record<string, unknown>) => string}
 */
export function translatorOver(catalogs, fallback, language) {
  const catalog = catalogs[language] ?? fallback;
  return (key, params = {}) => {
    const template = catalog[key] ?? fallback[key] ?? key;
    return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  };
}
