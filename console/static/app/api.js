// Talking to the console's REST API: same-origin cookies for the session, the CSRF token
// on every request that changes something, and a time limit on every request, because a
// phone with one bar of signal can leave a request hanging for minutes.

const CSRF_COOKIE = "lantai_csrf";
const CSRF_HEADER = "X-CSRF-Token";
const TIMEOUT_MS = 8000;
// Photos go up on the same one bar: give them longer before calling it lost.
const UPLOAD_TIMEOUT_MS = 30000;

let csrfFromLogin = null;

/** The login answer's token, when the login page hands it over instead of a cookie. */
export function setCsrfToken(token) {
  csrfFromLogin = token || null;
}

function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return csrfFromLogin;
}

/** A failure to reach the server at all (no signal, timeout), as opposed to an answer. */
export class Unreachable extends Error {}

async function timed(url, options, timeoutMs) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    return await fetch(url, { credentials: "same-origin", ...options, signal: abort.signal });
  } catch (error) {
    throw new Unreachable(error && error.name === "AbortError" ? "timeout" : String(error));
  } finally {
    clearTimeout(timer);
  }
}

async function body(response) {
  try {
    return await response.json();
  } catch (_) {
    return null; // an error page from a proxy: the status says enough
  }
}

/**
 * GET ``url``; resolves to {status, data, fromCache, readAt} for any HTTP answer, and
 * throws Unreachable when there is none (nor a kept copy from the service worker).
 */
export async function getJson(url) {
  let response;
  try {
    response = await timed(url, { headers: { Accept: "application/json" } }, TIMEOUT_MS);
  } catch (error) {
    // The service worker answers from its copy when the network fails, but a slow phone
    // can run out of time first: read the same copy from here before saying there is none.
    response = await keptCopy(url);
    if (!response) throw error;
  }
  const fromCache = response.headers.get("X-Lantai-From-Cache") === "1";
  // When this page last read the URL itself; the service worker's stamp is the fallback.
  const key = `lantai.app.read.${url}`;
  if (!fromCache && response.ok) remember(key, new Date().toISOString());
  return {
    status: response.status,
    data: await body(response),
    fromCache,
    readAt: fromCache ? recall(key) || response.headers.get("X-Lantai-Read-At") : null,
  };
}

// The service worker's data cache (sw.js DATA_CACHE), read from the page.
const DATA_CACHE = "lantai-checklist-v1-data";

async function keptCopy(url) {
  if (!window.caches) return null;
  try {
    const cache = await window.caches.open(DATA_CACHE);
    const kept = await cache.match(new URL(url, window.location.href).href);
    if (!kept) return null;
    const headers = new Headers(kept.headers);
    headers.set("X-Lantai-From-Cache", "1");
    return new Response(await kept.blob(), { status: kept.status, headers });
  } catch (_) {
    return null;
  }
}

function remember(key, value) {
  try {
    window.sessionStorage.setItem(key, value);
  } catch (_) {
    // The service worker's stamp will do.
  }
}

function recall(key) {
  try {
    return window.sessionStorage.getItem(key);
  } catch (_) {
    return null;
  }
}

/** POST JSON (or a FormData for a photo) with the CSRF token; resolves to {status, data}. */
export async function send(method, url, payload) {
  const headers = { Accept: "application/json", [CSRF_HEADER]: csrfToken() || "" };
  let requestBody = payload;
  if (!(payload instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    requestBody = JSON.stringify(payload);
  }
  const timeout = payload instanceof FormData ? UPLOAD_TIMEOUT_MS : TIMEOUT_MS;
  const response = await timed(url, { method, headers, body: requestBody, cache: "no-store" }, timeout);
  return { status: response.status, data: await body(response) };
}

/**
 * The server's reason, as {zh, en}: the inspections API says it in both languages
 * (``{"detail": {"reason", "zh", "en"}}``); FastAPI's own errors say it once.
 */
export function reason(status, data) {
  const detail = data && data.detail;
  if (detail && typeof detail === "object" && !Array.isArray(detail) && (detail.zh || detail.en)) {
    return { zh: detail.zh || detail.en, en: detail.en || detail.zh };
  }
  let text = `HTTP ${status}`;
  if (typeof detail === "string") text = detail;
  else if (Array.isArray(detail) && detail.length) {
    text = detail.map((d) => (d && d.msg ? d.msg : JSON.stringify(d))).join("; ");
  }
  return { zh: text, en: text };
}

/** How the outbox should treat a server's answer to one of its records. */
export function outcomeOf(status, data) {
  if (status >= 200 && status < 300) return { outcome: "sent", data };
  if (status === 401) return { outcome: "auth" };
  if (status === 409 || status === 422) return { outcome: "refused", message: reason(status, data) };
  // A timeout, too many requests, or the server's own trouble: try again later.
  if (status === 408 || status === 429 || status >= 500) {
    return { outcome: "retry", message: reason(status, data) };
  }
  return { outcome: "failed", message: reason(status, data) };
}
