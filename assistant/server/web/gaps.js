// The content-gaps view (admin key): questions the documents answered badly, grouped by similarity.

import { api, apiText } from "./api.js";
import { el, formatDate, replaceChildren, toast } from "./dom.js";

const REASONS = { refused: "refused", low_confidence: "low confidence", thumbs_down: "thumbs-down" };

function countsText(counts, names = {}) {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([key, count]) => `${names[key] || key} ×${count}`)
    .join(", ");
}

export class GapsView {
  /** `root` is the (empty) view element; the view builds its own contents. */
  constructor(root, { openDoc }) {
    this.root = root;
    this.openDoc = openDoc;
    this.summary = el("p", { class: "documents__summary", "data-testid": "gaps-summary" });
    this.list = el("div", { class: "gaps__list", "data-testid": "gaps-list" });
    const exportButton = el("button", { type: "button", class: "button", "data-testid": "gaps-export" }, "Export CSV");
    exportButton.addEventListener("click", () => this.exportCsv());
    replaceChildren(
      root,
      el(
        "div",
        { class: "documents" },
        el(
          "header",
          { class: "documents__header" },
          el(
            "div",
            {},
            el("h1", { class: "documents__title", id: "gaps-heading", tabindex: "-1" }, "Content gaps"),
            this.summary,
          ),
          exportButton,
        ),
        this.list,
      ),
    );
  }

  async load() {
    this.summary.textContent = "Loading…";
    let data;
    try {
      data = await api("/admin/gaps");
    } catch (error) {
      this.summary.textContent = error.message;
      replaceChildren(this.list);
      return;
    }
    const asked = data.groups.reduce((sum, group) => sum + group.count, 0);
    this.summary.textContent = data.enabled
      ? `${asked} questions in ${data.groups.length} groups, last ${data.retention_days} days`
      : "Recording is switched off (ASSISTANT_GAPS_ENABLED=false); older records are shown.";
    replaceChildren(this.list, ...data.groups.map((group) => this.groupCard(group)));
  }

  groupCard(group) {
    const docs = Object.entries(group.documents)
      .sort((a, b) => b[1] - a[1])
      .map(([docId, count]) =>
        el("li", {}, el("a", { href: "#", onclick: (event) => this.open(event, docId) }, docId), ` ×${count}`),
      );
    return el(
      "article",
      { class: "gaps__group", "data-testid": "gap-group" },
      el("h2", { class: "gaps__question" }, group.question),
      el(
        "p",
        { class: "gaps__meta" },
        el("span", { "data-testid": "gap-count" }, `asked ${group.count}×`),
        ` · last ${formatDate(group.last_asked)} · ${countsText(group.reasons, REASONS)}`,
      ),
      group.questions.length > 1
        ? el("ul", { class: "gaps__variants" }, ...group.questions.slice(1).map((q) => el("li", {}, q)))
        : null,
      docs.length ? el("p", { class: "gaps__docs-title" }, "Documents retrieved:") : null,
      docs.length ? el("ul", { class: "gaps__docs", "data-testid": "gap-docs" }, ...docs) : null,
    );
  }

  open(event, docId) {
    event.preventDefault();
    this.openDoc(docId);
  }

  async exportCsv() {
    try {
      const text = await apiText("/admin/gaps/export.csv");
      const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
      const link = el("a", { href: url, download: "content-gaps.csv" });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (error) {
      toast(error.message, "error");
    }
  }
}
