// The guards' checklist app: today's tasks, a task's checklist item by item, the room's QR
// checkpoint, sign-off, and an outbox that keeps every answer, photo and sign-off on the
// phone until the server has it. Plain browser modules: no build step, nothing loaded from
// outside the console, so it works on an archive's closed network and in a basement.
//
// The server's side is console/inspections_api.py (tasks, answers, photos, sign-off) and
// console/auth (who is logged in; the CSRF token). Routes, after the "#":
//   /                          today's tasks: to do, done, missed
//   /task/<id>/<n>             item n of a task's checklist; /task/<id>/sign: sign-off
//   /checkpoint/<site>/<room>  a scanned room QR code: that room's open task today
//   /outbox                    what is still on the phone, and what the server refused

import { getJson, reason, send, setCsrfToken, Unreachable } from "./api.js";
import { el, replaceKeepingFocus } from "./dom.js";
import { TEXT, chooseLanguage, rememberLanguage } from "./i18n.js";
import { listPages } from "./list_pages.js";
import { Outbox, State } from "./outbox.js";
import { downscale } from "./photo.js";
import { answersOf, missingItems, outOfLimits } from "./records.js";
import { API, sendRecord } from "./send_record.js";
import { taskPage } from "./task_page.js";

const LOGIN_PAGE = "/static/login.html";
const ME_KEY = "lantai.app.me"; // who was logged in, for a start without signal
const SITE_KEY = "lantai.app.site";
const CHECKPOINT_KEY = (taskId) => `lantai.app.checkpoint.${taskId}`;
// Task pages read ahead while there is signal, for the walk down to the stacks.
const PREFETCH_LIMIT = 30;
// A scan this long before a round's window opens still opens that round.
const EARLY_START_MS = 30 * 60 * 1000;

const view = {
  lang: chooseLanguage(),
  me: null,
  site: null,
  route: { name: "tasks" },
  online: navigator.onLine,
  list: null, // {tasks, fromCache, readAt} | {error} | {notCached}
  detail: null, // {id, task, readings, previous, alarms, fromCache, readAt} | {id, error|notCached}
  records: [], // the outbox, oldest first
  drafts: new Map(), // `${task}/${item}` -> {value, note}: typed but not yet recorded
  notice: null, // {key, args, kind}: what became of the guard's last action
  checkpoint: null, // {site, room, tasks}: a scan that matched no single task
  scans: new Map(), // task id -> {site, room, at}
};

const outbox = new Outbox(sendRecord);

// -- small helpers ---------------------------------------------------------------------

const t = (key, ...args) => {
  const text = TEXT[view.lang][key];
  return typeof text === "function" ? text(...args) : text;
};

// A server's words come in both languages; an old or local one may be plain text.
const words = (message) => (message && typeof message === "object" ? message[view.lang] : message || "");
const local = (text) => (text ? text[view.lang] || text.zh || text.en : "");

// Times in the site's zone when the server names it, else the phone's own (a guard's
// phone is in the archive's time zone).
function formatTime(iso, withDate = false, zone = null) {
  if (!iso) return "—";
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (zone) options.timeZone = zone;
  // 01/05 in Chinese is 5 January; in English "5 Jan" says it without a day-month puzzle.
  if (withDate)
    Object.assign(
      options,
      view.lang === "zh" ? { month: "2-digit", day: "2-digit" } : { month: "short", day: "numeric" },
    );
  return new Intl.DateTimeFormat(view.lang === "zh" ? "zh-CN" : "en-GB", options).format(new Date(iso));
}

const taskTime = (task, iso, withDate = false) => formatTime(iso, withDate, task.timezone || null);
const formatWindow = (task) => `${taskTime(task, task.window_start)}–${taskTime(task, task.window_end)}`;
const taskHash = (id, step) => `#/task/${encodeURIComponent(id)}/${step}`;

function stored(key) {
  try {
    return JSON.parse(window.localStorage.getItem(key) || "null");
  } catch (_) {
    return null; // storage switched off, or a value from an older app
  }
}

function store(key, value) {
  try {
    window.localStorage.setItem(key, JSON.stringify(value));
  } catch (_) {
    // Kept for this visit only.
  }
}

function recordCheckpoint(taskId, site, room) {
  const scan = { site, room, at: new Date().toISOString() };
  view.scans.set(String(taskId), scan);
  store(CHECKPOINT_KEY(taskId), scan);
}

const scanFor = (taskId) => view.scans.get(String(taskId)) || stored(CHECKPOINT_KEY(taskId));

// Back to this very page after logging in (a scanned checkpoint, a task's item).
function loginHref() {
  const here = `${window.location.pathname}${window.location.hash}`;
  return `${LOGIN_PAGE}?next=${encodeURIComponent(here)}`;
}

// -- loading --------------------------------------------------------------------------

async function loadMe() {
  try {
    const { status, data } = await getJson(API.me);
    if (status === 401) {
      window.location.assign(loginHref());
      return "login";
    }
    if (status === 200) {
      // The CSRF token rides along: the cookie holds it too, but this way a browser
      // that hides script-readable cookies still has it.
      setCsrfToken(data.csrf_token);
      view.me = data.user;
      store(ME_KEY, data.user);
    }
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
  }
  // No signal and no kept copy: carry on as whoever was logged in last on this phone.
  view.me = view.me || stored(ME_KEY);
  if (view.me) {
    const sites = view.me.sites || [];
    const chosen = stored(SITE_KEY);
    view.site = sites.includes(chosen) ? chosen : sites[0] || null;
  }
  return view.me !== null;
}

// A guard sees the guards' rounds; others (a stack manager is a supervisor here) see the
// site's whole day, since template roles are not account roles.
function tasksQuery(site) {
  const query = {};
  if (site) query.site = site;
  if (view.me && view.me.role === "guard") query.role = "guard";
  return query;
}

async function loadTasks(site = view.site) {
  try {
    const { status, data, fromCache, readAt } = await getJson(API.tasks(tasksQuery(site)));
    if (status === 401) return window.location.assign(loginHref());
    if (status !== 200) {
      view.list = { error: reason(status, data) };
      return;
    }
    view.list = { tasks: data, fromCache, readAt };
    if (!fromCache) prefetch(data);
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    view.list = { notCached: true };
  }
}

async function loadTask(id) {
  try {
    const { status, data, fromCache, readAt } = await getJson(API.task(id));
    if (status === 401) return window.location.assign(loginHref());
    if (status !== 200) {
      view.detail = { id, error: reason(status, data) };
      return;
    }
    // The task page is the task, plus the room's sensor values by field, its photos,
    // the room's previous sign-off and every alarm in the room since (newest first).
    view.detail = {
      id,
      task: data,
      readings: data.readings || {},
      previous: data.previous_signed_at || null,
      alarms: data.alarms_since_previous || [],
      fromCache,
      readAt,
    };
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    view.detail = { id, notCached: true };
  }
}

// Read the open tasks' pages once while there is signal, so that the service worker holds
// them for the basement; the answers themselves are not needed here.
function prefetch(tasks) {
  if (!navigator.serviceWorker || !navigator.serviceWorker.controller) return;
  const open = tasks.filter((task) => task.status === "open").slice(0, PREFETCH_LIMIT);
  for (const task of open) getJson(API.task(task.id)).catch(() => null);
}

// -- routes ----------------------------------------------------------------------------

function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "task" && parts[1]) {
    const step = parts[2] === "sign" ? "sign" : Math.max(1, Number.parseInt(parts[2] || "1", 10) || 1);
    return { name: "task", id: parts[1], step };
  }
  if (parts[0] === "checkpoint" && parts[1] && parts[2]) {
    return { name: "checkpoint", site: parts[1], room: parts[2] };
  }
  if (parts[0] === "outbox") return { name: "outbox" };
  return { name: "tasks" };
}

async function route() {
  const previous = view.route;
  view.route = parseRoute(window.location.hash);
  const sameTask = previous.name === "task" && view.route.name === "task" && previous.id === view.route.id;
  if (!sameTask && !(view.notice && view.notice.keep)) view.notice = null;
  if (view.notice) view.notice.keep = false;
  if (view.route.name === "tasks") {
    renderView();
    await loadTasks();
  } else if (view.route.name === "task" && !sameTask) {
    // Shown at once if it is the task last open; read again all the same.
    if (!view.detail || view.detail.id !== view.route.id) view.detail = null;
    renderView();
    await loadTask(view.route.id);
  } else if (view.route.name === "checkpoint") {
    view.checkpoint = null;
    renderView();
    await openCheckpoint(view.route.site, view.route.room);
    return;
  }
  renderView();
  if (view.route.name === "task") document.getElementById("view").focus({ preventScroll: true });
}

// A scanned room: its open task today, with the scan kept as where the sign-off is made.
async function openCheckpoint(site, room) {
  await loadTasks(site);
  const tasks = (view.list && view.list.tasks) || [];
  const open = tasks.filter((task) => task.site === site && task.room === room && task.status === "open");
  // The round the guard is on: its window has opened (a little early is fine). The
  // afternoon's round of the same room waits its turn unless it is the only one left.
  const soon = Date.now() + EARLY_START_MS;
  const started = open.filter((task) => new Date(task.window_start).getTime() <= soon);
  if (started.length === 1) {
    recordCheckpoint(started[0].id, site, room);
    view.notice = { key: "checkpointScanned", args: [room], kind: "ok", keep: true };
    window.location.replace(taskHash(started[0].id, 1));
    return;
  }
  // Several rounds under way (one overdue, say): the guard picks. None yet: say so, and
  // show what comes later today.
  view.checkpoint = { site, room, tasks: started.length ? started : open, started: started.length > 0 };
  renderView();
}

// -- answering -----------------------------------------------------------------------

function draft(taskId, itemKey) {
  const key = `${taskId}/${itemKey}`;
  if (!view.drafts.has(key)) view.drafts.set(key, {});
  return view.drafts.get(key);
}

function goToStep(task, step) {
  window.location.hash = taskHash(task.id, step);
}

function nextStep(task, index) {
  return index + 1 < task.items.length ? index + 2 : "sign";
}

async function recordAnswer(task, item, result, value = null) {
  const typed = draft(task.id, item.key);
  const current = answersOf(task, view.records).get(item.key);
  const note = (typed.note ?? (current ? current.note : "") ?? "").trim();
  await outbox.add("answer", task.id, { item_key: item.key, result, value, note });
  view.drafts.delete(`${task.id}/${item.key}`);
  view.notice = null;
  await refreshRecords();
  const index = task.items.indexOf(item);
  // A pass moves on; a fail stays, so the guard can say what is wrong and take a photo.
  if (result === "fail") renderView();
  else goToStep(task, nextStep(task, index));
}

async function recordReading(task, item) {
  const input = document.getElementById("reading-input");
  const value = input && input.value.trim() !== "" ? Number(input.value) : null;
  if (value === null || Number.isNaN(value)) {
    view.notice = { key: "enterReading", args: [], kind: "error" };
    renderView();
    document.getElementById("reading-input").focus();
    return;
  }
  // The server judges it too (a reading outside its limits fails whatever is sent).
  await recordAnswer(task, item, outOfLimits(value, item) ? "fail" : "pass", value);
}

async function saveNote(task, item) {
  const current = answersOf(task, view.records).get(item.key);
  if (current) await recordAnswer(task, item, current.result, current.value ?? null);
}

async function addPhoto(task, item, file) {
  try {
    const { blob, width, height } = await downscale(file);
    await outbox.add("photo", task.id, { item_key: item.key, width, height }, { blob });
    view.notice = { key: "photoSaved", args: [], kind: "ok" };
    // A photo item is answered by its photo.
    if (item.kind === "photo" && !answersOf(task, view.records).get(item.key)) {
      await outbox.add("answer", task.id, { item_key: item.key, result: "pass", value: null, note: "" });
    }
  } catch (error) {
    console.error(error);
    view.notice = { key: "photoFailed", args: [], kind: "error" };
  }
  await refreshRecords();
  renderView();
}

async function signOff(task) {
  const missing = missingItems(task, view.records);
  if (missing.length) {
    view.notice = null;
    renderView();
    document.getElementById("missing").focus();
    return;
  }
  // Signing again after a refusal: the refused sign-off said all it had to say.
  for (const old of view.records) {
    if (String(old.task_id) === String(task.id) && old.kind === "signoff" && old.state !== State.WAITING) {
      await outbox.remove(old.seq);
    }
  }
  const scan = scanFor(task.id);
  await outbox.add("signoff", task.id, { checkpoint: scan ? scan.room : null });
  view.notice = null;
  await refreshRecords();
  renderView();
}

async function chooseSite(site) {
  view.site = site;
  store(SITE_KEY, site);
  await loadTasks();
  renderView();
}

async function dismiss(record) {
  if (!window.confirm(t("dismissConfirm"))) return;
  await outbox.remove(record.seq);
  await refreshRecords();
  renderView();
}

// -- rendering: the frame ----------------------------------------------------------------

function renderStatic() {
  document.documentElement.lang = view.lang === "zh" ? "zh-CN" : "en";
  document.getElementById("app-name").textContent = t("appName");
  document.title = t("appName");
  const toggle = document.getElementById("lang-toggle");
  toggle.textContent = t("toggle");
  toggle.lang = view.lang === "zh" ? "en" : "zh-CN";
  document.getElementById("user").textContent = view.me ? view.me.display_name || view.me.username : "";
  renderBanner();
}

function renderBanner() {
  const counts = { waiting: 0, failed: 0, refused: 0, held: 0 };
  for (const record of view.records) {
    // Another user's records, once it is known who is logged in.
    if (record.state === State.WAITING && outbox.user && !outbox.mine(record)) counts.held += 1;
    else counts[record.state] += 1;
  }
  const banner = document.getElementById("net-banner");
  const text = document.getElementById("net-text");
  let kind = null;
  if (!view.online) {
    kind = "offline";
    text.textContent = t("offlineBanner", counts.waiting);
  } else if (counts.waiting && !outbox.needsLogin) {
    kind = "sending";
    text.textContent = outbox.retryTimer
      ? t("waitingBanner", counts.waiting)
      : t("sendingBanner", counts.waiting);
  } else if (counts.failed + counts.refused) {
    kind = "failed";
    text.textContent = t("failedBanner", counts.failed + counts.refused);
  } else if (counts.held) {
    kind = "held";
    text.textContent = t("heldBanner", counts.held);
  }
  banner.hidden = kind === null;
  banner.dataset.kind = kind || "";
  const link = document.getElementById("net-link");
  const kept = counts.waiting + counts.failed + counts.refused + counts.held;
  link.hidden = kept === 0 || view.route.name === "outbox";
  link.textContent = t("outbox");
  // For tests and styling: how many records wait, and whether the phone thinks it is online.
  document.body.dataset.waiting = String(counts.waiting + counts.held);
  document.body.dataset.online = String(view.online);

  document.getElementById("login-banner").hidden = !outbox.needsLogin;
  document.getElementById("login-text").textContent = t("loginAgain");
  const login = document.getElementById("login-link");
  login.textContent = t("loginAgainLink");
  login.href = loginHref();
}

// The pages, built once with what they read (the state, the words) and do (the actions).
const ui = {
  view,
  t,
  words,
  local,
  formatTime,
  taskTime,
  formatWindow,
  taskHash,
  act: {
    goToStep,
    nextStep,
    draft,
    scanFor,
    recordCheckpoint,
    recordAnswer,
    recordReading,
    saveNote,
    addPhoto,
    signOff,
    dismiss,
    retry: (record) => outbox.retry(record.seq),
    mine: (record) => outbox.mine(record),
    chooseSite,
    logOut,
  },
};
const pages = listPages(ui);
ui.parts = pages;
const renderTaskPage = taskPage(ui);

function renderView() {
  renderStatic();
  let content;
  if (!view.me) content = [el("p", { class: "quiet", text: t("loading") })];
  else if (view.route.name === "task") content = renderTaskPage();
  else if (view.route.name === "checkpoint") content = pages.checkpoint();
  else if (view.route.name === "outbox") content = pages.outbox();
  else content = pages.tasks();
  replaceKeepingFocus(document.getElementById("view"), content);
  document.body.dataset.view = view.route.name;
  document.body.dataset.ready = "true";
}

// -- keeping the view in step with the outbox ---------------------------------------------

async function refreshRecords() {
  view.records = await outbox.all();
}

// What the server now holds is shown at once, before the task is read again.
function applySent({ record, data }) {
  const detail = view.detail;
  if (!detail || !detail.task || String(detail.task.id) !== String(record.task_id) || !data) return;
  const task = detail.task;
  if (record.kind === "answer" && data.answer) {
    const kept = task.answers.find((a) => a.item_key === data.answer.item_key);
    const photos = kept ? kept.photo_ids : [];
    task.answers = [
      ...task.answers.filter((a) => a.item_key !== data.answer.item_key),
      { ...data.answer, photo_ids: [...new Set([...photos, ...data.answer.photo_ids])] },
    ];
  } else if (record.kind === "photo") {
    const kept = task.answers.find((a) => a.item_key === record.body.item_key);
    if (kept && !kept.photo_ids.includes(data.id)) kept.photo_ids = [...kept.photo_ids, data.id];
    if (Array.isArray(task.photos) && !task.photos.some((p) => p.id === data.id))
      task.photos = [...task.photos, data];
  } else if (record.kind === "signoff" && data.id) {
    // The sign-off answers with the task; the page's extras stay until it is read again.
    detail.task = { ...task, ...data };
  }
}

let reloadTimer = null;
// Once nothing waits, read the page again: the server's own word on each task.
function reloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(async () => {
    if (!view.online || view.records.some((r) => r.state === State.WAITING)) return;
    if (view.route.name === "task" && view.detail) await loadTask(view.route.id);
    else if (view.route.name === "tasks") await loadTasks();
    renderView();
  }, 300);
}

// Logging out on a shared phone: the next guard must not see this one's tasks offline, so
// the kept pages go; records not yet sent stay, and go with this guard's next login.
async function logOut() {
  const waiting = view.records.filter((r) => r.state === State.WAITING && outbox.mine(r)).length;
  if (waiting && !window.confirm(t("logoutWaiting", waiting))) return;
  try {
    await send("POST", API.logout, {});
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    // Without signal the session stays on the server until it times out; the phone
    // forgets it all the same.
  }
  window.localStorage.removeItem(ME_KEY);
  if (window.caches) {
    for (const name of await window.caches.keys()) {
      if (name.endsWith("-data")) await window.caches.delete(name);
    }
  }
  window.location.assign(`${LOGIN_PAGE}?next=${encodeURIComponent(window.location.pathname)}`);
}

function toggleLanguage() {
  view.lang = view.lang === "zh" ? "en" : "zh";
  rememberLanguage(view.lang);
  renderView();
}

async function start() {
  document.getElementById("lang-toggle").addEventListener("click", toggleLanguage);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker
      .register("./sw.js", { scope: "./" })
      .then((registration) => registration.active && registration.active.postMessage("trim"))
      .catch((error) => {
        console.warn("no offline support:", error);
      });
  }
  if ("serviceWorker" in navigator) {
    // On the very first visit the page asked for its data before the service worker took
    // charge, so nothing was kept: read it again through the worker, for the basement.
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      if (view.route.name === "tasks") loadTasks().then(renderView);
      else if (view.route.name === "task") loadTask(view.route.id).then(renderView);
    });
  }
  window.addEventListener("online", () => {
    view.online = true;
    renderBanner();
    reloadSoon();
  });
  window.addEventListener("offline", () => {
    view.online = false;
    renderBanner();
  });
  outbox.addEventListener("change", async () => {
    await refreshRecords();
    renderView();
  });
  outbox.addEventListener("sent", (event) => {
    applySent(event.detail);
    reloadSoon();
  });
  await refreshRecords();
  renderStatic();
  const me = await loadMe();
  if (me !== true) {
    if (me === false) {
      document
        .getElementById("view")
        .replaceChildren(el("p", { class: "notice error", id: "not-cached", text: t("notCached") }));
      document.body.dataset.ready = "true";
    }
    return;
  }
  outbox.user = view.me.username;
  outbox.start();
  window.addEventListener("hashchange", route);
  await route();
}

start();
