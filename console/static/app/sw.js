// The checklist app's service worker: the app opens and shows the last task list and task
// pages it read when there is no connection (a stack room in a basement).
//
// Every GET it handles is network-first: the newest answer from the server when it comes
// in time, else the copy kept from the last time, marked with when it was read. Answers,
// photos and sign-offs (POSTs) are not its business: the page keeps them in its IndexedDB
// outbox and sends them itself, so that it can show the guard what has and has not gone.
"use strict";

const VERSION = "lantai-checklist-v1";
const SHELL_CACHE = `${VERSION}-shell`;
const DATA_CACHE = `${VERSION}-data`; // api.js reads it too when the network is slow
// Waiting longer than this on one bar of signal is worse than showing the kept copy.
const NETWORK_TIMEOUT_MS = 6000;

// Relative to this file, so the app works wherever the console mounts it.
const SHELL = [
  "./",
  "./app.js",
  "./api.js",
  "./i18n.js",
  "./outbox.js",
  "./photo.js",
  "./records.js",
  "./dom.js",
  "./list_pages.js",
  "./task_page.js",
  "./send_record.js",
  "./app.css",
  "./manifest.webmanifest",
  "./icon.svg",
  "./icon-maskable.svg",
];

// The reads worth keeping for a walk without signal: who is logged in, the sites, and the
// inspection tasks (the list and each task page, with the room's readings and alarms).
// Photos and reports are left to the network.
const KEPT_API = [/^\/api\/auth\/me$/, /^\/api\/sites$/, /^\/api\/inspections\/tasks(\/[^/]+)?$/];
// Kept pages older than this are of no use to a patrol (they are yesterday's and before).
const KEEP_DAYS = 3;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL_CACHE)
      .then((cache) => cache.addAll(SHELL.map((path) => new Request(path, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (!name.startsWith(VERSION)) await caches.delete(name);
      }
      await trimData();
      // Control the page that registered us at once: its first task list is kept too.
      await self.clients.claim();
    })(),
  );
});

// The app asks for a trim each time it starts: a phone that is never restarted still
// forgets last week's task pages.
self.addEventListener("message", (event) => {
  if (event.data === "trim") event.waitUntil(trimData());
});

async function trimData() {
  const cache = await caches.open(DATA_CACHE);
  const oldest = Date.now() - KEEP_DAYS * 24 * 3600 * 1000;
  for (const request of await cache.keys()) {
    const kept = await cache.match(request);
    const readAt = kept && Date.parse(kept.headers.get("X-Lantai-Read-At") || "");
    if (!readAt || readAt < oldest) await cache.delete(request);
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const scope = new URL(self.registration.scope).pathname;
  if (request.mode === "navigate" || url.pathname.startsWith(scope)) {
    event.respondWith(networkFirst(request, SHELL_CACHE, request.mode === "navigate"));
  } else if (KEPT_API.some((pattern) => pattern.test(url.pathname))) {
    event.respondWith(networkFirst(request, DATA_CACHE, false));
  }
});

async function networkFirst(request, cacheName, ignoreSearch) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetchWithTimeout(request);
    if (response.ok) await cache.put(request, await stamped(response.clone()));
    return response;
  } catch (error) {
    const kept = await cache.match(request, { ignoreSearch });
    if (kept) return fromCache(kept);
    // Say "no connection" as a network error, as the page would have seen without us.
    throw error;
  }
}

function fetchWithTimeout(request) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), NETWORK_TIMEOUT_MS);
  return fetch(request, { signal: abort.signal }).finally(() => clearTimeout(timer));
}

// Kept copies carry the time they were read, so the page can say how old they are.
async function stamped(response) {
  const headers = new Headers(response.headers);
  headers.set("X-Lantai-Read-At", new Date().toISOString());
  return new Response(await response.blob(), {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}

async function fromCache(response) {
  const headers = new Headers(response.headers);
  headers.set("X-Lantai-From-Cache", "1");
  return new Response(await response.blob(), {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}
