// A room's page: temperature and humidity over the last day (or week) with the room
// class's allowed band shaded, the dew point, the day–night swing against its limit, the
// preservation ratings, the door's events, its sensors' health and its inspection history.
// Data: /api/rooms/{site}/{room}/history (console/room_history.py) every minute, and
// /api/rooms/{site}/{room}/preservation (30 days) on entry.

import { failureOf, getJson } from "./api.js";
import { roomStateBadge } from "./board.js";
import { timeChart } from "./charts.js";
import { el, replaceKeepingFocus } from "./dom.js";
import { formatNumber } from "./format.js";
import { ALARM_STATE, RATING, SENSOR_KIND, SENSOR_STATE, SEVERITY } from "./i18n.js";
import { messageOf } from "./alarms.js";

const HISTORY_REFRESH_MS = 60000;
const SPANS = [
  [24, "range24h"],
  [168, "range7d"],
];
const MEASURES = [
  ["temperature", "°C", 1],
  ["humidity", "%RH", 0],
  ["dew_point", "°C", 1],
];

export function roomPage(desk, { site, room }) {
  const node = el("div", { class: "room-page", id: "room-page", dataset: { site, room } });
  const base = `/api/rooms/${encodeURIComponent(site)}/${encodeURIComponent(room)}`;
  let hours = 24;
  let history = null; // RoomHistoryOut
  let preservation = null; // PreservationOut
  let failure = null; // {zh, en}
  let timer = null;

  async function loadHistory() {
    try {
      history = await getJson(`${base}/history?hours=${hours}`);
      failure = null;
    } catch (error) {
      const why = failureOf(error);
      if (why === null) return;
      failure = why;
    }
    render();
  }

  async function loadPreservation() {
    try {
      preservation = await getJson(`${base}/preservation?window=30d`);
    } catch (error) {
      if (failureOf(error) === null) return;
      preservation = null; // the card says "no data"; the history shows what went wrong
    }
    render();
  }

  const t = (...args) => desk.t(...args);
  const kindName = (kind) => desk.words(SENSOR_KIND)[kind] || kind;

  // The tile's live data (2 s old at most) for the head; the history for everything else.
  const tileOf = () => desk.view.rooms.find((r) => r.site === site && r.id === room) || null;

  function head() {
    const tile = tileOf();
    const name = tile ? tile.name : history ? history.name : { zh: room, en: room };
    const className = tile ? tile.room_class_name : history ? history.room_class_name : null;
    const latestDew = latestOf("dew_point");
    return el(
      "section",
      { class: "room-head-wrap" },
      el("a", { class: "back", href: "#/", text: t("back") }),
      el(
        "div",
        { class: "room-head" },
        el("h2", { id: "room-title", text: desk.local(name) }),
        tile ? roomStateBadge(desk, tile.state) : null,
        className
          ? el("span", {
              class: "note",
              text: `${t("roomClass")}${desk.view.lang === "zh" ? "：" : ": "}${desk.local(className)}`,
            })
          : null,
        tile ? el("span", { class: "note", text: desk.local(tile.floor_name) }) : null,
      ),
      tile
        ? el(
            "div",
            { class: "now", id: "room-now" },
            nowValue(t("temperature"), formatNumber(tile.temperature, 1), "°C"),
            nowValue(t("humidity"), formatNumber(tile.humidity, 0), "%RH"),
            nowValue(t("dewPoint"), formatNumber(latestDew, 1), "°C"),
            nowValue(t("door"), tile.door === "open" ? t("open") : tile.door === "closed" ? t("closed") : "—", ""),
          )
        : null,
    );
  }

  function nowValue(label, value, unit) {
    return el(
      "div",
      {},
      el("span", { class: "label", text: label }),
      value,
      unit ? el("span", { class: "unit", text: unit }) : null,
    );
  }

  function latestOf(measure) {
    if (!history) return null;
    const points = history.series
      .filter((s) => s.measure === measure)
      .map((s) => s.points[s.points.length - 1])
      .filter(Boolean);
    if (!points.length) return null;
    return points.reduce((sum, p) => sum + p.mean, 0) / points.length;
  }

  function spanPicker() {
    return el(
      "div",
      { class: "span-picker", role: "group", "aria-label": t("rangeLabel") },
      SPANS.map(([h, key]) =>
        el("button", {
          type: "button",
          id: `span-${h}`,
          "aria-pressed": String(h === hours),
          text: t(key),
          onclick: () => {
            if (hours === h) return;
            hours = h;
            history = null;
            render();
            loadHistory();
          },
        }),
      ),
    );
  }

  function charts() {
    const start = new Date(history.start).getTime();
    const end = new Date(history.end).getTime();
    const bands = { temperature: history.limits.temperature, humidity: history.limits.humidity };
    const titles = { temperature: t("temperature"), humidity: t("humidity"), dew_point: t("dewPoint") };
    const figures = MEASURES.map(([measure, unit, digits]) => {
      const series = history.series
        .filter((s) => s.measure === measure)
        .map((s, i) => ({
          name: `${titles[measure]} · ${s.sensor}`,
          kind: `s${i % 3}`,
          points: s.points.map((p) => [new Date(p.at).getTime(), p.mean]),
        }));
      return timeChart({
        id: `chart-${measure}`,
        title: titles[measure],
        unit,
        series,
        band: bands[measure] || null,
        start,
        end,
        zone: desk.zone,
        lang: desk.view.lang,
        t: desk.t,
        digits,
      });
    });
    return figures.map((f, i) => el("div", { class: "chart-wrap" }, el("h3", { text: titles[MEASURES[i][0]] }), f));
  }

  function card(id, title, ...content) {
    return el("section", { class: "card", id }, el("h3", { text: title }), ...content);
  }

  function table(columns, rows) {
    return el(
      "table",
      {},
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          columns.map((c) => el("th", { scope: "col", text: c })),
        ),
      ),
      el("tbody", {}, rows),
    );
  }

  function swingCard() {
    const rows = history.swing.map((s) => {
      const cell = (value, limit, over, unit, digits) =>
        el(
          "td",
          { class: over ? "over" : "" },
          value === null ? "—" : t("swingValue", formatNumber(value, digits), formatNumber(limit, digits), unit),
          el("div", { class: "note", text: value === null ? "" : over ? t("swingOver") : t("swingOk") }),
        );
      return el(
        "tr",
        { dataset: { sensor: s.sensor } },
        el("td", { text: s.sensor }),
        cell(s.temperature, s.temperature_limit, s.temperature_over, "°C", 1),
        cell(s.humidity, s.humidity_limit, s.humidity_over, "%RH", 0),
      );
    });
    return card(
      "room-swing",
      t("swing"),
      rows.length
        ? table([t("sensor"), t("temperature"), t("humidity")], rows)
        : el("p", { class: "quiet", text: t("noData") }),
    );
  }

  function rating(value) {
    if (!value) return "—";
    return el("span", { class: `rating rating-${value}`, text: desk.words(RATING)[value] || value });
  }

  function preservationCard() {
    const p = preservation;
    if (!p || !p.samples)
      return card("room-preservation", t("preservation"), el("p", { class: "quiet", text: t("noData") }));
    const row = (label, value, rated) => [
      el("dt", { text: label }),
      el("dd", {}, value, rated ? " · " : "", rated ? rating(rated) : ""),
    ];
    return card(
      "room-preservation",
      t("preservation"),
      el(
        "dl",
        { class: "ratings" },
        row(t("pi"), p.pi === null ? "—" : t("years", formatNumber(p.pi, 0)), p.pi_rating),
        row(t("twpi"), p.twpi === null ? "—" : t("years", formatNumber(p.twpi, 0)), p.twpi_rating),
        row(t("emc"), p.emc === null ? "—" : `${formatNumber(p.emc, 1)} %`, null),
        row(t("mechanical"), "", p.mechanical_rating),
        row(t("corrosion"), "", p.corrosion_rating),
        row(
          t("mold"),
          p.mold_index === null ? "—" : `${t("moldIndex")} ${formatNumber(p.mold_index, 2)}`,
          p.mold_rating,
        ),
      ),
      el("p", { class: "note", text: t("samples", p.samples, desk.short(p.first_at)) }),
    );
  }

  function doorEvent(e) {
    if (e.forced) return t("forced");
    if (e.badge)
      return e.granted === true
        ? t("badgeGranted", e.badge)
        : e.granted === false
          ? t("badgeDenied", e.badge)
          : t("badgeUsed", e.badge);
    return e.door === "open" ? t("doorOpened") : t("doorClosedEvent");
  }

  function doorsCard() {
    const rows = history.doors.map((e) =>
      el(
        "tr",
        { class: e.forced ? "over" : "", dataset: { door: e.door || "" } },
        el("td", { class: "time", text: desk.short(e.at) }),
        el("td", { text: doorEvent(e) }),
        el("td", { text: e.sensor }),
      ),
    );
    return card(
      "room-doors",
      t("doorEvents"),
      rows.length
        ? table([t("time"), t("event"), t("sensor")], rows)
        : el("p", { class: "quiet", text: t("noEvents") }),
    );
  }

  function sensorsCard() {
    const rows = history.sensors.map((s) => {
      const refused = Object.values(s.quarantined).reduce((a, b) => a + b, 0);
      const notes = [];
      if (s.battery_low) notes.push(t("lowBattery"));
      if (s.clock_skewed) notes.push(t("clockOff", formatNumber(s.clock_offset_s, 0)));
      if (refused) notes.push(`${t("quarantined")} ${refused}`);
      return el(
        "tr",
        { dataset: { sensor: s.id, status: s.status } },
        el("td", {}, s.id, el("div", { class: "note", text: kindName(s.kind) })),
        el(
          "td",
          {},
          el("span", {
            class: `sensor-state sensor-state-${s.offline ? "offline" : s.status}`,
            text: desk.words(SENSOR_STATE)[s.status] || s.status,
          }),
        ),
        el("td", { class: "time", text: s.last_seen ? desk.short(s.last_seen) : t("never") }),
        el("td", {
          class: `num ${s.battery_low ? "over" : ""}`,
          text: s.battery === null ? "—" : `${formatNumber(s.battery, 0)} %`,
        }),
        el("td", { class: "note", text: notes.join(" · ") }),
      );
    });
    return card(
      "room-sensors",
      t("sensorHealth"),
      table([t("sensor"), t("status"), t("lastSeen"), t("battery"), ""], rows),
    );
  }

  function alarmsCard() {
    const rows = history.alarms.map((a) =>
      el(
        "tr",
        { class: `sev-${a.severity} st-${a.state}`, dataset: { alarmId: a.id } },
        el("td", {}, el("span", { class: `badge sev-${a.severity}`, text: desk.words(SEVERITY)[a.severity] })),
        el("td", {}, el("a", { href: `#/alarm/${a.id}`, text: messageOf(a, desk.view.lang) })),
        el("td", { text: desk.words(ALARM_STATE)[a.state] }),
        el("td", { class: "time", text: desk.short(a.raised_at) }),
      ),
    );
    return card(
      "room-alarms",
      t("roomAlarms"),
      rows.length
        ? table([t("severity"), t("message"), t("alarmState"), t("raisedAt")], rows)
        : el("p", { class: "quiet", text: t("noEvents") }),
    );
  }

  function inspectionsCard() {
    const statusWords = desk.t("taskStatus");
    const rows = history.inspections.map((task) =>
      el(
        "tr",
        { dataset: { task: task.id, status: task.status } },
        el("td", { class: "time", text: desk.short(task.window_start) }),
        el("td", { text: desk.local(task.title) }),
        el("td", { class: task.status === "missed" ? "over" : "", text: statusWords[task.status] || task.status }),
        el("td", { text: task.signed_by ? `${task.signed_by} · ${desk.short(task.signed_at)}` : "—" }),
        el("td", {
          class: task.failed_items ? "over" : "",
          text: task.signed_at ? (task.failed_items ? t("failedItems", task.failed_items) : t("allPassed")) : "",
        }),
      ),
    );
    return card(
      "room-inspections",
      t("inspections"),
      rows.length
        ? table([t("window"), t("title"), t("status"), t("signedBy"), ""], rows)
        : el("p", { class: "quiet", text: t("noEvents") }),
    );
  }

  function render() {
    const parts = [head(), spanPicker()];
    if (failure) parts.push(el("p", { class: "action-status error", text: desk.local(failure) }));
    else if (!history) parts.push(el("p", { class: "quiet", text: t("loading") }));
    else {
      parts.push(
        // The swing sits beside the dew point: both say how the climate moved today.
        el("section", { class: "charts", id: "room-charts" }, charts(), swingCard()),
        el("div", { class: "cards" }, preservationCard(), alarmsCard(), doorsCard(), sensorsCard(), inspectionsCard()),
      );
    }
    replaceKeepingFocus(node, parts);
  }

  loadHistory();
  loadPreservation();
  timer = setInterval(loadHistory, HISTORY_REFRESH_MS);
  return {
    node,
    update: render,
    alarmChanged(change) {
      if (change.alarm.site === site && change.alarm.room === room) loadHistory();
    },
    leave() {
      clearInterval(timer);
    },
  };
}
