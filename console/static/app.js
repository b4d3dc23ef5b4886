// The security desk's page: room tiles refreshed every 2 s, the active alarm list kept live
// by the server-sent alarm stream. Plain browser JavaScript: no build step, no CDN, so the
// page works on a desk network cut off from the internet.
"use strict";

(() => {
  const ROOM_REFRESH_MS = 2000;
  // A hung request must not stop the refresh loop.
  const FETCH_TIMEOUT_MS = 5000;
  // EventSource retries by itself after a network error, but gives up for good on an HTTP
  // error (say the service restarting behind a proxy); then we start it again.
  const RECONNECT_MS = 3000;
  const LANG_KEY = "lantai.lang";

  const TEXT = {
    zh: {
      product: "兰台 · 安防值班台",
      liveLost: "实时连接已断开",
      dataLost: "无法读取库房数据",
      degraded: "监控系统降级",
      activeAlarms: "当前告警",
      noAlarms: "无活动告警",
      severity: "级别",
      category: "类别",
      room: "库房",
      message: "内容",
      raisedAt: "发生时间",
      rooms: "库房状态",
      updated: "更新于",
      toggle: "English",
      doorOpen: "门：开",
      doorClosed: "门：关",
      doorUnknown: "门：—",
      alarmsInRoom: (n) => `${n} 条告警`,
      sensorsOffline: (n) => `${n} 个传感器离线`,
      wholeSite: "全馆",
    },
    en: {
      product: "Lantai · Security desk",
      liveLost: "Live connection lost",
      dataLost: "Cannot read room data",
      degraded: "Monitoring degraded",
      activeAlarms: "Active alarms",
      noAlarms: "No active alarms",
      severity: "Severity",
      category: "Category",
      room: "Room",
      message: "Message",
      raisedAt: "Raised",
      rooms: "Rooms",
      updated: "Updated",
      toggle: "中文",
      doorOpen: "Door open",
      doorClosed: "Door closed",
      doorUnknown: "Door —",
      alarmsInRoom: (n) => (n === 1 ? "1 alarm" : `${n} alarms`),
      sensorsOffline: (n) => (n === 1 ? "1 sensor offline" : `${n} sensors offline`),
      wholeSite: "Whole site",
    },
  };
  // The state is always shown as a word too, never by colour alone.
  const STATE_TEXT = {
    zh: { normal: "正常", alarm: "告警", warning: "预警", offline: "离线" },
    en: { normal: "Normal", alarm: "Alarm", warning: "Warning", offline: "Offline" },
  };
  const SEVERITY_TEXT = {
    zh: { critical: "紧急", high: "高", medium: "中", low: "低" },
    en: { critical: "Critical", high: "High", medium: "Medium", low: "Low" },
  };
  const CATEGORY_TEXT = {
    zh: { fire: "火警", water: "水浸", intrusion: "入侵", climate: "温湿度", trouble: "设备故障", system: "系统" },
    en: { fire: "Fire", water: "Water", intrusion: "Intrusion", climate: "Climate", trouble: "Trouble", system: "System" },
  };
  const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };

  const view = {
    lang: chooseLanguage(),
    site: null, // {id, name, timezone, floors}
    rooms: [],
    alarms: [],
    updated: null,
    liveDown: false,
    // Server time minus browser time: the desk PC's clock may be wrong, and the times on
    // the page should agree with the alarms' times, which the server stamps.
    clockOffsetMs: 0,
    problems: null, // null while healthy, else the health check's problem list
  };

  // -- helpers ----------------------------------------------------------------------

  function chooseLanguage() {
    const asked = new URLSearchParams(window.location.search).get("lang");
    if (asked === "zh" || asked === "en") {
      remember(asked);
      return asked;
    }
    try {
      const saved = window.localStorage.getItem(LANG_KEY);
      if (saved === "zh" || saved === "en") return saved;
    } catch (_) {
      // Storage can be switched off; Chinese is the default then.
    }
    return "zh";
  }

  function remember(lang) {
    try {
      window.localStorage.setItem(LANG_KEY, lang);
    } catch (_) {
      // Not remembered across visits; the choice still holds for this page.
    }
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    // textContent, never innerHTML: names and messages come from config and sensors.
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  async function getJson(url) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
    try {
      const response = await fetch(url, { signal: abort.signal, cache: "no-store" });
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      return await response.json();
    } finally {
      clearTimeout(timer);
    }
  }

  const local = (text) => (text ? text[view.lang] : "");
  const serverNow = () => new Date(Date.now() + view.clockOffsetMs);

  function formatTime(iso, withDate) {
    const timeZone = view.site ? view.site.timezone : "Asia/Shanghai";
    const options = { timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };
    if (withDate) Object.assign(options, { year: "numeric", month: "2-digit", day: "2-digit" });
    const locale = view.lang === "zh" ? "zh-CN" : "en-GB";
    return new Intl.DateTimeFormat(locale, options).format(iso ? new Date(iso) : serverNow());
  }

  const formatNumber = (value, digits) => (value === null || value === undefined ? "—" : value.toFixed(digits));
  const showBanner = (id, visible) => {
    document.getElementById(id).hidden = !visible;
  };

  // -- rendering --------------------------------------------------------------------

  function renderStatic() {
    const t = TEXT[view.lang];
    document.documentElement.lang = view.lang === "zh" ? "zh-CN" : "en";
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t[node.dataset.i18n];
    }
    const toggle = document.getElementById("lang-toggle");
    toggle.textContent = t.toggle;
    toggle.lang = view.lang === "zh" ? "en" : "zh-CN";
    const siteName = view.site ? local(view.site.name) : "…";
    document.getElementById("site-name").textContent = siteName;
    document.title = `${siteName} · ${t.product}`;
  }

  function renderAll() {
    renderStatic();
    renderAlarms();
    renderRooms();
    renderClock();
    renderHealth();
  }

  const renderClock = () => {
    document.getElementById("clock").textContent = formatTime(null, true);
  };

  function roomName(id) {
    const room = view.rooms.find((r) => r.id === id);
    if (room) return local(room.name);
    return id || TEXT[view.lang].wholeSite;
  }

  function renderAlarms() {
    const t = TEXT[view.lang];
    const rows = document.getElementById("alarm-rows");
    const active = view.alarms.filter((a) => a.state === "active");
    document.getElementById("alarm-count").textContent = active.length ? `(${active.length})` : "";
    document.getElementById("no-alarms").hidden = active.length > 0;
    document.getElementById("alarm-table").hidden = active.length === 0;
    rows.replaceChildren(
      ...active.map((alarm) => {
        const row = el("tr", `sev-${alarm.severity}`);
        row.dataset.alarmId = alarm.id;
        const severity = el("td");
        severity.append(el("span", `badge sev-${alarm.severity}`, SEVERITY_TEXT[view.lang][alarm.severity]));
        const message = el("td", "message", view.lang === "zh" ? alarm.message_zh : alarm.message_en);
        if (alarm.count > 1) message.append(el("span", "repeat", `×${alarm.count}`));
        row.append(
          severity,
          el("td", "", CATEGORY_TEXT[view.lang][alarm.category] || alarm.category),
          el("td", "", roomName(alarm.room)),
          message,
          el("td", "time", formatTime(alarm.raised_at, true)),
        );
        return row;
      }),
    );
  }

  function climateValue(value, digits, unit, band) {
    const span = el("span", "value", formatNumber(value, digits));
    if (value !== null && band && (value < band.min || value > band.max)) {
      span.classList.add("out");
      span.title = `${band.min}–${band.max} ${unit}`;
    }
    const wrap = el("span");
    wrap.append(span, el("span", "unit", unit));
    return wrap;
  }

  function renderTile(room) {
    const t = TEXT[view.lang];
    const tile = el("article", `tile tile-${room.state}`);
    tile.dataset.room = room.id;
    tile.dataset.state = room.state;

    const head = el("div", "head");
    head.append(
      el("div", "name", local(room.name)),
      el("span", `badge state state-${room.state}`, STATE_TEXT[view.lang][room.state]),
    );
    const climate = el("div", "climate");
    climate.append(
      climateValue(room.temperature, 1, "°C", room.limits.temperature),
      climateValue(room.humidity, 0, "%RH", room.limits.humidity),
    );
    const meta = el("div", "meta");
    const doorText = room.door === "open" ? t.doorOpen : room.door === "closed" ? t.doorClosed : t.doorUnknown;
    meta.append(el("span", room.door === "open" ? "door-open" : "", doorText));
    const offline = room.sensors.filter((s) => s.offline).length;
    const notes = [];
    if (room.active_alarms) notes.push(t.alarmsInRoom(room.active_alarms));
    if (offline) notes.push(t.sensorsOffline(offline));
    meta.append(el("span", "", notes.join(" · ")));
    // The class line only when it adds something ("特藏库" needs no "特藏库" under it).
    const className = local(room.room_class_name);
    const classLine = el("div", "class", className === local(room.name) ? "" : className);
    tile.append(head, classLine, climate, meta);
    return tile;
  }

  function renderRooms() {
    const floors = document.getElementById("floors");
    if (!view.site) return;
    const groups = view.site.floors.map((floor) => {
      const rooms = view.rooms.filter((r) => r.building === floor.building && r.floor === floor.id);
      if (!rooms.length) return null;
      const section = el("section", "floor");
      const tiles = el("div", "tiles");
      tiles.append(...rooms.map(renderTile));
      section.append(el("h3", "", local(floor.name)), tiles);
      return section;
    });
    floors.replaceChildren(...groups.filter(Boolean));
    document.getElementById("updated").textContent = view.updated ? formatTime(view.updated, false) : "—";
  }

  function renderHealth() {
    const banner = document.getElementById("health-banner");
    banner.hidden = view.problems === null;
    document.getElementById("health-problems").textContent =
      view.problems && view.problems.length ? ` (${view.problems.join(", ")})` : "";
  }

  // -- data -------------------------------------------------------------------------

  function siteQuery() {
    return `site=${encodeURIComponent(view.site.id)}`;
  }

  async function refreshRooms() {
    try {
      view.rooms = await getJson(`/api/rooms?${siteQuery()}`);
      view.updated = serverNow().toISOString();
      showBanner("data-banner", false);
      renderRooms();
      renderAlarms(); // room names in the alarm list come from the rooms
    } catch (_) {
      showBanner("data-banner", true);
    }
  }

  async function refreshHealth() {
    try {
      const health = await getJson("/api/health");
      view.clockOffsetMs = new Date(health.time).getTime() - Date.now();
      const problems = health.components.problems;
      view.problems = health.status === "ok" ? null : Array.isArray(problems) ? problems : [];
    } catch (_) {
      view.problems = null; // the data banner already says the server cannot be read
    }
    renderHealth();
  }

  let alarmRequest = 0;
  async function refreshAlarms() {
    const ticket = ++alarmRequest;
    try {
      const alarms = await getJson(`/api/alarms?state=active&${siteQuery()}`);
      if (ticket !== alarmRequest) return; // a newer request was sent; show its answer
      view.alarms = alarms;
      renderAlarms();
    } catch (_) {
      showBanner("data-banner", true);
    }
  }

  function byUrgency(a, b) {
    const rank = SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity];
    return rank !== 0 ? rank : b.raised_at.localeCompare(a.raised_at);
  }

  // Show the change at once from the event itself; the re-fetch that follows settles it.
  function applyChange(change) {
    const alarm = change.alarm;
    if (alarm.site !== view.site.id) return;
    const others = view.alarms.filter((a) => a.id !== alarm.id);
    view.alarms = alarm.state === "active" ? [...others, alarm].sort(byUrgency) : others;
    renderAlarms();
  }

  function connectLive() {
    const source = new EventSource("/api/alarms/stream");
    source.addEventListener("open", () => {
      view.liveDown = false;
      document.body.dataset.live = "connected"; // for tests and for styling hooks
      showBanner("live-banner", false);
      refreshAlarms(); // changes made while we were away
    });
    source.addEventListener("alarm", (event) => {
      applyChange(JSON.parse(event.data));
      refreshAlarms();
      refreshRooms();
    });
    source.addEventListener("error", () => {
      view.liveDown = true;
      document.body.dataset.live = "lost";
      showBanner("live-banner", true);
      if (source.readyState === EventSource.CLOSED) setTimeout(connectLive, RECONNECT_MS);
    });
  }

  function roomLoop() {
    setTimeout(async () => {
      // Without the live stream the alarm list would go stale: poll it too until it is back.
      await Promise.all([refreshRooms(), refreshHealth(), view.liveDown ? refreshAlarms() : null]);
      roomLoop();
    }, ROOM_REFRESH_MS);
  }

  function toggleLanguage() {
    view.lang = view.lang === "zh" ? "en" : "zh";
    remember(view.lang);
    const url = new URL(window.location.href);
    url.searchParams.set("lang", view.lang);
    window.history.replaceState(null, "", url);
    renderAll();
  }

  async function start() {
    document.getElementById("lang-toggle").addEventListener("click", toggleLanguage);
    renderStatic();
    let sites = [];
    for (;;) {
      try {
        sites = await getJson("/api/sites");
        if (sites.length) break;
      } catch (_) {
        // Shown by the banner below; the service may still be starting.
      }
      showBanner("data-banner", true);
      await new Promise((resolve) => setTimeout(resolve, ROOM_REFRESH_MS));
    }
    showBanner("data-banner", false);
    const wanted = new URLSearchParams(window.location.search).get("site");
    view.site = sites.find((s) => s.id === wanted) || sites[0];
    await refreshHealth(); // the clock offset, before any time is shown
    renderAll();
    setInterval(renderClock, 1000);
    connectLive();
    await Promise.all([refreshRooms(), refreshAlarms()]);
    roomLoop();
  }

  start();
})();
