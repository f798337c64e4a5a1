/** The few inline SVG icons the frame draws from script (the rest are in the template). */

const SVG = "http://www.w3.org/2000/svg";
const SPARKLE = "M12 2l1.9 5.6L19.5 9.5l-5.6 1.9L12 17l-1.9-5.6L4.5 9.5l5.6-1.9z";
const THUMB = "M7 10v11M15 5.9 14 10h5.8a2 2 0 0 1 2 2.3l-1.4 7A2 2 0 0 1 18.4 21H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h2.8a2 2 0 0 0 1.8-1.1L12 2a3.1 3.1 0 0 1 3 3.9z";

/** The bot's four-point sparkle, decorative (hidden from assistive tech). */
export function sparkleIcon(doc = globalThis.document, className = "") {
  const svg = doc.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  if (className) svg.setAttribute("class", className);
  const path = doc.createElementNS(SVG, "path");
  path.setAttribute("d", SPARKLE);
  svg.appendChild(path);
  return svg;
}

/** A thumb, up for "it helped"; the down one is the same drawing turned over in CSS. Decorative. */
export function thumbIcon(doc = globalThis.document, className = "") {
  const svg = sparkleIcon(doc, className);
  svg.firstChild.setAttribute("d", THUMB);
  return svg;
}
