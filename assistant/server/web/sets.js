// The set picker: which of the caller's document sets a question is answered from.
//
// The server lists only the caller's sets (GET /sets) and intersects any choice with them, so
// the picker can narrow what the caller reads, never widen it. No set ticked means all of them.

import { api } from "./api.js";
import { el, replaceChildren } from "./dom.js";

const CHOSEN_STORAGE = "assistant.sets";

function readChosen() {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(CHOSEN_STORAGE) || "[]");
    return Array.isArray(parsed) ? parsed.filter((name) => typeof name === "string") : [];
  } catch {
    return [];
  }
}

function writeChosen(names) {
  try {
    if (names.length) sessionStorage.setItem(CHOSEN_STORAGE, JSON.stringify(names));
    else sessionStorage.removeItem(CHOSEN_STORAGE);
  } catch {
    // Storage disabled: the choice lasts as long as the page.
  }
}

export class SetPicker {
  /** `root`: the fieldset (hidden until the caller has two sets or more to choose from). */
  constructor(root) {
    this.root = root;
    this.options = root.querySelector("[data-role=set-options]");
    this.hint = root.querySelector("[data-role=set-hint]");
    this.available = [];
    this.chosen = readChosen();
    this.loading = null;
  }

  /** Fetch the caller's sets again (the key may have changed); never asks for a key itself. */
  load() {
    if (!this.loading) {
      this.loading = api("/sets", { promptForKey: false })
        .then((body) => this.show(body.sets || []))
        .catch(() => {
          this.root.hidden = true; // no key yet (or no server): keep the choice for later
        })
        .finally(() => {
          this.loading = null;
        });
    }
    return this.loading;
  }

  show(sets) {
    this.available = sets.map((set) => set.name);
    this.chosen = this.chosen.filter((name) => this.available.includes(name));
    writeChosen(this.chosen);
    this.root.hidden = sets.length < 2;
    replaceChildren(
      this.options,
      sets.map((set) =>
        el(
          "label",
          { class: "set-chip", "data-testid": "set-option" },
          el("input", {
            type: "checkbox",
            value: set.name,
            checked: this.chosen.includes(set.name),
            onChange: () => this.toggle(),
          }),
          el("span", { class: "set-chip__name", text: set.name }),
          el("span", {
            class: "set-chip__count",
            "aria-label": `${set.documents} ${set.documents === 1 ? "document" : "documents"}`,
            text: String(set.documents),
          }),
        ),
      ),
    );
    this.syncHint();
  }

  toggle() {
    this.chosen = [...this.options.querySelectorAll("input:checked")].map((input) => input.value);
    writeChosen(this.chosen);
    this.syncHint();
  }

  syncHint() {
    this.hint.textContent = this.chosen.length ? "" : "all your sets";
  }

  /** The filter to send with a question: the ticked sets, or none (all the caller's sets). */
  filters() {
    return this.chosen.length ? { sets: [...this.chosen] } : null;
  }
}
