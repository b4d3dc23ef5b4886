// The room status board: every stack room of the site as a tile, grouped by floor, in the
// colour of its worst state and with that state as a word, the latest temperature and
// humidity (a wavy underline and the band when out of it) and the door. A tile opens the
// room's page.

import { el, replaceKeepingFocus } from "./dom.js";
import { formatNumber } from "./format.js";
import { ROOM_STATE } from "./i18n.js";

function climateValue(value, digits, unit, band) {
  const out = value !== null && value !== undefined && band && (value < band.min || value > band.max);
  return el(
    "span",
    { class: "reading" },
    el("span", {
      class: out ? "value out" : "value",
      title: band ? `${band.min}–${band.max} ${unit}` : null,
      text: formatNumber(value, digits),
    }),
    el("span", { class: "unit", text: unit }),
  );
}

function doorText(t, door) {
  if (door === "open") return t("doorOpen");
  if (door === "closed") return t("doorClosed");
  return t("doorUnknown");
}

export function roomStateBadge(desk, state) {
  return el("span", { class: `badge state state-${state}`, text: desk.words(ROOM_STATE)[state] || state });
}

function tile(desk, room) {
  const t = desk.t;
  const offline = room.sensors.filter((s) => s.offline && !s.in_maintenance).length;
  const state = room.state;
  const notes = [];
  // A window covers the room but something worse shows (a fire is still a fire): say both.
  const windows = room.maintenance_windows || [];
  if (state !== "maintenance" && windows.length) notes.push(t("suppressed"));
  if (room.active_alarms) {
    // An alarm somebody has taken says so on the tile, so the desk sees it is in hand.
    const inRoom = desk.view.alarms.filter((a) => a.room === room.id && a.state !== "closed");
    const allAcked = inRoom.length > 0 && inRoom.every((a) => a.state === "acked");
    notes.push(t("alarmsInRoom", room.active_alarms) + (allAcked ? ` · ${t("ackedInRoom")}` : ""));
  }
  if (offline) notes.push(t("sensorsOffline", offline));
  // The class line only when it adds something ("特藏库" needs no "特藏库" under it).
  const className = desk.local(room.room_class_name);
  const href = `#/room/${encodeURIComponent(room.site)}/${encodeURIComponent(room.id)}`;
  return el(
    "a",
    {
      class: `tile tile-${state}`,
      href,
      id: `tile-${room.site}-${room.id}`,
      dataset: { room: room.id, state },
    },
    el(
      "div",
      { class: "head" },
      el("span", { class: "name", text: desk.local(room.name) }),
      roomStateBadge(desk, state),
    ),
    el("div", { class: "class", text: className === desk.local(room.name) ? "" : className }),
    el(
      "div",
      { class: "climate" },
      climateValue(room.temperature, 1, "°C", room.limits.temperature),
      climateValue(room.humidity, 0, "%RH", room.limits.humidity),
    ),
    el(
      "div",
      { class: "meta" },
      el("span", { class: room.door === "open" ? "door door-open" : "door", text: doorText(t, room.door) }),
      el("span", { class: "notes", text: notes.join(" · ") }),
    ),
  );
}

export function createBoard(desk) {
  const floors = el("div", { id: "floors" });
  const updated = el("time", { id: "updated" });
  const updatedLabel = el("span", {});
  const title = el("h2", { id: "rooms-title" });
  const node = el(
    "section",
    { class: "rooms panel", "aria-labelledby": "rooms-title" },
    el("div", { class: "section-head" }, title),
    floors,
    el("p", { class: "updated" }, updatedLabel, " ", updated),
  );

  function update() {
    const { view, t } = desk;
    title.textContent = t("rooms");
    updatedLabel.textContent = t("updated");
    updated.textContent = view.roomsAt ? desk.time(view.roomsAt) : "—";
    if (!view.site) return;
    const groups = view.site.floors.map((floor) => {
      const rooms = view.rooms.filter((r) => r.building === floor.building && r.floor === floor.id);
      if (!rooms.length) return null;
      return el(
        "section",
        { class: "floor", dataset: { floor: floor.id } },
        el("h3", { text: desk.local(floor.name) }),
        el(
          "div",
          { class: "tiles" },
          rooms.map((room) => tile(desk, room)),
        ),
      );
    });
    replaceKeepingFocus(floors, groups);
  }

  return { node, update };
}
