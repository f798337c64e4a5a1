// A document just large enough for the widget's renderers: elements, text nodes, fragments,
// attributes, and a serializer for assertions. Setting innerHTML throws, so a renderer that
// tried to parse HTML fails its tests.

const VOID = new Set(["br", "img", "hr", "input"]);

function escapeText(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function escapeAttribute(text) {
  return escapeText(text).replace(/"/g, "&quot;");
}

class FakeNode {
  constructor() {
    this.childNodes = [];
    this.parentNode = null;
  }

  appendChild(child) {
    if (child instanceof FakeFragment) {
      for (const node of [...child.childNodes]) this.appendChild(node);
      child.childNodes = [];
      return child;
    }
    child.parentNode = this;
    this.childNodes.push(child);
    return child;
  }

  get textContent() {
    return this.childNodes.map((node) => node.textContent).join("");
  }

  /** Every element below this node, depth first. */
  elements() {
    return this.childNodes.flatMap((node) => (node instanceof FakeElement ? [node, ...node.elements()] : []));
  }
}

export class FakeText {
  constructor(text) {
    this.nodeType = 3;
    this.textContent = String(text);
  }

  get outerHTML() {
    return escapeText(this.textContent);
  }
}

export class FakeElement extends FakeNode {
  constructor(tagName) {
    super();
    this.nodeType = 1;
    this.tagName = tagName.toLowerCase();
    this.attributes = new Map();
  }

  setAttribute(name, value) {
    this.attributes.set(name.toLowerCase(), String(value));
  }

  getAttribute(name) {
    return this.attributes.has(name) ? this.attributes.get(name) : null;
  }

  set innerHTML(_value) {
    throw new Error("innerHTML must never be used by the widget's renderers");
  }

  get outerHTML() {
    const attributes = [...this.attributes].map(([name, value]) => ` ${name}="${escapeAttribute(value)}"`).join("");
    if (VOID.has(this.tagName)) return `<${this.tagName}${attributes}>`;
    return `<${this.tagName}${attributes}>${this.childNodes.map((n) => n.outerHTML).join("")}</${this.tagName}>`;
  }
}

export class FakeFragment extends FakeNode {
  get outerHTML() {
    return this.childNodes.map((n) => n.outerHTML).join("");
  }
}

export const fakeDocument = {
  createElement: (tag) => new FakeElement(tag),
  createTextNode: (text) => new FakeText(text),
  createDocumentFragment: () => new FakeFragment(),
};
