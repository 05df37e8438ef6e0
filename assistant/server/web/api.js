// HTTP client for the assistant's API: bearer-key handling, JSON errors, SSE streaming, uploads.

const KEY_STORAGE = "assistant.apiKey";

/** An API failure with the server's human-readable `detail`. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
}

let keyPrompt = null;
let pendingPrompt = null;

/** Register the UI callback that asks the user for an API key: ({rejected}) => Promise<string|null>. */
export function setKeyPrompt(prompt) {
  keyPrompt = prompt;
}

function storedKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

/** Fired on window when the key changes, so views that depend on the caller reload. */
export const KEY_CHANGED = "assistant:key-changed";

function storeKey(key) {
  const changed = key !== storedKey();
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage disabled: the key then lives only as long as this request.
  }
  if (changed) window.dispatchEvent(new Event(KEY_CHANGED));
}

function authHeaders() {
  const key = storedKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// Concurrent 401s share one prompt so the user is asked once, not once per request.
async function obtainKey(rejected) {
  if (!keyPrompt) return null;
  if (!pendingPrompt) {
    pendingPrompt = Promise.resolve(keyPrompt({ rejected })).finally(() => {
      pendingPrompt = null;
    });
  }
  const key = ((await pendingPrompt) || "").trim();
  storeKey(key);
  return key || null;
}

/**
 * Run `send(headers)` and, on 401, ask for a key and retry while the user keeps offering one.
 * `send` returns anything with a numeric `status`. With `promptForKey: false` a 401 is returned.
 */
async function withAuth(send, { promptForKey = true } = {}) {
  for (;;) {
    const response = await send(authHeaders());
    if (response.status !== 401 || !promptForKey) return response;
    const rejected = Boolean(storedKey());
    const key = await obtainKey(rejected);
    if (!key) return response;
  }
}

function detailFrom(status, body, fallback) {
  if (body && typeof body.detail === "string" && body.detail) return body.detail;
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((item) => item.msg || JSON.stringify(item)).join("; ");
  }
  if (status === 401) return "An API key is required for this action.";
  if (status === 0) return "The server could not be reached. Check your connection and try again.";
  return fallback || `The server answered ${status}.`;
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return new ApiError(response.status, detailFrom(response.status, body, response.statusText));
}

/** GET with auth for a non-JSON body (the CSV export); resolves to its text. */
export async function apiText(path) {
  const response = await withAuth((auth) => doFetch(path, { headers: { ...auth } }));
  if (!response.ok) throw await errorFrom(response);
  return response.text();
}

async function doFetch(path, init) {
  try {
    return await fetch(path, init);
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    throw new ApiError(0, detailFrom(0, null));
  }
}

/** JSON request with auth; resolves to the parsed body or throws ApiError (`promptForKey: false`:
 * a 401 throws instead of asking for a key). */
export async function api(path, { method = "GET", body, signal, promptForKey = true } = {}) {
  const response = await withAuth((auth) =>
    doFetch(path, {
      method,
      signal,
      headers: {
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...auth,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    { promptForKey },
  );
  if (!response.ok) throw await errorFrom(response);
  return response.status === 204 ? null : response.json();
}

/** Parse one SSE block ("event: x\ndata: y") into {event, data}. */
function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return { event, data: data.join("\n") };
}

/**
 * POST /ask/stream and read server-sent events from the response body.
 * Calls onDelta(text) for each `delta`; resolves to the final Answer JSON.
 */
export async function askStream(payload, { onDelta, signal } = {}) {
  const response = await withAuth((auth) =>
    doFetch("/ask/stream", {
      method: "POST",
      signal,
      headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...auth },
      body: JSON.stringify(payload),
    }),
  );
  if (!response.ok) throw await errorFrom(response);
  if (!response.body) throw new ApiError(0, "This browser cannot read streamed answers.");

  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let answer = null;

  const handle = (block) => {
    const { event, data } = parseEvent(block);
    if (!data) return;
    let parsed;
    try {
      parsed = JSON.parse(data);
    } catch {
      throw new ApiError(0, "The server sent a malformed event.");
    }
    if (event === "delta" && onDelta) onDelta(String(parsed.text ?? ""));
    else if (event === "answer") answer = parsed;
    else if (event === "error") {
      throw new ApiError(parsed.status || 500, detailFrom(500, parsed, "The answer failed."));
    }
  };

  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    // Normalise line endings, keeping a trailing \r in case its \n is in the next chunk.
    const keepCr = !done && buffer.endsWith("\r");
    buffer = buffer.slice(0, keepCr ? -1 : undefined).replace(/\r\n?/g, "\n") + (keepCr ? "\r" : "");
    let boundary;
    while ((boundary = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      handle(block);
    }
    if (done) break;
  }
  if (buffer.trim()) handle(buffer);
  if (!answer) throw new ApiError(0, "The answer stream ended before the answer was complete.");
  return answer;
}

function xhrUpload(files, headers, onProgress) {
  return new Promise((resolve) => {
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/documents");
    xhr.setRequestHeader("Accept", "application/json");
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    });
    const finish = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      resolve({ status: xhr.status, body, statusText: xhr.statusText });
    };
    xhr.addEventListener("load", finish);
    xhr.addEventListener("error", () => resolve({ status: 0, body: null, statusText: "" }));
    xhr.addEventListener("abort", () => resolve({ status: 0, body: null, statusText: "aborted" }));
    xhr.send(form);
  });
}

/** Upload files as multipart field `files`; onProgress(0..1) follows the upload. Resolves to {job_id}. */
export async function uploadFiles(files, onProgress) {
  const result = await withAuth((auth) => xhrUpload(files, auth, onProgress));
  if (result.status < 200 || result.status >= 300) {
    throw new ApiError(result.status, detailFrom(result.status, result.body, result.statusText));
  }
  return result.body;
}

const sleep = (ms) => new Promise((resolve) => window.setTimeout(resolve, ms));

/** Poll GET /jobs/{id} until it is done or failed; onStatus(job) sees each state. */
export async function waitForJob(jobId, onStatus, { intervalMs = 400, timeoutMs = 15 * 60_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await api(`/jobs/${encodeURIComponent(jobId)}`);
    if (onStatus) onStatus(job);
    if (job.status === "done" || job.status === "failed") return job;
    if (Date.now() > deadline) throw new ApiError(0, "Indexing is taking too long; check back later.");
    await sleep(intervalMs);
  }
}
