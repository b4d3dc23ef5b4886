// An alarm's page: what it is and where, what to do (its category's standard operating
// procedure beside it, editable by a supervisor), the readings around it, who did what
// (the audit trail) and who was told (the notifications of its incident). Kept live: an
// event for this alarm re-reads it.

import { failureOf, getJson } from "./api.js";
import { el, replaceKeepingFocus } from "./dom.js";
import { ACTION, ALARM_STATE, CATEGORY, CHANNEL, DELIVERY, SEVERITY, VIA } from "./i18n.js";
import { isShelved, messageOf, UNACKED } from "./alarms.js";
import { shelveChoices } from "./actions.js";
import { sopPanel } from "./sop.js";
import { aroundNodes } from "./readings.js";

export function alarmPage(desk, { id }) {
  const node = el("div", { class: "alarm-page", id: "alarm-page", dataset: { alarmId: id } });
  const main = el("div", { class: "alarm-main" });
  const sop = sopPanel(desk);
  node.append(main, sop.node);
  let detail = null; // AlarmDetailOut
  let failure = null; // {zh, en}
  let loading = false;

  async function load() {
    if (loading) return;
    loading = true;
    try {
      detail = await getJson(`/api/alarms/${id}`);
      failure = null;
      sop.show(detail.alarm.category, detail.sop);
    } catch (error) {
      const why = failureOf(error);
      if (why === null) return;
      failure = why;
    } finally {
      loading = false;
    }
    render();
  }

  function facts(alarm) {
    const t = desk.t;
    const rows = [
      [t("raised"), desk.time(alarm.raised_at, { date: true })],
      [t("lastAt"), desk.time(alarm.last_at, { date: true })],
      alarm.cleared_at ? [t("cleared"), desk.time(alarm.cleared_at, { date: true })] : null,
      alarm.count > 1 ? [t("count"), String(alarm.count)] : null,
      alarm.last_value ? [t("value"), alarm.last_value] : null,
      alarm.acked_by ? [t("ackedBy"), `${alarm.acked_by} · ${desk.time(alarm.acked_at, { date: true })}`] : null,
      isShelved(alarm, desk.now())
        ? [
            t("shelvedBy"),
            `${alarm.shelved_by} · ${t("shelvedUntil", desk.time(alarm.shelved_until, { date: true }))} · ${alarm.shelve_reason || ""}`,
          ]
        : null,
      alarm.incident_id !== null ? [t("incident"), `#${alarm.incident_id}`] : null,
    ].filter(Boolean);
    return el(
      "dl",
      { class: "facts" },
      rows.map(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]),
    );
  }

  function actions(alarm) {
    const t = desk.t;
    const buttons = [];
    if (UNACKED.has(alarm.state) && desk.can("ack")) {
      buttons.push(
        el("button", {
          type: "button",
          class: "primary",
          id: "alarm-ack",
          text: t("ack"),
          onclick: () => desk.actions.acknowledge(alarm),
        }),
      );
    }
    if (alarm.state !== "closed" && shelveChoices(desk).length) {
      if (isShelved(alarm, desk.now())) {
        buttons.push(
          el("button", {
            type: "button",
            id: "alarm-unshelve",
            text: t("unshelve"),
            onclick: () => desk.actions.unshelve(alarm),
          }),
        );
      } else {
        buttons.push(
          el("button", {
            type: "button",
            id: "alarm-shelve",
            text: t("shelve"),
            onclick: () => desk.actions.shelve(alarm),
          }),
        );
      }
    }
    const readOnly = !desk.can("ack") && !shelveChoices(desk).length;
    return el(
      "div",
      { class: "alarm-actions" },
      buttons,
      readOnly ? el("p", { class: "read-only-note", text: t("readOnlyNote") }) : null,
    );
  }

  function head(alarm) {
    const roomLink = alarm.room
      ? el("a", {
          href: `#/room/${encodeURIComponent(alarm.site)}/${encodeURIComponent(alarm.room)}`,
          text: desk.roomName(alarm.site, alarm.room),
        })
      : desk.roomName(alarm.site, null);
    return el(
      "section",
      { class: "alarm-head", "aria-labelledby": "alarm-title" },
      el(
        "div",
        { class: "badges" },
        el("span", { class: `badge sev-${alarm.severity}`, text: desk.words(SEVERITY)[alarm.severity] }),
        el("span", { class: `badge st-${alarm.state}`, id: "alarm-state", text: desk.words(ALARM_STATE)[alarm.state] }),
        el("span", { text: desk.words(CATEGORY)[alarm.category] || alarm.category }),
        el("span", { class: "note" }, roomLink),
      ),
      el("h2", { id: "alarm-title", text: messageOf(alarm, desk.view.lang) }),
      facts(alarm),
      actions(alarm),
    );
  }

  function around(alarm) {
    const t = desk.t;
    const room = desk.view.rooms.find((r) => r.site === alarm.site && r.id === alarm.room);
    const nodes = aroundNodes(
      desk,
      detail.readings_around,
      room ? room.limits : null,
      new Date(alarm.raised_at).getTime(),
    );
    return el("section", { class: "card", id: "readings-around" }, el("h3", { text: t("readingsAround") }), nodes);
  }

  function trail() {
    const t = desk.t;
    const rows = detail.timeline.map((entry) =>
      el(
        "tr",
        { dataset: { action: entry.action } },
        el("td", { class: "time", text: desk.time(entry.at, { date: true }) }),
        el("td", { text: desk.words(ACTION)[entry.action] || entry.action }),
        el("td", { text: entry.by }),
        el("td", { text: desk.words(VIA)[entry.via] || entry.via }),
        el("td", { class: "comment", text: entry.comment || "" }),
      ),
    );
    return el(
      "section",
      { class: "card", id: "audit-trail" },
      el("h3", { text: t("auditTrail") }),
      el(
        "table",
        {},
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            ["time", "action", "who", "via", "commentCol"].map((k) => el("th", { scope: "col", text: t(k) })),
          ),
        ),
        el("tbody", {}, rows),
      ),
    );
  }

  function notifications() {
    const t = desk.t;
    if (!detail.notifications.length) {
      return el(
        "section",
        { class: "card", id: "notifications" },
        el("h3", { text: t("notifications") }),
        el("p", { class: "quiet", text: t("noNotifications") }),
      );
    }
    const rows = detail.notifications.map((n) =>
      el(
        "tr",
        { dataset: { state: n.state } },
        el("td", { class: "time", text: desk.time(n.sent_at || n.created_at, { date: true }) }),
        el("td", { text: desk.words(CHANNEL)[n.channel] || n.channel }),
        el("td", { text: n.who }),
        el("td", { text: desk.words(DELIVERY)[n.state] || n.state }),
        el("td", { class: "num", text: String(n.attempts) }),
        el("td", { text: n.last_error || n.provider_status || "" }),
      ),
    );
    return el(
      "section",
      { class: "card", id: "notifications" },
      el("h3", { text: t("notifications") }),
      el(
        "table",
        {},
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            ["time", "channel", "recipient", "status", "attempts", "error"].map((k) =>
              el("th", { scope: "col", text: t(k) }),
            ),
          ),
        ),
        el("tbody", {}, rows),
      ),
    );
  }

  function render() {
    const t = desk.t;
    const back = el("a", { class: "back", href: "#/", text: t("back") });
    if (failure) {
      replaceKeepingFocus(main, [back, el("p", { class: "action-status error", text: desk.local(failure) })]);
      return;
    }
    if (!detail) {
      replaceKeepingFocus(main, [back, el("p", { class: "quiet", text: t("loading") })]);
      return;
    }
    const alarm = detail.alarm;
    replaceKeepingFocus(main, [back, head(alarm), around(alarm), trail(), notifications()]);
  }

  load();
  return {
    node,
    update() {
      render();
      sop.update();
    },
    alarmChanged(change) {
      if (change.alarm.id === id) load();
    },
    leave() {},
  };
}
