// Modal dialogs built on <dialog>: Escape cancels, focus is trapped and then restored.

import { el, icon } from "./dom.js";

function openModal(dialog, initialFocus) {
  const previous = document.activeElement;
  document.body.append(dialog);
  dialog.showModal();
  if (initialFocus) initialFocus.focus();
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (previous && previous.isConnected && typeof previous.focus === "function") previous.focus();
  });
  // A click on the backdrop (outside the dialog box) cancels.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close("cancel");
  });
}

/** Ask to confirm a destructive action. Resolves to true only when confirmed. */
export function confirmDialog({ title, message, confirmLabel = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    const cancel = el("button", { type: "button", class: "button", "data-testid": "confirm-cancel", text: "Cancel" });
    const confirm = el("button", {
      type: "submit",
      class: danger ? "button button--danger" : "button button--primary",
      "data-testid": "confirm-ok",
      value: "confirm",
      text: confirmLabel,
    });
    const titleId = `dialog-title-${Date.now()}`;
    const form = el(
      "form",
      { method: "dialog", class: "dialog__body" },
      el("h2", { id: titleId, class: "dialog__title", text: title }),
      el("p", { class: "dialog__message", text: message }),
      el("div", { class: "dialog__actions" }, cancel, confirm),
    );
    const dialog = el(
      "dialog",
      { class: "dialog", "aria-labelledby": titleId, "data-testid": "confirm-dialog" },
      form,
    );
    cancel.addEventListener("click", () => dialog.close("cancel"));
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"));
    openModal(dialog, cancel);
  });
}

/** Ask for the API key after a 401. Resolves to the key, or null when the user cancels. */
export function promptApiKey({ rejected = false } = {}) {
  return new Promise((resolve) => {
    const input = el("input", {
      id: "api-key-input",
      class: "input",
      type: "password",
      autocomplete: "off",
      spellcheck: "false",
      required: true,
      "data-testid": "api-key-input",
    });
    const cancel = el("button", { type: "button", class: "button", text: "Cancel" });
    const save = el("button", {
      type: "submit",
      class: "button button--primary",
      value: "save",
      "data-testid": "api-key-save",
      text: "Continue",
    });
    const form = el(
      "form",
      { method: "dialog", class: "dialog__body" },
      el("div", { class: "dialog__icon", "aria-hidden": "true" }, icon("key", 22)),
      el("h2", { id: "api-key-title", class: "dialog__title", text: "API key required" }),
      el("p", {
        class: "dialog__message",
        text: "This server needs an API key for that action. It is kept only for this browser tab.",
      }),
      rejected
        ? el("p", {
            class: "dialog__error",
            role: "alert",
            "data-testid": "api-key-error",
            text: "That key was not accepted. Check it and try again.",
          })
        : null,
      el("label", { class: "field__label", for: "api-key-input", text: "API key" }),
      input,
      el("div", { class: "dialog__actions" }, cancel, save),
    );
    const dialog = el(
      "dialog",
      { class: "dialog", "aria-labelledby": "api-key-title", "data-testid": "api-key-dialog" },
      form,
    );
    cancel.addEventListener("click", () => dialog.close("cancel"));
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "save" ? input.value.trim() || null : null);
    });
    openModal(dialog, input);
  });
}
