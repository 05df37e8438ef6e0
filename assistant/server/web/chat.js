// The chat view: the question box, streamed answers with citation chips, sources and feedback.

import { api, askStream } from "./api.js";
import { announce, copyText, el, icon, iconButton, replaceChildren, toast } from "./dom.js";

/** Push nodes and strings (as text nodes) onto an array. */
function pushNodes(nodes, parts) {
  for (const part of parts) nodes.push(part instanceof Node ? part : document.createTextNode(part));
}

const HISTORY_TURNS = 4;
const PASSAGES_SHOWN = 3;
const MARKER = /\[(\d+)\]/g;

const oneLine = (text) => text.trim().split(/\s+/).join(" ");

/**
 * The text before a citation's chip, with the part of its quote that answers in a <mark>. The
 * answer text holds the quote with whitespace runs as single spaces, so the mark is found there.
 */
function citedTextNodes(segment, citation) {
  const highlight = citation.highlight;
  const start = Array.isArray(highlight) ? highlight[0] - citation.start : -1;
  const end = Array.isArray(highlight) ? highlight[1] - citation.start : -1;
  if (!(start >= 0 && start < end && end <= citation.quote.length)) return [segment];
  const quote = oneLine(citation.quote);
  const at = segment.lastIndexOf(quote);
  const mark = oneLine(citation.quote.slice(start, end));
  const before = citation.quote.slice(0, start);
  const offset = at + (before.trim() ? oneLine(before).length + (/\s$/.test(before) ? 1 : 0) : 0);
  if (at < 0 || !mark || segment.slice(offset, offset + mark.length) !== mark) return [segment];
  return [
    segment.slice(0, offset),
    el("mark", { class: "answer-mark", "data-testid": "answer-text-mark", text: mark }),
    segment.slice(offset + mark.length),
  ];
}

/** Answer text as text nodes, with each `[n]` that has a citation turned into a chip button. */
function answerTextNodes(text, citations, onCite) {
  const byMarker = new Map(citations.map((citation) => [citation.marker, citation]));
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(MARKER)) {
    const citation = byMarker.get(Number(match[1]));
    if (!citation) continue;
    if (match.index > last) pushNodes(nodes, citedTextNodes(text.slice(last, match.index), citation));
    nodes.push(
      el("button", {
        type: "button",
        class: "cite-chip",
        "data-testid": "citation-chip",
        "data-marker": citation.marker,
        "aria-label": `Source ${citation.marker}: ${citation.title || citation.doc_id}`,
        title: citation.title || citation.doc_id,
        text: String(citation.marker),
        onClick: () => onCite(citation.doc_id, citation.start, citation.end),
      }),
    );
    last = match.index + match[0].length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

function plainAnswer(answer) {
  const lines = [answer.answer.trim()];
  if (answer.citations.length) {
    lines.push("", "Sources:");
    for (const citation of answer.citations) {
      const page = citation.page ? `, p. ${citation.page}` : "";
      lines.push(`[${citation.marker}] ${citation.title || citation.doc_id}${page}: “${citation.quote.trim()}”`);
    }
  }
  return lines.join("\n");
}

// --- conversation history -------------------------------------------------------------

// The earlier turns sent with a question: each question with the answer given and its
// citations, so the server can read a follow-up ("when was that adopted?") against them.
function historyOf(turns) {
  return turns.slice(-HISTORY_TURNS).map((turn) => {
    const answer = turn.answer || null;
    if (!answer || answer.abstained) return { question: turn.question };
    return { question: turn.question, answer: String(answer.answer || ""), citations: Array.isArray(answer.citations) ? answer.citations : [] };
  });
}

// "Searched for: ..." when a follow-up was rewritten to stand alone before it was searched.
function searchedForNode(answer) {
  const standalone = String(answer.standalone_question || "").trim();
  if (!standalone || standalone === String(answer.question || "").trim()) return null;
  return el("p", { class: "answer__searched", "data-testid": "searched-for", text: `Searched for: ${standalone}` });
}

// The three outcomes (docs/answer-model.md): a tentative answer is shown with a mark and its passages.
function answerState(answer) {
  if (answer.abstained) return "abstained";
  return answer.tentative ? "tentative" : "answered";
}

function tentativeBadge() {
  return el(
    "p",
    { class: "answer__badge answer__badge--tentative", "data-testid": "tentative", role: "note" },
    icon("alert", 16),
    el("span", { text: "This may not answer your question: check the sources and passages" }),
  );
}

function passagesHint(answer) {
  return answer.tentative
    ? "The passages this answer was drawn from; read them to judge whether it answers the question."
    : "The nearest matches in your documents; none of them answers the question.";
}

function formatMs(ms) {
  if (!Number.isFinite(ms)) return "";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * A quote as text nodes, with the part that carries the answer (`highlight`: document offsets
 * [start, end) inside the quote's own, which begins at `offset`) in a <mark>. Text stays text.
 */
export function quoteNodes(quote, offset, highlight) {
  if (!Array.isArray(highlight) || highlight.length !== 2) return [quote];
  const start = highlight[0] - offset;
  const end = highlight[1] - offset;
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= quote.length)) {
    return [quote];
  }
  return [
    quote.slice(0, start),
    el("mark", { class: "answer-mark", "data-testid": "answer-mark", text: quote.slice(start, end) }),
    quote.slice(end),
  ];
}

/** One clickable evidence row (a citation or a retrieved passage). */
function evidenceItem({ marker, title, page, quote, testid, onOpen }) {
  return el(
    "li",
    {},
    el(
      "button",
      { type: "button", class: "source", "data-testid": testid, "data-marker": marker ?? null, onClick: onOpen },
      marker !== undefined && marker !== null
        ? el("span", { class: "source__marker", "aria-hidden": "true", text: String(marker) })
        : el("span", { class: "source__marker source__marker--doc", "aria-hidden": "true" }, icon("doc", 14)),
      el(
        "span",
        { class: "source__body" },
        el(
          "span",
          { class: "source__head" },
          el("span", { class: "source__title", "data-testid": `${testid}-title`, text: title }),
          page ? el("span", { class: "source__page", text: `p. ${page}` }) : null,
        ),
        el("span", { class: "source__quote", "data-testid": `${testid}-quote` }, quote),
      ),
    ),
  );
}

export class ChatView {
  /**
   * `elements`: {log, form, input, send, empty, scroller}; `store`: ChatStore;
   * `openDoc(docId, start, end)` shows a cited range; `filters()` gives the filter each question
   * is sent with (the set picker's choice), or null.
   */
  constructor(elements, store, openDoc, filters = () => null) {
    Object.assign(this, elements);
    this.store = store;
    this.openDoc = openDoc;
    this.filters = filters;
    this.live = new Map(); // turn id -> DOM node of an answer still streaming
    this.controller = null;

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.controller) this.controller.abort();
      else this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (!this.controller) this.submit();
      }
    });
    this.input.addEventListener("input", () => this.syncComposer());
    window.addEventListener("resize", () => this.syncComposer());
    this.syncComposer();
  }

  focusInput() {
    this.input.focus();
  }

  syncComposer() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 220)}px`;
    const busy = Boolean(this.controller);
    this.send.disabled = !busy && !this.input.value.trim();
    this.send.setAttribute("aria-label", busy ? "Stop answering" : "Send question");
    this.send.title = busy ? "Stop" : "Send (Enter)";
    this.send.dataset.state = busy ? "stop" : "send";
    replaceChildren(this.send, icon(busy ? "stop" : "send", 18));
  }

  /** Show the current chat from the store. */
  render() {
    const chat = this.store.current;
    const turns = chat ? chat.turns : [];
    this.empty.hidden = turns.length > 0;
    replaceChildren(
      this.log,
      turns.map((turn) => this.live.get(turn.id) || this.renderTurn(chat.id, turn)),
    );
    this.scrollToBottom(true);
  }

  scrollToBottom(force = false) {
    const s = this.scroller;
    const nearBottom = s.scrollHeight - s.scrollTop - s.clientHeight < 160;
    if (force || nearBottom) s.scrollTop = s.scrollHeight;
  }

  async submit() {
    const question = this.input.value.trim();
    if (!question || this.controller) return;
    const previous = this.store.current ? historyOf(this.store.current.turns) : [];
    const turn = this.store.addTurn(question);
    const chatId = this.store.currentId;
    this.input.value = "";
    this.render();
    await this.ask(chatId, turn, previous);
  }

  async ask(chatId, turn, history) {
    const node = this.renderTurn(chatId, turn, { streaming: true });
    const current = this.log.querySelector(`[data-turn-id="${CSS.escape(turn.id)}"]`);
    if (current) current.replaceWith(node);
    else this.log.append(node);
    this.live.set(turn.id, node);
    this.empty.hidden = true;
    this.scrollToBottom(true);

    const textNode = node.querySelector("[data-role=stream]");
    const status = node.querySelector("[data-role=thinking]");
    this.controller = new AbortController();
    this.syncComposer();

    const payload = { question: turn.question };
    if (history.length) payload.history = history;
    const filters = this.filters();
    if (filters) payload.filters = filters;
    let changes;
    try {
      const answer = await askStream(payload, {
        signal: this.controller.signal,
        onDelta: (text) => {
          if (status) status.hidden = true;
          textNode.textContent += text;
          this.scrollToBottom();
        },
      });
      changes = { answer, error: null };
    } catch (error) {
      const stopped = error && error.name === "AbortError";
      changes = { answer: null, error: stopped ? "Stopped before the answer was complete." : error.detail || String(error) };
    } finally {
      this.controller = null;
      this.live.delete(turn.id);
      this.syncComposer();
    }
    this.store.updateTurn(chatId, turn.id, changes);
    Object.assign(turn, changes);
    const finalNode = this.renderTurn(chatId, turn);
    if (node.isConnected) node.replaceWith(finalNode);
    this.scrollToBottom();
    if (changes.answer) {
      // Announce the finished answer once instead of every streamed fragment.
      announce(changes.answer.abstained ? "The documents do not cover this question." : changes.answer.answer);
    } else {
      announce(`No answer: ${changes.error}`);
    }
  }

  renderTurn(chatId, turn, { streaming = false } = {}) {
    let answer;
    if (streaming) answer = this.renderStreaming();
    else if (turn.answer) answer = this.renderAnswer(chatId, turn);
    else answer = this.renderError(chatId, turn);
    return el(
      "article",
      { class: "turn", "data-testid": "turn", "data-turn-id": turn.id },
      el("div", { class: "turn__question" }, el("p", { class: "bubble", "data-testid": "question", text: turn.question })),
      answer,
    );
  }

  renderStreaming() {
    return el(
      "section",
      {
        class: "answer answer--streaming",
        "data-testid": "answer",
        "data-state": "streaming",
        "aria-live": "polite",
        "aria-busy": "true",
        "aria-label": "Answer",
      },
      el("div", { class: "answer__avatar", "aria-hidden": "true" }, icon("spark", 16)),
      el(
        "div",
        { class: "answer__main" },
        el(
          "p",
          { class: "thinking", "data-role": "thinking" },
          el("span", { class: "dots", "aria-hidden": "true" }, el("span"), el("span"), el("span")),
          "Searching your documents…",
        ),
        el("div", { class: "answer__text", "data-testid": "answer-text" }, el("span", { "data-role": "stream" }), el("span", { class: "caret", "aria-hidden": "true" })),
      ),
    );
  }

  renderError(chatId, turn) {
    const retry = el("button", {
      type: "button",
      class: "button button--small",
      text: "Try again",
      onClick: () => {
        const chat = this.store.get(chatId);
        const index = chat ? chat.turns.findIndex((item) => item.id === turn.id) : -1;
        const history = index > 0 ? historyOf(chat.turns.slice(0, index)) : [];
        if (!this.controller) this.ask(chatId, turn, history);
      },
    });
    return el(
      "section",
      { class: "answer answer--error", "data-testid": "answer", "data-state": "error", "aria-label": "Answer" },
      el("div", { class: "answer__avatar", "aria-hidden": "true" }, icon("alert", 16)),
      el(
        "div",
        { class: "answer__main" },
        el("p", { class: "answer__error", role: "alert", "data-testid": "answer-error", text: turn.error || "Something went wrong." }),
        el("div", { class: "answer__actions" }, retry),
      ),
    );
  }

  renderAnswer(chatId, turn) {
    const answer = turn.answer;
    const citations = Array.isArray(answer.citations) ? answer.citations : [];
    const passages = Array.isArray(answer.passages) ? answer.passages : [];
    const main = el("div", { class: "answer__main" });

    if (answer.abstained) {
      main.append(
        el(
          "p",
          { class: "answer__badge", "data-testid": "abstention" },
          icon("info", 16),
          el("span", { text: "Not covered by your documents" }),
        ),
      );
    }
    const searched = searchedForNode(answer);
    if (searched) main.append(searched);
    if (answer.tentative) main.append(tentativeBadge());
    const text = String(answer.answer || "").trim() || (answer.abstained ? "The documents do not cover this question." : "");
    main.append(el("div", { class: "answer__text", "data-testid": "answer-text" }, answerTextNodes(text, citations, this.openDoc)));

    if (citations.length) {
      main.append(
        el("h3", { class: "answer__subhead", text: citations.length === 1 ? "Source" : "Sources" }),
        el(
          "ol",
          { class: "sources", "data-testid": "sources" },
          citations.map((citation) =>
            evidenceItem({
              marker: citation.marker,
              title: citation.title || citation.doc_id,
              page: citation.page,
              quote: quoteNodes(citation.quote, citation.start, citation.highlight),
              testid: "source",
              onOpen: () => this.openDoc(citation.doc_id, citation.start, citation.end),
            }),
          ),
        ),
      );
    }
    if ((answer.abstained || answer.tentative) && passages.length) {
      const items = passages.map((passage, index) => {
        const item = evidenceItem({
          title: passage.title || passage.doc_id,
          page: passage.page,
          quote: passage.text,
          testid: "passage",
          onOpen: () => this.openDoc(passage.doc_id, passage.start, passage.end),
        });
        item.hidden = index >= PASSAGES_SHOWN;
        return item;
      });
      const hiddenCount = Math.max(0, passages.length - PASSAGES_SHOWN);
      const more = hiddenCount
        ? el("button", {
            type: "button",
            class: "link-button",
            "data-testid": "more-passages",
            text: `Show ${hiddenCount} more`,
            onClick: (event) => {
              items.forEach((item) => {
                item.hidden = false;
              });
              event.currentTarget.remove();
            },
          })
        : null;
      main.append(
        el("h3", { class: "answer__subhead", text: "Closest passages" }),
        el("p", { class: "answer__hint", text: passagesHint(answer) }),
        el("ol", { class: "sources sources--passages", "data-testid": "passages" }, items),
        ...(more ? [more] : []), // Element.append would print a null as the text "null"
      );
    }
    main.append(this.renderActions(chatId, turn));

    return el(
      "section",
      {
        class: `answer answer--${answerState(answer)}`,
        "data-testid": "answer",
        "data-state": answerState(answer),
        "data-answer-id": answer.id || null,
        "aria-label": "Answer",
      },
      el("div", { class: "answer__avatar", "aria-hidden": "true" }, icon(answer.abstained ? "info" : "spark", 16)),
      main,
    );
  }

  renderActions(chatId, turn) {
    const answer = turn.answer;
    const wrap = el("div", { class: "answer__footer" });
    const status = el("p", { class: "feedback-status", role: "status", "data-testid": "feedback-status" });
    const recorded = turn.feedback;

    const copy = iconButton("copy", "Copy answer", { "data-testid": "copy-answer" });
    copy.addEventListener("click", async () => {
      const ok = await copyText(plainAnswer(answer));
      replaceChildren(copy, icon(ok ? "check" : "copy"));
      toast(ok ? "Answer copied" : "Could not copy; select the text instead", ok ? "info" : "error");
      window.setTimeout(() => replaceChildren(copy, icon("copy")), 1600);
    });

    const thumbs = ["up", "down"].map((rating) => {
      const button = iconButton(rating, rating === "up" ? "Good answer" : "Bad answer", {
        "data-testid": `feedback-${rating}`,
        "aria-pressed": recorded && recorded.rating === rating ? "true" : "false",
        disabled: Boolean(recorded),
      });
      button.addEventListener("click", () => openForm(rating));
      return button;
    });

    const comment = el("textarea", {
      class: "input feedback__comment",
      id: `comment-${turn.id}`,
      rows: "2",
      maxlength: "2000",
      placeholder: "What was helpful or wrong? (optional)",
      "data-testid": "feedback-comment",
    });
    const submit = el("button", { type: "submit", class: "button button--primary button--small", "data-testid": "feedback-submit", text: "Send feedback" });
    const cancel = el("button", { type: "button", class: "button button--small", text: "Cancel" });
    const formLabel = el("label", { class: "field__label", for: comment.id });
    const form = el(
      "form",
      { class: "feedback", "data-testid": "feedback-form", hidden: true },
      formLabel,
      comment,
      el("div", { class: "feedback__actions" }, cancel, submit),
    );
    let rating = null;
    const openForm = (value) => {
      rating = value;
      formLabel.textContent = value === "up" ? "Thanks! Anything to add? (optional)" : "What went wrong? (optional)";
      thumbs.forEach((button) => button.setAttribute("aria-pressed", String(button.dataset.testid === `feedback-${value}`)));
      form.hidden = false;
      comment.focus();
    };
    cancel.addEventListener("click", () => {
      form.hidden = true;
      thumbs.forEach((button) => button.setAttribute("aria-pressed", "false"));
    });
    comment.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.metaKey || event.ctrlKey)) form.requestSubmit();
      if (event.key === "Escape") {
        event.stopPropagation();
        cancel.click();
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      status.textContent = "Sending…";
      try {
        const body = { answer_id: answer.id, rating, comment: comment.value.trim(), question: turn.question };
        const result = await api("/feedback", { method: "POST", body });
        const feedback = { rating, comment: body.comment, id: result && result.id };
        this.store.updateTurn(chatId, turn.id, { feedback });
        turn.feedback = feedback;
        form.hidden = true;
        thumbs.forEach((button) => {
          button.disabled = true;
        });
        status.textContent = "Thanks, your feedback was recorded.";
        status.dataset.kind = "ok";
      } catch (error) {
        status.textContent = `Feedback not sent: ${error.detail || error}`;
        status.dataset.kind = "error";
      } finally {
        submit.disabled = false;
      }
    });

    if (recorded) {
      status.textContent = "Feedback recorded.";
      status.dataset.kind = "ok";
    }
    const total = answer.timings_ms && answer.timings_ms.total;
    wrap.append(
      el(
        "div",
        { class: "answer__actions" },
        copy,
        thumbs,
        el("span", { class: "answer__meta", text: total ? `Answered in ${formatMs(total)}` : "" }),
      ),
      form,
      status,
    );
    return wrap;
  }
}
