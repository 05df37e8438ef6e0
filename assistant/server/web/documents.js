// The documents view: list, upload (picker or drag-and-drop) with progress and results, delete.

import { api, uploadFiles, waitForJob } from "./api.js";
import { confirmDialog } from "./dialogs.js";
import { baseName, el, formatDate, icon, iconButton, replaceChildren, toast } from "./dom.js";

// The upload picker's filter: the loaders' SUPPORTED_EXTENSIONS (a test keeps the two equal).
const ACCEPT = [
  ".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx",
  ".pptx", ".xlsx", ".csv", ".eml", ".mbox", ".epub",
];

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function describeFiles(files) {
  if (files.length === 1) return files[0].name;
  return `${files[0].name} and ${plural(files.length - 1, "more file")}`;
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export class DocumentsView {
  /** `root` is the view's section; `openDoc(docId)` shows a document; `onChange()` after edits. */
  constructor(root, { openDoc, onChange }) {
    this.root = root;
    this.openDoc = openDoc;
    this.onChange = onChange;
    this.tbody = root.querySelector("[data-role=rows]");
    this.table = root.querySelector("[data-role=table]");
    this.summary = root.querySelector("[data-role=summary]");
    this.empty = root.querySelector("[data-role=empty]");
    this.error = root.querySelector("[data-role=error]");
    this.uploads = root.querySelector("[data-role=uploads]");
    this.dropzone = root.querySelector("[data-role=dropzone]");
    this.fileInput = root.querySelector("[data-role=file-input]");
    this.fileInput.setAttribute("accept", ACCEPT.join(","));
    root.querySelector("[data-role=choose]").addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => {
      const files = Array.from(this.fileInput.files || []);
      this.fileInput.value = "";
      if (files.length) this.upload(files);
    });
    this.bindDrop();
    this.documents = [];
    this.sources = root.querySelector("[data-role=sources]");
    this.sourceList = root.querySelector("[data-role=source-list]");
  }

  /** The registered sources (GET /sources): last sync, counts and the items that failed. */
  async loadSources() {
    let sources = [];
    try {
      const body = await api("/sources");
      sources = Array.isArray(body.sources) ? body.sources : [];
    } catch {
      sources = [];
    }
    this.sources.hidden = sources.length === 0;
    replaceChildren(this.sourceList, sources.map((source) => this.renderSource(source)));
  }

  renderSource(source) {
    const counts = Object.entries(source.counts || {}).map(([name, n]) => `${n} ${name}`).join(" · ");
    const synced = source.last_sync ? `synced ${formatDate(source.last_sync)}` : "never synced";
    const errors = (source.errors || []).map((e) =>
      el("li", { "data-testid": "source-error" }, el("span", { class: "doc-source", text: e.path }), ` ${e.reason}`),
    );
    return el(
      "li",
      { class: "upload", "data-testid": "source-row", "data-source-id": source.id },
      el("strong", { text: `${source.kind} ${source.location}` }),
      el("p", { class: "dropzone__hint", text: counts ? `${synced} · ${counts}` : synced }),
      errors.length ? el("ul", {}, ...errors) : null,
    );
  }

  bindDrop() {
    let depth = 0;
    const hasFiles = (event) => Array.from(event.dataTransfer?.types || []).includes("Files");
    this.root.addEventListener("dragenter", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth += 1;
      this.dropzone.classList.add("is-dragging");
    });
    this.root.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    this.root.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) this.dropzone.classList.remove("is-dragging");
    });
    this.root.addEventListener("drop", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth = 0;
      this.dropzone.classList.remove("is-dragging");
      const files = Array.from(event.dataTransfer.files || []);
      if (files.length) this.upload(files);
    });
  }

  async load() {
    this.root.setAttribute("aria-busy", "true");
    try {
      const body = await api("/documents");
      this.documents = Array.isArray(body.documents) ? body.documents : [];
      this.error.hidden = true;
      this.render();
      this.loadSources();
    } catch (error) {
      this.error.hidden = false;
      this.error.textContent = `Could not load documents: ${error.detail || error}`;
    } finally {
      this.root.removeAttribute("aria-busy");
    }
  }

  render() {
    const docs = [...this.documents].sort((a, b) => String(b.indexed_at).localeCompare(String(a.indexed_at)));
    const chunks = docs.reduce((total, doc) => total + (Number(doc.chunks) || 0), 0);
    this.summary.textContent = docs.length
      ? `${plural(docs.length, "document")} · ${plural(chunks, "chunk")} searchable`
      : "No documents yet";
    this.empty.hidden = docs.length > 0;
    this.table.hidden = docs.length === 0;
    replaceChildren(this.tbody, docs.map((doc) => this.renderRow(doc)));
  }

  renderRow(doc) {
    const title = doc.title || doc.doc_id;
    const remove = iconButton("trash", `Delete ${title}`, { "data-testid": "delete-document", class: "icon-button icon-button--danger" });
    remove.addEventListener("click", () => this.remove(doc));
    return el(
      "tr",
      { "data-testid": "document-row", "data-doc-id": doc.doc_id },
      el(
        "td",
        { class: "doc-cell" },
        el(
          "button",
          { type: "button", class: "doc-link", "data-testid": "document-title", onClick: () => this.openDoc(doc.doc_id) },
          el("span", { class: "doc-link__icon", "aria-hidden": "true" }, icon("doc", 16)),
          el("span", { class: "doc-link__title", text: title }),
        ),
        el("span", { class: "doc-source", title: doc.source || null, text: baseName(doc.source) || doc.doc_id }),
      ),
      el("td", { class: "num", "data-label": "Chunks", text: String(doc.chunks ?? "") }),
      el("td", { "data-label": "Indexed" }, el("time", { datetime: doc.indexed_at, text: formatDate(doc.indexed_at) })),
      el("td", { class: "actions" }, remove),
    );
  }

  async remove(doc) {
    const title = doc.title || doc.doc_id;
    const ok = await confirmDialog({
      title: "Delete this document?",
      message: `“${title}” will be removed from the index and no longer used to answer questions. This cannot be undone.`,
      confirmLabel: "Delete",
      danger: true,
    });
    if (!ok) return;
    try {
      await api(`/documents/${encodeURIComponent(doc.doc_id)}`, { method: "DELETE" });
      this.documents = this.documents.filter((item) => item.doc_id !== doc.doc_id);
      this.render();
      toast(`Deleted “${title}”`, "info");
      this.onChange({ deleted: doc.doc_id });
      this.load();
    } catch (error) {
      toast(`Could not delete: ${error.detail || error}`, "error");
    }
  }

  async upload(files) {
    const totalBytes = files.reduce((sum, file) => sum + file.size, 0);
    const progress = el("progress", { class: "upload__progress", max: "1", value: "0", "aria-label": "Upload progress" });
    const status = el("p", { class: "upload__status", "data-testid": "upload-status", role: "status", text: "Uploading…" });
    const result = el("div", { class: "upload__result", "data-testid": "upload-result" });
    const dismiss = iconButton("close", "Dismiss", { class: "icon-button upload__dismiss", hidden: true });
    const card = el(
      "li",
      { class: "upload", "data-testid": "upload", "data-state": "uploading" },
      el(
        "div",
        { class: "upload__head" },
        el("span", { class: "upload__icon", "aria-hidden": "true" }, icon("upload", 16)),
        el("span", { class: "upload__name", text: describeFiles(files) }),
        el("span", { class: "upload__size", text: formatBytes(totalBytes) }),
        dismiss,
      ),
      progress,
      status,
      result,
    );
    dismiss.addEventListener("click", () => card.remove());
    this.uploads.prepend(card);

    const setState = (state) => {
      card.dataset.state = state;
    };
    try {
      const accepted = await uploadFiles(files, (fraction) => {
        progress.value = fraction;
        status.textContent = `Uploading… ${Math.round(fraction * 100)}%`;
      });
      setState("indexing");
      progress.removeAttribute("value"); // indeterminate while the server indexes
      status.textContent = "Indexing…";
      const job = await waitForJob(accepted.job_id, (update) => {
        if (update.status === "running") status.textContent = "Indexing… extracting text and embedding passages";
      });
      this.showJob(card, job, status, result, progress);
    } catch (error) {
      setState("error");
      progress.hidden = true;
      status.textContent = `Upload failed: ${error.detail || error}`;
    } finally {
      dismiss.hidden = false;
    }
  }

  showJob(card, job, status, result, progress) {
    progress.hidden = true;
    const report = job.report || {};
    const skipped = Array.isArray(report.skipped) ? report.skipped : [];
    const lists = [
      ["Added", report.added],
      ["Updated", report.replaced],
      ["Already indexed", report.unchanged],
    ].filter(([, items]) => Array.isArray(items) && items.length);

    if (job.status === "failed") {
      card.dataset.state = "failed";
      status.textContent = `Indexing failed: ${job.detail || "unknown error"}`;
    } else {
      const indexed = lists.reduce((sum, [, items]) => sum + items.length, 0);
      card.dataset.state = skipped.length && !indexed ? "failed" : skipped.length ? "partial" : "done";
      const parts = [];
      if (indexed) parts.push(`${plural(indexed, "document")} ready`);
      if (skipped.length) parts.push(`${plural(skipped.length, "file")} skipped`);
      status.textContent = parts.length ? `${parts.join(", ")}.` : "Nothing to index.";
    }
    replaceChildren(
      result,
      lists.map(([label, items]) =>
        el("p", { class: "upload__line" }, el("strong", { text: `${label}: ` }), items.join(", ")),
      ),
      skipped.length
        ? el(
            "ul",
            { class: "upload__skipped" },
            skipped.map((item) =>
              el(
                "li",
                { "data-testid": "upload-skipped" },
                icon("alert", 14),
                el("span", {}, el("strong", { text: baseName(item.path) }), ` — ${item.reason}`),
              ),
            ),
          )
        : null,
    );
    this.onChange({ job });
    this.load();
  }
}
