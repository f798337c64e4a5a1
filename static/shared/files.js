// @ts-check
/** How both UIs describe a file. */

/**
 * "912 B", "14 KB", "2.4 MB": decimal units, as the server's limits are written.
 * @param {unknown} bytes
 * @returns {string}
 */
export function humanSize(bytes) {
  const n = Math.max(0, Number(bytes) || 0);
  if (n < 1000) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let value = n / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1).replace(/\.0$/, "") : Math.round(value)} ${units[unit]}`;
}
