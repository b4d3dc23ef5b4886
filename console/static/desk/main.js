// The security desk: who is logged in, the site, the live alarm stream, the sound, and the
// pages after the "#" (plain browser modules: no build step, nothing loaded from outside
// the console, so the desk works on an archive network cut off from the internet).
//
//   #/                       the desk: the live alarm queue and the room status board
//   #/alarm/<id>             an alarm's timeline, readings around it, and its procedure
//   #/room/<site>/<room>     a room: charts with the allowed band, door, sensors, patrols
//   #/sensors                sensor health: offline, stale, low battery, quarantine
//
// Data: /api/auth/me (who, role, sites, language), /api/sites, /api/rooms and
// /api/health every 2 s, /api/alarms on every event of /api/alarms/stream (and every 2 s
// while the stream is down). The pages fetch their own details.

import { createActions } from "./actions.js";
import { failureOf, getJson, send, setCsrfToken } from "./api.js";
import { alarmPage } from "./timeline.js";
import { deskPage } from "./desk_page.js";
import { el } from "./dom.js";
import { formatShort, formatTime } from "./format.js";
import {
  accountLanguage,
  askedLanguage,
  pageLanguage,
  rememberedLanguage,
  rememberLanguage,
  ROLE,
  SEVERITY,
  TEXT,
} from "./i18n.js";
import { siteLinks } from "./links.js";
import { connectLive } from "./live.js";
import { byUrgency, messageOf, needsSound, UNACKED } from "./alarms.js";
import { roomPage } from "./room.js";
import { sensorsPage } from "./sensors.js";
import { createSound } from "./sound.js";

const REFRESH_MS = 2000;
const SITE_KEY = "lantai.desk.site";
// The checklist app: a guard's account opens nothing else.
const GUARD_HOME = "/app/";

const view = {
  lang: askedLanguage() || rememberedLanguage(),
  me: null, // PrincipalOut: who is logged in, their role, permissions, sites and language
  sites: [], // [{id, name, timezone, floors}] granted to the user
  site: null,
  rooms: [],
  roomsAt: null, // when the rooms were last read (server time)
  alarms: [], // the site's open alarms, most urgent first
  liveDown: false,
  dataDown: false,
  // Server time minus browser time: the desk PC's clock may be wrong, and the times on
  // the page should agree with the alarms' times, which the server stamps.
  clockOffsetMs: 0,
  problems: null, // null while healthy, else the health check's problem list
  health: null, // the last /api/health answer (demo mode is read from it)
  status: null, // {key, args, error} or {text: {zh, en}, error}: the last action's outcome
};

// -- the context every page gets ---------------------------------------------------------

const desk = {
  view,
  t(key, ...args) {
    const text = TEXT[view.lang][key];
    if (text === undefined) return key;
    return typeof text === "function" ? text(...args) : text;
  },
  /** A {zh, en} text in the page's language. */
  local(text) {
    if (!text) return "";
    if (typeof text === "string") return text;
    return text[view.lang] || text.zh || text.en || "";
  },
  words(table) {
    return table[view.lang];
  },
  get zone() {
    return view.site ? view.site.timezone : "Asia/Shanghai";
  },
  time(when, options = {}) {
    return formatTime(when, { lang: view.lang, zone: desk.zone, ...options });
  },
  short(when) {
    return formatShort(when, { lang: view.lang, zone: desk.zone });
  },
  now() {
    return new Date(Date.now() + view.clockOffsetMs);
  },
  /** Whether the logged-in role has ``permission`` (console/auth/roles.py); the server
   * checks again, this only decides what the page offers. */
  can(permission) {
    return view.me !== null && view.me.permissions.includes(permission);
  },
  roomName(site, id) {
    if (!id) return desk.t("wholeSite");
    const room = view.rooms.find((r) => r.site === site && r.id === id);
    return room ? desk.local(room.name) : id;
  },
  setStatus(key, args = [], error = false) {
    view.status = key === null ? null : { key, args, error };
    renderStatus();
  },
  /** A server's reason ({zh, en}) as the status line. */
  setStatusText(text, error = true) {
    view.status = { text, error };
    renderStatus();
  },
  refreshAlarms: () => refreshAlarms(),
  refreshRooms: () => refreshRooms(),
  /** An alarm as an action's answer returned it: shown at once, before the refetch. */
  alarmChanged(alarm) {
    applyAlarm(alarm);
    update();
  },
};

const sound = createSound({
  wanted: () => view.alarms.some((a) => needsSound(a, desk.now())),
  onChange: () => renderSound(),
});
desk.actions = createActions(desk);

let page = null; // the page on show: {node, update(), leave(), alarmChanged?(change)}
let pageKey = "";

// -- the header, the banners and the status line -----------------------------------------

function renderStatic() {
  const t = desk.t;
  document.documentElement.lang = view.lang === "zh" ? "zh-CN" : "en";
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  const toggle = document.getElementById("lang-toggle");
  toggle.textContent = t("toggle");
  toggle.lang = view.lang === "zh" ? "en" : "zh-CN";
  const siteName = view.site ? desk.local(view.site.name) : "…";
  document.getElementById("site-name").textContent = siteName;
  document.title = `${siteName} · ${t("product")}`;
  renderWho();
  renderSitePicker();
  renderLinks();
  renderNav();
}

function renderWho() {
  const who = document.getElementById("who");
  const me = view.me;
  who.hidden = me === null;
  document.getElementById("logout").hidden = me === null;
  if (me === null) return;
  document.getElementById("user-name").textContent = me.display_name || me.username;
  const role = document.getElementById("user-role");
  role.textContent = ROLE[view.lang][me.role] || me.role;
  role.dataset.role = me.role;
}

// Rebuilt only when what they show changes: an open picker or a focused link must not be
// replaced under the pointer by the next refresh.
const built = { picker: "", links: "" };

function renderSitePicker() {
  const wrap = document.getElementById("site-picker-wrap");
  const picker = document.getElementById("site-picker");
  wrap.hidden = view.sites.length < 2;
  const key = JSON.stringify([view.lang, view.sites.map((s) => s.id), view.site && view.site.id]);
  if (wrap.hidden || key === built.picker) return;
  built.picker = key;
  const options = view.sites.map((site) =>
    el("option", { value: site.id, selected: view.site && site.id === view.site.id }, desk.local(site.name)),
  );
  picker.replaceChildren(...options);
  if (view.site) picker.value = view.site.id;
}

function renderLinks() {
  const list = document.getElementById("links");
  const key = JSON.stringify([view.lang, view.site && view.site.id]);
  if (key === built.links) return;
  built.links = key;
  list.replaceChildren(...(view.site ? siteLinks(desk, view.site.id) : []));
}

function renderNav() {
  const current = parseRoute().name;
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === current || (current === "room" && link.dataset.nav === "desk")) {
      link.setAttribute("aria-current", "page");
    } else {
      link.removeAttribute("aria-current");
    }
  }
}

function renderClock() {
  document.getElementById("clock").textContent = desk.time(desk.now(), { date: true });
}

function renderBanners() {
  const t = desk.t;
  document.getElementById("live-banner").hidden = !view.liveDown;
  document.getElementById("data-banner").hidden = !view.dataDown;
  const health = document.getElementById("health-banner");
  health.hidden = view.problems === null;
  document.getElementById("health-problems").textContent =
    view.problems && view.problems.length ? ` (${view.problems.join(", ")})` : "";
  // Off the desk page, the header still says how many alarms wait for somebody.
  const waiting = view.alarms.filter((a) => UNACKED.has(a.state)).length;
  const badge = document.getElementById("unacked-badge");
  badge.hidden = waiting === 0;
  badge.textContent = t("unackedBadge", waiting);
  badge.classList.toggle(
    "urgent",
    view.alarms.some((a) => needsSound(a, desk.now())),
  );
}

function renderSound() {
  const t = desk.t;
  const enableButton = document.getElementById("sound-enable");
  const muteButton = document.getElementById("sound-mute");
  document.getElementById("sound-controls").hidden = !sound.supported;
  const urgent = view.alarms.some((a) => needsSound(a, desk.now()));
  const on = sound.running();
  enableButton.hidden = on;
  enableButton.textContent = urgent ? t("enableSoundUrgent") : t("enableSound");
  enableButton.classList.toggle("urgent", urgent);
  muteButton.hidden = !on;
  muteButton.textContent = sound.muted ? t("unmute") : t("mute");
  muteButton.setAttribute("aria-pressed", String(sound.muted));
  document.body.dataset.sound = !on ? "off" : sound.muted ? "muted" : "on";
}

function renderStatus() {
  const line = document.getElementById("action-status");
  const status = view.status;
  if (!status) {
    line.textContent = "";
    line.classList.remove("error");
    return;
  }
  line.textContent = status.text ? desk.local(status.text) : desk.t(status.key, ...status.args);
  line.classList.toggle("error", Boolean(status.error));
}

function update() {
  renderStatic();
  renderBanners();
  renderSound();
  renderStatus();
  renderClock();
  if (page) page.update();
}

// -- the pages ---------------------------------------------------------------------------

function parseRoute() {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "room" && parts.length >= 3) return { name: "room", site: parts[1], room: parts[2] };
  if (parts[0] === "sensors") return { name: "sensors" };
  if (parts[0] === "alarm" && /^\d+$/.test(parts[1] || "")) return { name: "alarm", id: Number(parts[1]) };
  return { name: "desk" };
}

function route() {
  if (view.me === null) return; // still starting: start() shows the first page
  const where = parseRoute();
  const key = JSON.stringify(where);
  if (key === pageKey && page) return;
  if (where.name === "room" && (!view.site || where.site !== view.site.id)) {
    // A room of another granted site (a link from an alarm, a bookmark): switch to it.
    if (view.sites.some((s) => s.id === where.site)) {
      chooseSite(where.site, false);
    }
  }
  if (page) page.leave();
  pageKey = key;
  const makers = { desk: deskPage, room: roomPage, sensors: sensorsPage, alarm: alarmPage };
  page = makers[where.name](desk, where);
  document.getElementById("view").replaceChildren(page.node);
  document.body.dataset.page = where.name;
  window.scrollTo(0, 0);
  update();
}

// -- data --------------------------------------------------------------------------------

const siteQuery = () => `site=${encodeURIComponent(view.site.id)}`;

async function refreshRooms() {
  if (!view.site) return;
  try {
    view.rooms = await getJson(`/api/rooms?${siteQuery()}`);
    view.roomsAt = desk.now().toISOString();
    view.dataDown = false;
  } catch (error) {
    if (failureOf(error) === null) return;
    view.dataDown = true;
  }
  update();
}

async function refreshHealth() {
  const sent = Date.now();
  try {
    const health = await getJson("/api/health");
    // The answer was stamped somewhere between sending and receiving: take the middle.
    view.clockOffsetMs = new Date(health.time).getTime() - (sent + Date.now()) / 2;
    const problems = health.components.problems;
    view.problems = health.status === "ok" ? null : Array.isArray(problems) ? problems : [];
    view.health = health;
  } catch (error) {
    if (failureOf(error) === null) return;
    view.problems = null; // the data banner already says the server cannot be read
  }
}

let alarmRequest = 0;
async function refreshAlarms() {
  if (!view.site) return;
  const ticket = ++alarmRequest;
  try {
    const alarms = await getJson(`/api/alarms?state=open&${siteQuery()}`);
    if (ticket !== alarmRequest) return; // a newer request was sent; show its answer
    view.alarms = alarms.filter((a) => a.state !== "closed").sort(byUrgency);
    view.dataDown = false;
  } catch (error) {
    if (failureOf(error) === null) return;
    view.dataDown = true;
  }
  update();
}

function applyAlarm(alarm) {
  if (!view.site || alarm.site !== view.site.id) return;
  const others = view.alarms.filter((a) => a.id !== alarm.id);
  view.alarms = alarm.state === "closed" ? others : [...others, alarm].sort(byUrgency);
}

// Show the change at once from the event itself; the re-fetch that follows settles it.
function applyChange(change) {
  applyAlarm(change.alarm);
  const fresh = change.change === "raised" || change.change === "reraised";
  if (fresh && view.site && change.alarm.site === view.site.id) {
    const alarm = change.alarm;
    document.getElementById("alarm-announce").textContent =
      `${desk.words(SEVERITY)[alarm.severity]} · ${desk.roomName(alarm.site, alarm.room)} · ${messageOf(alarm, view.lang)}`;
    if (needsSound(alarm, desk.now())) sound.alarmArrived();
  }
  update();
  if (page && page.alarmChanged) page.alarmChanged(change);
  refreshAlarms();
  refreshRooms();
}

function loop() {
  setTimeout(async () => {
    // Without the live stream the alarm list would go stale: poll it too until it is back.
    await Promise.all([refreshRooms(), refreshHealth(), view.liveDown ? refreshAlarms() : null]);
    loop();
  }, REFRESH_MS);
}

function chooseSite(id, rerender = true) {
  const chosen = view.sites.find((s) => s.id === id);
  if (!chosen || (view.site && view.site.id === id)) return;
  view.site = chosen;
  view.rooms = [];
  view.alarms = [];
  try {
    window.localStorage.setItem(SITE_KEY, id);
  } catch (_) {
    // Kept for this visit only.
  }
  const url = new URL(window.location.href);
  url.searchParams.set("site", id);
  window.history.replaceState(null, "", url);
  if (rerender) {
    if (parseRoute().name === "room") window.location.hash = "#/";
    update();
  }
  refreshRooms();
  refreshAlarms();
}

function initialSite() {
  const asked = new URLSearchParams(window.location.search).get("site");
  let saved = null;
  try {
    saved = window.localStorage.getItem(SITE_KEY);
  } catch (_) {
    saved = null;
  }
  const where = parseRoute();
  const wanted = [asked, where.name === "room" ? where.site : null, saved];
  for (const id of wanted) {
    const found = view.sites.find((s) => s.id === id);
    if (found) return found;
  }
  return view.sites[0] || null;
}

// -- who is at the desk ------------------------------------------------------------------

/** Who is logged in (a 401 goes to the login page, which comes back here). */
async function loadMe() {
  const session = await getJson("/api/auth/me");
  setCsrfToken(session.csrf_token);
  return session.user;
}

async function toggleLanguage() {
  view.lang = view.lang === "zh" ? "en" : "zh";
  rememberLanguage(view.lang);
  // The address's ?lang= was a one-off; from now on the account's choice holds.
  const url = new URL(window.location.href);
  if (url.searchParams.has("lang")) {
    url.searchParams.delete("lang");
    window.history.replaceState(null, "", url);
  }
  update();
  try {
    const { status, data } = await send("PUT", "/api/auth/me/language", { language: accountLanguage(view.lang) });
    if (status === 200) view.me = data.user;
    else desk.setStatusText({ zh: `语言未保存（HTTP ${status}）`, en: `Language not saved (HTTP ${status})` });
  } catch (error) {
    const why = failureOf(error);
    if (why !== null) desk.setStatusText(why);
  }
}

async function logOut() {
  try {
    await send("POST", "/api/auth/logout");
  } catch (_) {
    // Gone or unreachable: the login page is where we go either way.
  }
  window.location.assign("/login");
}

function wireControls() {
  document.getElementById("lang-toggle").addEventListener("click", toggleLanguage);
  document.getElementById("logout").addEventListener("click", logOut);
  document.getElementById("site-picker").addEventListener("change", (event) => chooseSite(event.target.value));
  document.getElementById("sound-enable").addEventListener("click", sound.enable);
  document.getElementById("sound-mute").addEventListener("click", sound.toggleMute);
  window.addEventListener("hashchange", route);
  sound.start();
}

async function start() {
  wireControls();
  renderStatic();
  renderSound();
  for (;;) {
    try {
      view.me = await loadMe();
      view.sites = await getJson("/api/sites"); // the granted ones only
      break;
    } catch (error) {
      if (failureOf(error) === null) return;
      // The service may still be starting: say so and try again.
      view.dataDown = true;
      renderBanners();
      await new Promise((resolve) => setTimeout(resolve, REFRESH_MS));
    }
  }
  if (view.me.role === "guard") {
    window.location.replace(GUARD_HOME);
    return;
  }
  if (!askedLanguage()) {
    view.lang = pageLanguage(view.me.language);
    rememberLanguage(view.lang);
  }
  view.dataDown = false;
  view.site = initialSite();
  await refreshHealth(); // the clock offset, before any time is shown
  route();
  setInterval(renderClock, 1000);
  connectLive({
    onOpen() {
      view.liveDown = false;
      renderBanners();
      refreshAlarms(); // changes made while we were away
    },
    onChange: applyChange,
    onLost() {
      view.liveDown = true;
      renderBanners();
    },
    checkSession: () => getJson("/api/auth/me"),
  });
  await Promise.all([refreshRooms(), refreshAlarms()]);
  loop();
}

// A failed request is shown where it happened; anything else is a bug, thrown on.
start().catch(failureOf);
