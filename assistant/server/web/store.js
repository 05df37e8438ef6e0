// Conversation history kept in the browser (localStorage); nothing is sent to the server.

const CHATS_KEY = "assistant.chats.v1";
const CURRENT_KEY = "assistant.currentChat.v1";
const MAX_CHATS = 50;

function newId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function readChats() {
  try {
    const parsed = JSON.parse(localStorage.getItem(CHATS_KEY) || "[]");
    return Array.isArray(parsed) ? parsed.filter((chat) => chat && Array.isArray(chat.turns)) : [];
  } catch {
    return [];
  }
}

/** Chats, newest first; each {id, title, createdAt, updatedAt, turns: [{id, question, answer, error, feedback}]}. */
export class ChatStore {
  constructor() {
    this.chats = readChats();
    this.listeners = new Set();
    let current = null;
    try {
      current = localStorage.getItem(CURRENT_KEY);
    } catch {
      current = null;
    }
    this.currentId = this.chats.some((chat) => chat.id === current) ? current : null;
    // Another tab changed the history: pick it up.
    window.addEventListener("storage", (event) => {
      if (event.key === CHATS_KEY) {
        this.chats = readChats();
        if (!this.get(this.currentId)) this.currentId = null;
        this.emit();
      }
    });
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit() {
    for (const listener of this.listeners) listener();
  }

  get(id) {
    return this.chats.find((chat) => chat.id === id) || null;
  }

  get current() {
    return this.get(this.currentId);
  }

  /** Start a fresh conversation (it is saved once it has a first question). */
  startNew() {
    this.currentId = null;
    this.persist();
  }

  select(id) {
    if (!this.get(id)) return;
    this.currentId = id;
    this.persist();
  }

  remove(id) {
    this.chats = this.chats.filter((chat) => chat.id !== id);
    if (this.currentId === id) this.currentId = null;
    this.persist();
  }

  /** Add a question to the current chat (creating it if needed); returns the new turn. */
  addTurn(question) {
    let chat = this.current;
    const now = Date.now();
    if (!chat) {
      chat = { id: newId(), title: question.slice(0, 80), createdAt: now, updatedAt: now, turns: [] };
      this.chats.unshift(chat);
      this.currentId = chat.id;
    }
    const turn = { id: newId(), question, answer: null, error: null, feedback: null, askedAt: now };
    chat.turns.push(turn);
    chat.updatedAt = now;
    this.chats = [chat, ...this.chats.filter((other) => other.id !== chat.id)];
    this.persist();
    return turn;
  }

  /** Merge `changes` into a turn of the given chat and save. */
  updateTurn(chatId, turnId, changes) {
    const chat = this.get(chatId);
    const turn = chat && chat.turns.find((item) => item.id === turnId);
    if (!turn) return;
    Object.assign(turn, changes);
    chat.updatedAt = Date.now();
    this.persist();
  }

  persist() {
    this.chats = this.chats.slice(0, MAX_CHATS);
    for (;;) {
      try {
        localStorage.setItem(CHATS_KEY, JSON.stringify(this.chats));
        if (this.currentId) localStorage.setItem(CURRENT_KEY, this.currentId);
        else localStorage.removeItem(CURRENT_KEY);
        break;
      } catch {
        // Quota exceeded (or storage disabled): drop the oldest chat and try again.
        if (this.chats.length <= 1) break;
        this.chats.pop();
      }
    }
    this.emit();
  }
}
