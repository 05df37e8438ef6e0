// Entry point: wires the views together, routes on the URL hash, keeps the sidebar current.
//
// Routes: #/ (chat), #/documents, #/doc/<doc_id>?start=<int>&end=<int> (document panel over
// the current view; the same deep link the Slack bot posts).

import { KEY_CHANGED, api, setKeyPrompt } from "./api.js";
import { ChatView } from "./chat.js";
import { confirmDialog, promptApiKey } from "./dialogs.js";
import { DocumentsView } from "./documents.js";
import { GapsView } from "./gaps.js";
import { el, iconButton, relativeTime, replaceChildren } from "./dom.js";
import { SetPicker } from "./sets.js";
import { ChatStore } from "./store.js";
import { DocumentViewer, docHash } from "./viewer.js";

const $ = (selector, root = document) => root.querySelector(selector);

setKeyPrompt(promptApiKey);

const store = new ChatStore();
let view = "chat";

const viewer = new DocumentViewer($("#viewer"), { onClose: closeDoc });

const chatRoot = $("#chat-view");
const sets = new SetPicker($("[data-role=set-picker]", chatRoot));
const chat = new ChatView(
  {
    log: $("[data-role=log]", chatRoot),
    form: $("[data-role=composer]", chatRoot),
    input: $("#question"),
    send: $("[data-role=send]", chatRoot),
    empty: $("[data-role=empty]", chatRoot),
    scroller: $("[data-role=scroller]", chatRoot),
  },
  store,
  openDoc,
  () => sets.filters(),
);

const documents = new DocumentsView($("#documents-view"), {
  openDoc: (docId) => openDoc(docId, null, null),
  onChange: ({ deleted } = {}) => {
    viewer.invalidate(deleted || null);
    if (deleted && viewer.current && viewer.current.docId === deleted) closeDoc();
    refreshHealth();
  },
});

const gaps = new GapsView($("#gaps-view"), { openDoc: (docId) => openDoc(docId, null, null) });
const VIEWS = { chat: "Chat", documents: "Documents", gaps: "Content gaps" };

/** Show a document range in the side panel, through the URL so the link can be shared. */
function openDoc(docId, start, end) {
  const hash = docHash(docId, start, end);
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function viewHash() {
  return view === "chat" ? "#/" : `#/${view}`;
}

function closeDoc() {
  // Replace rather than push so Back does not reopen the panel that was just closed.
  window.history.replaceState(null, "", viewHash());
  viewer.close();
}

function toInt(value) {
  return value !== null && /^\d+$/.test(value) ? Number(value) : null;
}

function route() {
  const raw = window.location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  const docMatch = path.match(/^\/doc\/(.+)$/);
  if (docMatch) {
    let docId = docMatch[1];
    try {
      docId = decodeURIComponent(docId);
    } catch {
      // Keep the raw segment; the server answers 404 with a clear message.
    }
    const params = new URLSearchParams(query);
    showView(view, { focus: false });
    viewer.open(docId, toInt(params.get("start")), toInt(params.get("end")));
    return;
  }
  viewer.close();
  const name = path.replace(/^\//, "");
  showView(name in VIEWS ? name : "chat");
}

function showView(name, { focus = true } = {}) {
  const changed = name !== view;
  view = name;
  $("#chat-view").hidden = name !== "chat";
  $("#documents-view").hidden = name !== "documents";
  $("#gaps-view").hidden = name !== "gaps";
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const label = VIEWS[name];
  $("[data-role=topbar-title]").textContent = label;
  document.title = `${label} · Assistant`;
  setSidebar(false);
  if (name === "documents") documents.load();
  if (name === "gaps") gaps.load();
  if (changed && focus) {
    if (name === "chat") chat.focusInput();
    else $(`#${name}-heading`).focus?.();
  }
}

function setSidebar(open) {
  document.body.classList.toggle("sidebar-open", open);
  $("[data-role=scrim]").hidden = !open;
  $("[data-role=open-sidebar]").setAttribute("aria-expanded", String(open));
  if (open) $("[data-role=new-chat]").focus();
}

function newChat() {
  store.startNew();
  chat.render();
  if (view !== "chat" || viewer.isOpen) window.location.hash = "#/";
  setSidebar(false);
  chat.focusInput();
}

function renderChatList() {
  const list = $("[data-role=chat-list]");
  if (!store.chats.length) {
    replaceChildren(list, el("li", { class: "chat-list__empty", text: "Your conversations will appear here." }));
    return;
  }
  replaceChildren(
    list,
    store.chats.map((item) => {
      const current = item.id === store.currentId;
      const remove = iconButton("trash", `Delete conversation: ${item.title}`, {
        class: "icon-button icon-button--quiet chat-item__delete",
        "data-testid": "delete-chat",
      });
      remove.addEventListener("click", async () => {
        const ok = await confirmDialog({
          title: "Delete this conversation?",
          message: `“${item.title}” will be removed from this browser.`,
          confirmLabel: "Delete",
          danger: true,
        });
        if (!ok) return;
        store.remove(item.id);
        chat.render();
      });
      return el(
        "li",
        { class: current ? "chat-item is-current" : "chat-item" },
        el(
          "button",
          {
            type: "button",
            class: "chat-item__open",
            "data-testid": "chat-item",
            "aria-current": current ? "true" : null,
            onClick: () => {
              store.select(item.id);
              chat.render();
              if (view !== "chat" || viewer.isOpen) window.location.hash = "#/";
              setSidebar(false);
            },
          },
          el("span", { class: "chat-item__title", text: item.title }),
          el("span", { class: "chat-item__time", text: relativeTime(item.updatedAt) }),
        ),
        remove,
      );
    }),
  );
}

async function refreshHealth() {
  const footer = $("[data-role=health]");
  const stats = $("[data-role=empty-stats]");
  try {
    const health = await api("/health");
    const docs = `${health.documents} ${health.documents === 1 ? "document" : "documents"}`;
    const chunks = `${health.chunks} ${health.chunks === 1 ? "passage" : "passages"}`;
    replaceChildren(
      footer,
      el("span", { class: "status-dot", "aria-hidden": "true" }),
      el("span", {}, `${docs} · ${chunks}`),
    );
    footer.title = health.model ? `Embedding model: ${health.model}` : "";
    footer.dataset.state = "ok";
    stats.textContent = health.documents
      ? `${docs} indexed and ready.`
      : "No documents are indexed yet. Add some under Documents.";
  } catch (error) {
    replaceChildren(footer, el("span", { class: "status-dot", "aria-hidden": "true" }), el("span", { text: "Server unreachable" }));
    footer.dataset.state = "error";
    footer.title = error.detail || String(error);
  }
}

for (const button of document.querySelectorAll("[data-role=new-chat]")) button.addEventListener("click", newChat);
$("[data-role=open-sidebar]").addEventListener("click", () => setSidebar(true));
$("[data-role=close-sidebar]").addEventListener("click", () => setSidebar(false));
$("[data-role=scrim]").addEventListener("click", () => setSidebar(false));

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || event.defaultPrevented) return;
  if (document.querySelector("dialog[open]")) return; // the dialog handles its own Escape
  if (viewer.isOpen) {
    event.preventDefault();
    closeDoc();
  } else if (document.body.classList.contains("sidebar-open")) {
    event.preventDefault();
    setSidebar(false);
    $("[data-role=open-sidebar]").focus();
  }
});

store.subscribe(renderChatList);
window.addEventListener("hashchange", route);
window.addEventListener("focus", refreshHealth);
window.addEventListener("focus", () => sets.load());
window.addEventListener(KEY_CHANGED, () => sets.load());

renderChatList();
chat.render();
route();
refreshHealth();
sets.load();
if (!viewer.isOpen && view === "chat") chat.focusInput();
document.body.dataset.ready = "true";
