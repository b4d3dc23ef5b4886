// Sensor health: which sensors are offline (said so, or never heard), which are stale
// (silent longer than three reporting intervals, the room tiles' rule), whose battery is
// low or clock is off, and the refused (quarantined) messages by reason. Data:
// /api/sensors/health?site= (console/sensor_health.py), every 10 s.

import { failureOf, getJson } from "./api.js";
import { el, replaceKeepingFocus } from "./dom.js";
import { formatNumber } from "./format.js";
import { QUARANTINE_REASON, SENSOR_KIND, SENSOR_STATE } from "./i18n.js";

const REFRESH_MS = 10000;

export function sensorsPage(desk) {
  const node = el("div", { class: "sensors-page", id: "sensors-page" });
  let health = null; // SensorsHealthOut
  let failure = null;
  let siteShown = null;

  async function load() {
    const site = desk.view.site;
    if (!site) return;
    try {
      health = await getJson(`/api/sensors/health?site=${encodeURIComponent(site.id)}`);
      siteShown = site.id;
      failure = null;
    } catch (error) {
      const why = failureOf(error);
      if (why === null) return;
      failure = why;
    }
    render();
  }

  const t = (...args) => desk.t(...args);

  function roomLink(sensor) {
    return el("a", {
      href: `#/room/${encodeURIComponent(sensor.site)}/${encodeURIComponent(sensor.room)}`,
      text: desk.roomName(sensor.site, sensor.room),
    });
  }

  function sensorTable(id, title, sensors, note) {
    const body = sensors.length
      ? el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              [t("sensor"), t("roomCol"), t("status"), t("lastSeen"), t("battery"), ""].map((h) =>
                el("th", { scope: "col", text: h }),
              ),
            ),
          ),
          el(
            "tbody",
            {},
            sensors.map((s) =>
              el(
                "tr",
                { dataset: { sensor: s.id, status: s.status } },
                el("td", {}, s.id, el("div", { class: "note", text: desk.words(SENSOR_KIND)[s.kind] || s.kind })),
                el("td", {}, roomLink(s)),
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
                el("td", { class: "note", text: note ? note(s) : "" }),
              ),
            ),
          ),
        )
      : el("p", { class: "quiet", text: t("noEvents") });
    return el(
      "section",
      { class: "card", id, dataset: { count: sensors.length } },
      el("h3", {}, title, el("span", { class: "count", text: `(${sensors.length})` })),
      body,
    );
  }

  function quarantineCard() {
    const entries = Object.entries(health.quarantined).sort((a, b) => b[1] - a[1]);
    const total = entries.reduce((sum, [, n]) => sum + n, 0);
    const reasons = desk.words(QUARANTINE_REASON);
    return el(
      "section",
      { class: "card", id: "sensors-quarantine", dataset: { count: total } },
      el("h3", {}, t("quarantine"), el("span", { class: "count", text: t("quarantineTotal", total) })),
      entries.length
        ? el(
            "table",
            {},
            el(
              "thead",
              {},
              el(
                "tr",
                {},
                [t("reasonCol"), t("countCol")].map((h) => el("th", { scope: "col", text: h })),
              ),
            ),
            el(
              "tbody",
              {},
              entries.map(([reason, count]) =>
                el(
                  "tr",
                  { dataset: { reason } },
                  el("td", {}, reasons[reason] || reason, el("div", { class: "note", text: reason })),
                  el("td", { class: "num", text: String(count) }),
                ),
              ),
            ),
          )
        : el("p", { class: "quiet", text: t("noEvents") }),
    );
  }

  function summary() {
    const words = desk.words(SENSOR_STATE);
    const parts = Object.entries(health.statuses)
      .filter(([, n]) => n > 0)
      .map(([status, n]) =>
        el("span", {
          class: `sensor-state sensor-state-${status === "never_seen" ? "offline" : status}`,
          dataset: { status },
          text: `${words[status] || status} ${n}`,
        }),
      );
    if (health.low_battery)
      parts.push(
        el("span", {
          class: "sensor-state sensor-state-low_battery",
          text: `${t("lowBattery")} ${health.low_battery}`,
        }),
      );
    return el(
      "p",
      { class: "sensor-summary", id: "sensor-summary" },
      t("sensorCount", health.sensors.length),
      " · ",
      parts.flatMap((p, i) => (i ? [" · ", p] : [p])),
    );
  }

  function render() {
    const parts = [el("h2", { id: "sensors-title", text: t("sensorsTitle") })];
    if (failure) parts.push(el("p", { class: "action-status error", text: desk.local(failure) }));
    else if (!health) parts.push(el("p", { class: "quiet", text: t("loading") }));
    else {
      const sensors = health.sensors;
      const offline = sensors.filter((s) => s.status === "offline" || s.status === "never_seen");
      const stale = sensors.filter((s) => s.status === "stale");
      const battery = sensors.filter((s) => s.battery_low);
      const skewed = sensors.filter((s) => s.clock_skewed);
      parts.push(
        summary(),
        el(
          "div",
          { class: "cards" },
          sensorTable("sensors-offline", t("offlineSensors"), offline, (s) =>
            s.status === "never_seen" ? t("neverSeen") : "",
          ),
          sensorTable("sensors-stale", t("staleSensors"), stale, (s) =>
            s.silent_s === null ? "" : `${formatNumber(s.silent_s / 60, 0)} min`,
          ),
          sensorTable("sensors-battery", t("lowBattery"), battery, null),
          skewed.length
            ? sensorTable("sensors-clock", t("clockSkewed"), skewed, (s) =>
                t("clockOff", formatNumber(s.clock_offset_s, 0)),
              )
            : null,
          quarantineCard(),
        ),
      );
    }
    replaceKeepingFocus(node, parts);
  }

  load();
  const timer = setInterval(load, REFRESH_MS);
  return {
    node,
    update() {
      if (desk.view.site && desk.view.site.id !== siteShown && health) {
        health = null;
        load();
      }
      render();
    },
    leave() {
      clearInterval(timer);
    },
  };
}
