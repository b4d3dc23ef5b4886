// Demo mode (`make demo` only): a control that starts a simulated fire in a room, so a
// newcomer can watch the alarm arrive and handle it end to end. The service says whether
// it runs a demo; everywhere else this is never shown.

import { ApiError, LoggedOut, send, Unreachable } from "./api.js";
import { el } from "./dom.js";

// The roles the demo offers the control to: the ones that handle alarms at the desk.
const INJECTING_ROLES = new Set(["admin", "operator"]);

/** Whether the service runs a demo (its health report says so). */
export function demoMode(view) {
  const components = view.health && view.health.components;
  return Boolean(components && components.demo);
}

export function createDemo(desk) {
  const room = el("select", { id: "demo-room" });
  const label = el("label", { for: "demo-room" });
  const button = el("button", { type: "button", id: "demo-fire", class: "danger" });
  const title = el("h2", { id: "demo-title" });
  const node = el(
    "section",
    { class: "demo panel", id: "demo", "aria-labelledby": "demo-title", hidden: true },
    title,
    el("div", { class: "demo-controls" }, label, room, button),
  );

  button.addEventListener("click", async () => {
    const chosen = room.value;
    button.disabled = true;
    try {
      const { status, data } = await send("POST", "/api/demo/inject", { scenario: "fire", room: chosen });
      if (status >= 200 && status < 300) desk.setStatus("injected", [desk.roomName(desk.view.site.id, chosen)]);
      else desk.setStatusText(new ApiError(status, data).reason);
    } catch (error) {
      if (error instanceof Unreachable) desk.setStatus("failed", [desk.t("unreachable")], true);
      else if (!(error instanceof LoggedOut)) throw error;
    } finally {
      button.disabled = false;
    }
  });

  function update() {
    const { view, t } = desk;
    const role = view.me ? view.me.role : null;
    node.hidden = !demoMode(view) || !INJECTING_ROLES.has(role);
    if (node.hidden) return;
    title.textContent = t("demo");
    label.textContent = t("injectIn");
    button.textContent = t("injectFire");
    const wanted = `${view.lang}:${view.rooms.map((r) => r.id).join(",")}`;
    if (room.dataset.rooms !== wanted) {
      const keep = room.value;
      room.replaceChildren(...view.rooms.map((r) => el("option", { value: r.id, text: desk.local(r.name) })));
      room.dataset.rooms = wanted;
      if (keep) room.value = keep;
    }
  }

  return { node, update };
}
