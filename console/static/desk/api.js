// Talking to the console's API: the session cookie rides along (same origin), every change
// carries the CSRF token, every request has a time limit (a hung request must not stop a
// refresh loop), and a 401 from anywhere sends the person to the login page, which brings
// them back here afterwards.

const CSRF_COOKIE = "lantai_csrf";
const CSRF_HEADER = "X-CSRF-Token";
// The audit trail records acknowledgements from this page as via=console, not via=api.
const CLIENT_HEADER = { "X-Lantai-Client": "console" };
const TIMEOUT_MS = 8000;

let csrfFromSession = null;
let leaving = false;

/** The token /api/auth/me returned: used when the cookie cannot be read. */
export function setCsrfToken(token) {
  csrfFromSession = token || null;
}

function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return csrfFromSession;
}

/** No answer at all: the network, or a server that is down or too slow. */
export class Unreachable extends Error {}

/** An HTTP answer that is not a success; ``reason`` says why in both languages. */
export class ApiError extends Error {
  constructor(status, data) {
    const why = reason(status, data);
    super(why.en);
    this.status = status;
    this.data = data;
    this.reason = why;
  }
}

/** The session has ended: the page is on its way to the login page. */
export class LoggedOut extends Error {}

const UNREACHABLE = { zh: "无法连接服务器", en: "cannot reach the server" };

/**
 * What to tell the person about a failed request, as {zh, en}: the server's reason, or
 * that it could not be reached; null when the session ended (the page is leaving for the
 * login). Any other error is a bug in the page and is thrown on, never hidden.
 */
export function failureOf(error) {
  if (error instanceof LoggedOut) return null;
  if (error instanceof ApiError) return error.reason;
  if (error instanceof Unreachable) return UNREACHABLE;
  throw error;
}

/** The login page's address, coming back to this very view (the hash included). */
export function loginUrl() {
  const here = `${window.location.pathname}${window.location.search}${window.location.hash}`;
  return `/login?next=${encodeURIComponent(here)}`;
}

export function goToLogin() {
  if (leaving) return;
  leaving = true;
  window.location.assign(loginUrl());
}

async function timed(url, options) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    return await fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      ...options,
      signal: abort.signal,
    });
  } catch (error) {
    throw new Unreachable(error && error.name === "AbortError" ? "timeout" : String(error));
  } finally {
    clearTimeout(timer);
  }
}

async function body(response) {
  if (response.status === 204) return null;
  try {
    return await response.json();
  } catch (_) {
    return null; // an error page from a proxy: the status says enough
  }
}

function checkLoggedIn(response) {
  if (response.status === 401) {
    goToLogin();
    throw new LoggedOut("401");
  }
}

/** GET ``url`` as JSON; throws ApiError for any answer but 2xx, Unreachable for none. */
export async function getJson(url) {
  const response = await timed(url, { headers: { Accept: "application/json" } });
  checkLoggedIn(response);
  const data = await body(response);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** GET ``url``; null when the route does not exist (404), for optional features. */
export async function getOptional(url) {
  try {
    return await getJson(url);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return null;
    throw error;
  }
}

/** POST, PUT or DELETE JSON with the CSRF token; resolves to {status, data}. */
export async function send(method, url, payload) {
  const headers = {
    Accept: "application/json",
    [CSRF_HEADER]: csrfToken() || "",
    ...CLIENT_HEADER,
  };
  const options = { method, headers };
  if (payload !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(payload);
  }
  const response = await timed(url, options);
  checkLoggedIn(response);
  return { status: response.status, data: await body(response) };
}

/**
 * The server's reason as {zh, en}. Some routes say it in both languages
 * (``{"detail": {"zh", "en"}}`` or "中文 / English"); FastAPI's own errors say it once.
 */
export function reason(status, data) {
  const detail = data && data.detail;
  if (detail && typeof detail === "object" && !Array.isArray(detail) && (detail.zh || detail.en)) {
    return { zh: detail.zh || detail.en, en: detail.en || detail.zh };
  }
  if (typeof detail === "string") {
    const split = detail.split(" / ");
    if (split.length === 2 && /[\u4e00-\u9fff]/.test(split[0])) return { zh: split[0], en: split[1] };
    return { zh: detail, en: detail };
  }
  if (Array.isArray(detail) && detail.length) {
    const text = detail.map((d) => (d && d.msg ? d.msg : JSON.stringify(d))).join("; ");
    return { zh: text, en: text };
  }
  return { zh: `HTTP ${status}`, en: `HTTP ${status}` };
}
