// The side panel that shows a document's stored text with a cited range highlighted.

import { api } from "./api.js";
import { baseName, copyText, el, replaceChildren, toast } from "./dom.js";

/** The UI's deep link to a document range (also built by the Slack bot). */
export function docHash(docId, start, end) {
  const params = new URLSearchParams();
  if (Number.isInteger(start) && Number.isInteger(end) && end > start) {
    params.set("start", String(start));
    params.set("end", String(end));
  }
  const query = params.toString();
  return `#/doc/${encodeURIComponent(docId)}${query ? `?${query}` : ""}`;
}

function pageOf(pages, offset) {
  for (const entry of pages || []) {
    const [start, end, page] = entry;
    if (offset >= start && offset < end) return page;
  }
  return null;
}

export class DocumentViewer {
  /** `onClose` is called when the user dismisses the panel (button or Escape). */
  constructor(root, { onClose }) {
    this.root = root;
    this.onClose = onClose;
    this.title = root.querySelector("[data-role=title]");
    this.meta = root.querySelector("[data-role=meta]");
    this.body = root.querySelector("[data-role=body]");
    this.closeButton = root.querySelector("[data-role=close]");
    this.linkButton = root.querySelector("[data-role=link]");
    this.cache = new Map();
    this.request = 0;
    this.current = null;
    this.returnFocus = null;
    this.closeButton.addEventListener("click", () => this.onClose());
    this.linkButton.addEventListener("click", () => this.copyLink());
  }

  get isOpen() {
    return !this.root.hidden;
  }

  /** Open (or retarget) the panel on doc `docId`, highlighting [start, end) when given. */
  async open(docId, start = null, end = null) {
    const token = ++this.request;
    if (!this.isOpen) {
      this.returnFocus = document.activeElement;
      this.root.hidden = false;
      document.body.classList.add("has-panel");
    }
    this.current = { docId, start, end };
    this.root.setAttribute("aria-busy", "true");
    this.title.textContent = "Loading document…";
    this.meta.textContent = "";
    replaceChildren(this.body, el("div", { class: "skeleton", "aria-hidden": "true" }, el("span"), el("span"), el("span")));
    this.title.focus({ preventScroll: true });

    let doc;
    try {
      doc = this.cache.get(docId) || (await api(`/documents/${encodeURIComponent(docId)}`));
      this.cache.set(docId, doc);
    } catch (error) {
      if (token !== this.request) return;
      this.root.removeAttribute("aria-busy");
      this.title.textContent = "Document unavailable";
      replaceChildren(
        this.body,
        el("p", { class: "notice notice--error", role: "alert", "data-testid": "doc-error", text: error.detail || String(error) }),
      );
      return;
    }
    if (token !== this.request) return;
    this.render(doc, start, end);
  }

  render(doc, start, end) {
    const text = String(doc.text || "");
    this.root.removeAttribute("aria-busy");
    this.root.dataset.docId = doc.doc_id;
    this.title.textContent = doc.title || doc.doc_id;

    const valid = Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end > start && end <= text.length;
    const page = valid ? pageOf(doc.pages, start) : null;
    const metaParts = [baseName(doc.source) || doc.doc_id];
    if (Number.isFinite(doc.chunks)) metaParts.push(`${doc.chunks} ${doc.chunks === 1 ? "chunk" : "chunks"}`);
    if (page) metaParts.push(`page ${page}`);
    this.meta.textContent = metaParts.join(" · ");

    const container = el("div", { class: "doc-text", "data-testid": "doc-text", tabindex: "0", "aria-label": "Document text" });
    if (valid) {
      const mark = el("mark", { class: "doc-highlight", "data-testid": "doc-highlight" }, text.slice(start, end));
      container.append(document.createTextNode(text.slice(0, start)), mark, document.createTextNode(text.slice(end)));
      replaceChildren(this.body, container);
      // Wait for layout before scrolling the highlight into the middle of the panel.
      window.requestAnimationFrame(() => mark.scrollIntoView({ block: "center", behavior: "instant" }));
    } else {
      container.textContent = text;
      const outOfRange = start !== null && end !== null;
      replaceChildren(
        this.body,
        outOfRange
          ? el("p", { class: "notice", text: "The cited passage is no longer in this document; it may have changed since the answer was given." })
          : null,
        container,
      );
      this.body.scrollTop = 0;
    }
  }

  async copyLink() {
    if (!this.current) return;
    const { docId, start, end } = this.current;
    const url = new URL(window.location.href);
    url.hash = docHash(docId, start, end);
    toast((await copyText(url.toString())) ? "Link copied" : "Could not copy the link", "info");
  }

  /** Forget a cached document (after delete or re-upload). */
  invalidate(docId) {
    if (docId) this.cache.delete(docId);
    else this.cache.clear();
  }

  close() {
    if (!this.isOpen) return;
    this.request++;
    this.root.hidden = true;
    this.current = null;
    document.body.classList.remove("has-panel");
    const target = this.returnFocus;
    this.returnFocus = null;
    if (target && target.isConnected && typeof target.focus === "function") target.focus();
  }
}
