// The security desk's page: room tiles refreshed every 2 s, the open alarm list kept live
// by the server-sent alarm stream, acknowledgement from the list, and an audible alarm for
// fire, water and intrusion. Plain browser JavaScript: no build step, no CDN, no audio
// files, so the page works on a desk network cut off from the internet.
"use strict";

(() => {
  const ROOM_REFRESH_MS = 2000;
  // A hung request must not stop the refresh loop.
  const FETCH_TIMEOUT_MS = 5000;
  // EventSource retries by itself after a network error, but gives up for good on an HTTP
  // error (say the service restarting behind a proxy); then we start it again.
  const RECONNECT_MS = 3000;
  const LANG_KEY = "lantai.lang";
  // Accounts come later (the console issue). Until then the guard types their name once;
  // it is kept in this browser and sent as `by`, which the audit trail records together
  // with via=console (from the X-Lantai-Client header).
  const OPERATOR_KEY = "lantai.operator";
  const CLIENT_HEADER = { "X-Lantai-Client": "console" };
  // The alarm tone repeats this often while a critical or high alarm waits for somebody.
  const SOUND_REPEAT_MS = 4000;

  const TEXT = {
    zh: {
      product: "兰台 · 安防值班台",
      liveLost: "实时连接已断开",
      dataLost: "无法读取库房数据",
      degraded: "监控系统降级",
      activeAlarms: "当前告警",
      noAlarms: "无告警",
      severity: "级别",
      alarmState: "状态",
      category: "类别",
      room: "库房",
      message: "内容",
      raisedAt: "发生时间",
      action: "操作",
      operator: "值班员",
      operatorPlaceholder: "姓名",
      ack: "确认",
      ackLabel: (message) => `确认：${message}`,
      acked: (n) => `已确认 ${n} 条告警`,
      ackedAlready: "该告警已被确认",
      needOperator: "请先在“值班员”处填写姓名，再确认告警",
      ackFailed: (why) => `确认失败：${why}`,
      readOnly: "此值班台为只读，不能确认告警",
      unreachable: "无法连接服务器",
      by: (name) => `（${name}）`,
      shelvedUntil: (time) => `已搁置至 ${time}`,
      suppressed: "维护期间",
      chattering: "频繁报警",
      enableSound: "启用声音",
      enableSoundUrgent: "启用声音（有紧急告警）",
      mute: "静音",
      unmute: "取消静音",
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
      activeAlarms: "Open alarms",
      noAlarms: "No open alarms",
      severity: "Severity",
      alarmState: "State",
      category: "Category",
      room: "Room",
      message: "Message",
      raisedAt: "Raised",
      action: "Action",
      operator: "Operator",
      operatorPlaceholder: "Name",
      ack: "Acknowledge",
      ackLabel: (message) => `Acknowledge: ${message}`,
      acked: (n) => (n === 1 ? "Acknowledged 1 alarm" : `Acknowledged ${n} alarms`),
      ackedAlready: "That alarm was already acknowledged",
      needOperator: "Enter your name under “Operator” before acknowledging",
      ackFailed: (why) => `Acknowledge failed: ${why}`,
      readOnly: "This console is read-only: alarms cannot be acknowledged here",
      unreachable: "cannot reach the server",
      by: (name) => ` (${name})`,
      shelvedUntil: (time) => `Shelved until ${time}`,
      suppressed: "In maintenance",
      chattering: "Chattering",
      enableSound: "Enable sound",
      enableSoundUrgent: "Enable sound (urgent alarm)",
      mute: "Mute",
      unmute: "Unmute",
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
  // ISA-18.2 alarm states, in words: the colour of a row only repeats what these say.
  const ALARM_STATE_TEXT = {
    zh: { unacked: "未确认", acked: "已确认", rtn_unacked: "已恢复未确认", closed: "已关闭" },
    en: {
      unacked: "Unacknowledged",
      acked: "Acknowledged",
      rtn_unacked: "Cleared, unacknowledged",
      closed: "Closed",
    },
  };
  const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };
  // Fire and water (critical) and intrusion (high) need somebody to go now: these sound.
  const AUDIBLE = new Set(["critical", "high"]);
  const UNACKED = new Set(["unacked", "rtn_unacked"]);

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
    operator: loadOperator(),
    status: null, // {key, args, error}: the outcome of the guard's last action
    acking: new Set(), // alarm ids with an acknowledgement on its way
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

  function loadOperator() {
    try {
      return window.localStorage.getItem(OPERATOR_KEY) || "";
    } catch (_) {
      return "";
    }
  }

  function saveOperator(name) {
    view.operator = name;
    try {
      if (name) window.localStorage.setItem(OPERATOR_KEY, name);
      else window.localStorage.removeItem(OPERATOR_KEY);
    } catch (_) {
      // Kept for this page only.
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

  async function postJson(url, body) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...CLIENT_HEADER },
        body: JSON.stringify(body),
        signal: abort.signal,
        cache: "no-store",
      });
      let data = null;
      try {
        data = await response.json();
      } catch (_) {
        // An error page from a proxy: the status says enough.
      }
      return { status: response.status, data };
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
    document.getElementById("operator").placeholder = t.operatorPlaceholder;
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
    renderSound();
    renderStatus();
  }

  const renderClock = () => {
    document.getElementById("clock").textContent = formatTime(null, true);
  };

  function roomName(id) {
    const room = view.rooms.find((r) => r.id === id);
    if (room) return local(room.name);
    return id || TEXT[view.lang].wholeSite;
  }

  const isShelved = (alarm) =>
    alarm.shelved_until !== null && new Date(alarm.shelved_until) > serverNow();

  // The alarm's state as a word, and beside it what else the guard should know.
  function stateCell(alarm) {
    const t = TEXT[view.lang];
    const cell = el("td", "alarm-state");
    cell.append(el("span", `badge st-${alarm.state}`, ALARM_STATE_TEXT[view.lang][alarm.state]));
    if (alarm.acked_by) cell.append(el("span", "note", t.by(alarm.acked_by)));
    const notes = [];
    // With the date: a shelve may last until tomorrow.
    if (isShelved(alarm)) notes.push(t.shelvedUntil(formatTime(alarm.shelved_until, true)));
    if (alarm.suppressed_by !== null) notes.push(t.suppressed);
    if (alarm.chattering) notes.push(t.chattering);
    if (notes.length) cell.append(el("div", "note", notes.join(" · ")));
    return cell;
  }

  function actionCell(alarm, message) {
    const t = TEXT[view.lang];
    const cell = el("td", "actions");
    if (!UNACKED.has(alarm.state)) return cell;
    const button = el("button", "ack", t.ack);
    button.type = "button";
    button.dataset.alarmId = alarm.id;
    // The visible word first, so speech input ("click 确认") still finds it.
    button.setAttribute("aria-label", t.ackLabel(message));
    if (view.acking.has(alarm.id)) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    }
    cell.append(button);
    return cell;
  }

  function renderRow(alarm) {
    const row = el("tr", `sev-${alarm.severity} st-${alarm.state}`);
    row.dataset.alarmId = alarm.id;
    row.dataset.state = alarm.state;
    const severity = el("td");
    severity.append(el("span", `badge sev-${alarm.severity}`, SEVERITY_TEXT[view.lang][alarm.severity]));
    const text = view.lang === "zh" ? alarm.message_zh : alarm.message_en;
    const message = el("td", "message", text);
    if (alarm.count > 1) message.append(el("span", "repeat", `×${alarm.count}`));
    row.append(
      severity,
      stateCell(alarm),
      el("td", "", CATEGORY_TEXT[view.lang][alarm.category] || alarm.category),
      el("td", "", roomName(alarm.room)),
      message,
      el("td", "time", formatTime(alarm.raised_at, true)),
      actionCell(alarm, text),
    );
    return row;
  }

  // Rows are kept by alarm id and rebuilt only when what they show changes, and moved only
  // when the order changes: a live update must not swap the button under the guard's
  // pointer or take the keyboard focus away.
  const rowCache = new Map(); // id -> {key, node}

  function renderAlarms() {
    const rows = document.getElementById("alarm-rows");
    const open = view.alarms.filter((a) => a.state !== "closed");
    document.getElementById("alarm-count").textContent = open.length ? `(${open.length})` : "";
    document.getElementById("no-alarms").hidden = open.length > 0;
    document.getElementById("alarm-table").hidden = open.length === 0;
    const wanted = open.map((alarm) => {
      const key = JSON.stringify([
        alarm,
        view.lang,
        roomName(alarm.room),
        isShelved(alarm),
        view.acking.has(alarm.id),
      ]);
      const cached = rowCache.get(alarm.id);
      if (cached && cached.key === key) return cached.node;
      const node = renderRow(alarm);
      if (cached) {
        const focused = cached.node.contains(document.activeElement);
        cached.node.replaceWith(node);
        if (focused) node.querySelector("button")?.focus();
      }
      rowCache.set(alarm.id, { key, node });
      return node;
    });
    const keep = new Set(wanted);
    for (const [id, cached] of rowCache) {
      if (!keep.has(cached.node)) {
        cached.node.remove();
        rowCache.delete(id);
      }
    }
    wanted.forEach((node, index) => {
      if (rows.children[index] !== node) rows.insertBefore(node, rows.children[index] || null);
    });
  }

  function renderStatus() {
    const line = document.getElementById("action-status");
    const status = view.status;
    if (!status) {
      line.textContent = "";
      return;
    }
    const text = TEXT[view.lang][status.key];
    line.textContent = typeof text === "function" ? text(...status.args) : text;
    line.classList.toggle("error", Boolean(status.error));
  }

  // key: a TEXT entry, or null to clear the line.
  function setStatus(key, args = [], error = false) {
    view.status = key === null ? null : { key, args, error };
    renderStatus();
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
      const alarms = await getJson(`/api/alarms?state=open&${siteQuery()}`);
      if (ticket !== alarmRequest) return; // a newer request was sent; show its answer
      view.alarms = alarms;
      renderAlarms();
      renderSound();
    } catch (_) {
      showBanner("data-banner", true);
    }
  }

  // The server's order: unacknowledged first, then by severity, newest first.
  function byUrgency(a, b) {
    const acked = Number(!UNACKED.has(a.state)) - Number(!UNACKED.has(b.state));
    if (acked !== 0) return acked;
    const rank = SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity];
    return rank !== 0 ? rank : b.raised_at.localeCompare(a.raised_at);
  }

  function applyAlarm(alarm) {
    if (alarm.site !== view.site.id) return;
    const others = view.alarms.filter((a) => a.id !== alarm.id);
    view.alarms = alarm.state === "closed" ? others : [...others, alarm].sort(byUrgency);
  }

  // Show the change at once from the event itself; the re-fetch that follows settles it.
  function applyChange(change) {
    applyAlarm(change.alarm);
    renderAlarms();
    if ((change.change === "raised" || change.change === "reraised") && needsSound(change.alarm)) {
      sound.alarmArrived();
    }
    renderSound();
  }

  // -- acknowledge ------------------------------------------------------------------

  async function acknowledge(alarmId) {
    const input = document.getElementById("operator");
    const by = input.value.trim(); // as typed, even if filled in without an input event
    saveOperator(by);
    if (!by) {
      input.setAttribute("aria-invalid", "true");
      setStatus("needOperator", [], true);
      input.focus();
      return;
    }
    if (view.acking.has(alarmId)) return;
    view.acking.add(alarmId);
    renderAlarms();
    try {
      const { status, data } = await postJson(`/api/alarms/${alarmId}/ack`, { by, comment: null });
      if (status === 200) {
        for (const alarm of data.changed) applyAlarm(alarm);
        if (data.changed.length) setStatus("acked", [data.changed.length]);
        else setStatus("ackedAlready");
      } else if (status === 503) {
        setStatus("readOnly", [], true);
      } else {
        const detail = data && typeof data.detail === "string" ? data.detail : `HTTP ${status}`;
        setStatus("ackFailed", [detail], true);
      }
    } catch (_) {
      setStatus("ackFailed", [TEXT[view.lang].unreachable], true);
    } finally {
      view.acking.delete(alarmId);
      renderAlarms();
      renderSound();
      refreshAlarms();
    }
  }

  // -- sound ------------------------------------------------------------------------

  // A critical or high alarm that nobody has acknowledged yet (still present, or gone
  // before anybody saw it) and that is not shelved or held by a maintenance window.
  const needsSound = (alarm) =>
    AUDIBLE.has(alarm.severity) &&
    UNACKED.has(alarm.state) &&
    alarm.suppressed_by === null &&
    !isShelved(alarm);

  // The tone is made with the Web Audio API: no audio file to load or to lose.
  //
  // Browsers refuse to play sound before the user has interacted with the page (the
  // autoplay policy): an AudioContext made at load starts "suspended" and stays silent
  // until resume() is called from a click or a key press. So the page makes one at once
  // (a kiosk started with --autoplay-policy=no-user-gesture-required gets a running one
  // and needs nothing more), and otherwise shows "启用声音 / Enable sound" until the guard
  // clicks it, or clicks or types anywhere on the page. After each reload that one click
  // is needed again, which is why the button turns urgent when an alarm wants sounding.
  //
  // The repeat runs on a timer, which browsers slow down in a hidden tab: keep the desk's
  // page in front (its own window) so that the tone keeps its pace.
  //
  // Mute silences the tone until the next critical or high alarm is raised: like the
  // "silence" key of a fire panel, it never hides a new fire. It is not remembered across
  // reloads, so a desk is never left silent by yesterday's click.
  const sound = (() => {
    const Context = window.AudioContext || window.webkitAudioContext;
    let context = null;
    let muted = false;
    let tones = 0;

    function ensureContext() {
      if (!Context) return null;
      if (!context) {
        context = new Context();
        context.addEventListener("statechange", () => {
          renderSound();
          // Sound just came on while an alarm waits: heard at once, so the guard knows
          // it works (and a click that merely enabled it is not followed by silence).
          if (running() && view.alarms.some(needsSound)) tone();
        });
      }
      return context;
    }

    const running = () => Boolean(context && context.state === "running");

    // Must run inside the click or key handler: that is what lets the browser start it.
    // Without a gesture Chrome keeps the promise pending; a later call still works.
    function enable() {
      const ctx = ensureContext();
      if (ctx && ctx.state !== "running") ctx.resume().catch(renderSound);
    }

    // Two short notes, high then low, with soft edges (a hard start or stop clicks).
    function tone() {
      if (!running() || muted) return;
      const start = context.currentTime + 0.02;
      const gain = context.createGain();
      gain.connect(context.destination);
      gain.gain.setValueAtTime(0, start);
      [880, 660].forEach((frequency, i) => {
        const at = start + i * 0.22;
        const osc = context.createOscillator();
        osc.type = "triangle";
        osc.frequency.setValueAtTime(frequency, at);
        gain.gain.setValueAtTime(0, at);
        gain.gain.linearRampToValueAtTime(0.3, at + 0.02);
        gain.gain.setValueAtTime(0.3, at + 0.16);
        gain.gain.linearRampToValueAtTime(0, at + 0.2);
        osc.connect(gain);
        osc.start(at);
        osc.stop(at + 0.21);
      });
      tones += 1;
      document.body.dataset.tones = String(tones); // for tests: how many tones were played
    }

    return {
      supported: Boolean(Context),
      running,
      get muted() {
        return muted;
      },
      enable,
      start() {
        ensureContext(); // may already run, where the browser allows it
        // Any click or key press is a gesture the browser accepts for resume().
        for (const kind of ["pointerdown", "keydown"]) {
          document.addEventListener(kind, enable);
        }
        setInterval(() => {
          if (view.alarms.some(needsSound)) tone();
        }, SOUND_REPEAT_MS);
      },
      toggleMute() {
        muted = !muted;
        renderSound();
      },
      alarmArrived() {
        muted = false;
        tone();
      },
    };
  })();

  function renderSound() {
    const t = TEXT[view.lang];
    const enableButton = document.getElementById("sound-enable");
    const muteButton = document.getElementById("sound-mute");
    document.getElementById("sound-controls").hidden = !sound.supported;
    const urgent = view.alarms.some(needsSound);
    const on = sound.running();
    enableButton.hidden = on;
    enableButton.textContent = urgent ? t.enableSoundUrgent : t.enableSound;
    enableButton.classList.toggle("urgent", urgent);
    muteButton.hidden = !on;
    muteButton.textContent = sound.muted ? t.unmute : t.mute;
    muteButton.setAttribute("aria-pressed", String(sound.muted));
    document.body.dataset.sound = !on ? "off" : sound.muted ? "muted" : "on";
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

  function wireControls() {
    document.getElementById("lang-toggle").addEventListener("click", toggleLanguage);
    const input = document.getElementById("operator");
    input.value = view.operator;
    input.addEventListener("input", () => {
      saveOperator(input.value.trim());
      if (view.operator) {
        input.removeAttribute("aria-invalid");
        if (view.status && view.status.key === "needOperator") setStatus(null);
      }
    });
    document.getElementById("alarm-rows").addEventListener("click", (event) => {
      const button = event.target.closest("button.ack");
      if (button) acknowledge(Number(button.dataset.alarmId));
    });
    document.getElementById("sound-enable").addEventListener("click", sound.enable);
    document.getElementById("sound-mute").addEventListener("click", sound.toggleMute);
    sound.start();
  }

  async function start() {
    wireControls();
    renderStatic();
    renderSound();
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
