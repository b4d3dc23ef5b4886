// The live alarm queue: the site's open alarms, unacknowledged first, then by severity,
// newest first. Each row says its severity and state in words; its buttons acknowledge,
// shelve, or open the alarm's timeline. Rows are kept by alarm id and rebuilt only when
// what they show changes: a live update must not swap the button under somebody's
// pointer or take the keyboard focus away.

import { el } from "./dom.js";
import { ALARM_STATE, CATEGORY, SEVERITY } from "./i18n.js";
import { isShelved, messageOf, UNACKED } from "./alarms.js";
import { shelveChoices } from "./actions.js";

export function createQueue(desk) {
  const t = desk.t;
  const count = el("span", { id: "alarm-count", class: "count" });
  const title = el("h2", { id: "alarms-title" }, el("span", { id: "alarms-title-text" }), count);
  const readOnly = el("p", { id: "read-only-note", class: "read-only-note", hidden: true });
  const empty = el("p", { id: "no-alarms", class: "quiet", hidden: true });
  const head = el("tr", {});
  const rows = el("tbody", { id: "alarm-rows" });
  const table = el("table", { id: "alarm-table", class: "alarm-table", hidden: true }, el("thead", {}, head), rows);
  const node = el(
    "section",
    { class: "alarms panel", "aria-labelledby": "alarms-title" },
    el("div", { class: "section-head" }, title),
    readOnly,
    empty,
    table,
  );
  const cache = new Map(); // id -> {key, node}

  rows.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-do]");
    if (!button) return;
    const alarm = desk.view.alarms.find((a) => a.id === Number(button.dataset.alarmId));
    if (!alarm) return;
    if (button.dataset.do === "ack") desk.actions.acknowledge(alarm);
    else if (button.dataset.do === "shelve") desk.actions.shelve(alarm);
    else if (button.dataset.do === "unshelve") desk.actions.unshelve(alarm);
  });

  function stateCell(alarm) {
    const cell = el("td", { class: "alarm-state" });
    cell.append(el("span", { class: `badge st-${alarm.state}`, text: desk.words(ALARM_STATE)[alarm.state] }));
    if (alarm.acked_by) cell.append(el("span", { class: "note", text: t("by", alarm.acked_by) }));
    const notes = [];
    // With the date: a shelve may last until tomorrow.
    if (isShelved(alarm, desk.now())) notes.push(t("shelvedUntil", desk.time(alarm.shelved_until, { date: true })));
    if (alarm.suppressed_by !== null) notes.push(t("suppressed"));
    if (alarm.chattering) notes.push(t("chattering"));
    if (notes.length) cell.append(el("div", { class: "note", text: notes.join(" · ") }));
    return cell;
  }

  function button(alarm, action, text, label, className = "") {
    return el("button", {
      type: "button",
      class: `act ${action} ${className}`.trim(),
      text,
      "aria-label": label,
      dataset: { do: action, alarmId: alarm.id },
    });
  }

  function actionCell(alarm, message) {
    const cell = el("td", { class: "actions" });
    if (UNACKED.has(alarm.state) && desk.can("ack")) {
      // The visible word first in the label, so speech input ("click 确认") still finds it.
      cell.append(button(alarm, "ack", t("ack"), t("ackLabel", message), "primary"));
    }
    if (shelveChoices(desk).length) {
      if (isShelved(alarm, desk.now())) cell.append(button(alarm, "unshelve", t("unshelve"), t("unshelve")));
      else cell.append(button(alarm, "shelve", t("shelve"), t("shelveLabel", message)));
    }
    cell.append(
      el("a", {
        class: "act details",
        href: `#/alarm/${alarm.id}`,
        text: t("details"),
        "aria-label": t("detailsLabel", message),
      }),
    );
    return cell;
  }

  function renderRow(alarm) {
    const message = messageOf(alarm, desk.view.lang);
    const row = el("tr", {
      class: `sev-${alarm.severity} st-${alarm.state}`,
      dataset: { alarmId: alarm.id, state: alarm.state },
    });
    const text = el("td", { class: "message" }, el("a", { href: `#/alarm/${alarm.id}`, text: message }));
    if (alarm.count > 1) text.append(el("span", { class: "repeat", text: `×${alarm.count}` }));
    const room = alarm.room
      ? el("a", {
          href: `#/room/${encodeURIComponent(alarm.site)}/${encodeURIComponent(alarm.room)}`,
          text: desk.roomName(alarm.site, alarm.room),
        })
      : desk.roomName(alarm.site, null);
    row.append(
      el("td", {}, el("span", { class: `badge sev-${alarm.severity}`, text: desk.words(SEVERITY)[alarm.severity] })),
      stateCell(alarm),
      el("td", { text: desk.words(CATEGORY)[alarm.category] || alarm.category }),
      el("td", { class: "room" }, room),
      text,
      el("td", { class: "time", text: desk.time(alarm.raised_at, { date: true }) }),
      actionCell(alarm, message),
    );
    return row;
  }

  function update() {
    const view = desk.view;
    title.firstChild.textContent = t("activeAlarms");
    const columns = ["severity", "alarmState", "category", "room", "message", "raisedAt", "action"];
    head.replaceChildren(...columns.map((key) => el("th", { scope: "col", text: t(key) })));
    const readOnlyRole = !desk.can("ack") && shelveChoices(desk).length === 0;
    readOnly.hidden = !readOnlyRole;
    readOnly.textContent = t("readOnlyNote");
    const open = view.alarms.filter((a) => a.state !== "closed");
    count.textContent = open.length ? `(${open.length})` : "";
    empty.textContent = t("noAlarms");
    empty.hidden = open.length > 0;
    table.hidden = open.length === 0;
    const now = desk.now();
    const wanted = open.map((alarm) => {
      const key = JSON.stringify([
        alarm,
        view.lang,
        desk.roomName(alarm.site, alarm.room),
        isShelved(alarm, now),
        view.me && view.me.role,
        view.site && view.site.timezone,
      ]);
      const cached = cache.get(alarm.id);
      if (cached && cached.key === key) return cached.node;
      const fresh = renderRow(alarm);
      if (cached) {
        const focused = cached.node.contains(document.activeElement);
        cached.node.replaceWith(fresh);
        if (focused) fresh.querySelector("button, a")?.focus();
      }
      cache.set(alarm.id, { key, node: fresh });
      return fresh;
    });
    const keep = new Set(wanted);
    for (const [id, cached] of cache) {
      if (!keep.has(cached.node)) {
        cached.node.remove();
        cache.delete(id);
      }
    }
    wanted.forEach((row, index) => {
      if (rows.children[index] !== row) rows.insertBefore(row, rows.children[index] || null);
    });
  }

  return { node, update };
}
