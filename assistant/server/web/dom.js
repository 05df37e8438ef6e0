// Small DOM helpers. Everything that comes from the server or the user becomes a text node:
// nothing in this UI ever parses document text, quotes or answers as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

// Icon outlines (24x24 stroke paths). Constant data, never user input.
const ICONS = {
  plus: ["M12 5v14", "M5 12h14"],
  send: ["M5 12h13", "M13 6l6 6-6 6"],
  stop: ["M7 7h10v10H7z"],
  copy: ["M9 9h10v10H9z", "M5 15V5h10"],
  check: ["M5 12.5l4.5 4.5L19 7.5"],
  up: [
    "M7 11v9H4v-9z",
    "M7 11l4-7c1.6 0 2.6 1.2 2.3 2.8L12.8 10H19a2 2 0 0 1 2 2.3l-1.2 6A2 2 0 0 1 17.8 20H7",
  ],
  down: [
    "M7 13V4H4v9z",
    "M7 13l4 7c1.6 0 2.6-1.2 2.3-2.8L12.8 14H19a2 2 0 0 0 2-2.3l-1.2-6A2 2 0 0 0 17.8 4H7",
  ],
  close: ["M6 6l12 12", "M18 6L6 18"],
  trash: ["M4 7h16", "M10 11v6", "M14 11v6", "M6 7l1 13h10l1-13", "M9 7V4h6v3"],
  doc: ["M6 3h8l4 4v14H6z", "M14 3v4h4", "M9 12h6", "M9 16h6"],
  upload: ["M12 16V4", "M7 9l5-5 5 5", "M4 16v4h16v-4"],
  chat: ["M4 5h16v11H9l-5 4z"],
  menu: ["M4 7h16", "M4 12h16", "M4 17h16"],
  link: [
    "M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1",
    "M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1",
  ],
  alert: ["M12 4l9 16H3z", "M12 10v4", "M12 17.5v.5"],
  info: ["M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z", "M12 11v6", "M12 7.5v.5"],
  spark: ["M12 3l2 6 6 2-6 2-2 6-2-6-6-2 6-2z"],
  key: ["M14 10a4 4 0 1 0-4 4", "M13 9l8 8", "M18 14l2-2", "M16 16l2-2"],
};

/**
 * Create an element. `attrs` keys: `class`, `text`, `dataset`, `on<Event>` handlers,
 * booleans (set when true) and plain attributes. Children may be nodes, strings or null.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

/** Append children (nodes or strings, nested arrays allowed) as nodes and text nodes. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace all children of `node`. */
export function replaceChildren(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

/** An inline SVG icon, hidden from assistive technology (label the button instead). */
export function icon(name, size = 18) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", "icon");
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

/** An icon-only button with an accessible name and a tooltip. */
export function iconButton(name, label, attrs = {}) {
  return el(
    "button",
    { type: "button", class: "icon-button", "aria-label": label, title: label, ...attrs },
    icon(name),
  );
}

/** The last path segment: server paths are noise to a reader. */
export function baseName(path) {
  return String(path || "").split(/[\\/]/).pop();
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** Human date for an ISO timestamp; the raw value if it does not parse. */
export function formatDate(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value || "") : dateFormat.format(date);
}

/** Short relative time ("just now", "5 min ago", "yesterday", or a date). */
export function relativeTime(ms) {
  const seconds = Math.round((Date.now() - ms) / 1000);
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  if (seconds < 172800) return "yesterday";
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium" }).format(new Date(ms));
}

/** Copy text to the clipboard; falls back to a hidden textarea where the API is unavailable. */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Permission denied or unfocused document: try the legacy path below.
    }
  }
  const area = el("textarea", { class: "visually-hidden", readonly: true, "aria-hidden": "true" });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

let toastTimer = 0;

/** Show a short, politely announced status message at the bottom of the screen. */
export function toast(message, kind = "info") {
  const region = document.getElementById("toast");
  if (!region) return;
  region.dataset.kind = kind;
  region.textContent = message;
  region.classList.add("is-visible");
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => region.classList.remove("is-visible"), 3200);
}

/** Tell screen-reader users something without showing it (a visually hidden live region). */
export function announce(message) {
  const region = document.getElementById("sr-status");
  if (!region) return;
  region.textContent = "";
  // A fresh text node after a tick makes repeated messages announce again.
  window.setTimeout(() => {
    region.textContent = message;
  }, 50);
}
