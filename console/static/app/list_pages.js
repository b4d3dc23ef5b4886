// The pages around the tasks: today's list (to do, done, missed), the choice after a
// scanned checkpoint, and the outbox (what is still on the phone, and what was refused).
// Built by listPages(ui) with the app's state and actions.

import { el } from "./dom.js";
import { State } from "./outbox.js";
import * as merge from "./records.js";

export function listPages(ui) {
  const { view, t, words, local, formatTime, formatWindow, taskHash, act } = ui;
  const recordsFor = (taskId) => merge.recordsFor(view.records, taskId);
  const waitingSignoff = (taskId) => merge.waitingSignoff(view.records, taskId);
  const answersOf = (task) => merge.answersOf(task, view.records);
  const groupOf = (task) => merge.groupOf(task, view.records);
  const isOverdue = (task) => merge.isOverdue(task, Date.now());
  const { dismiss, recordCheckpoint } = act;

  // What became of the guard's last action.
  function renderNotice() {
    if (!view.notice) return null;
    const { key, args, kind } = view.notice;
    return el("p", { class: `notice ${kind || ""}`, id: "notice", role: "status", text: t(key, ...args) });
  }

  // A page read from the phone's copy says so, and how old the copy is.
  function staleLine(source) {
    if (!source || !source.fromCache) return null;
    return el("p", { class: "stale", id: "stale", text: t("staleCopy", formatTime(source.readAt, true)) });
  }

  const STATUS_WORD = { done: "statusDone", late: "statusLate", missed: "statusMissed" };

  // The task's state in a word (the colour only repeats it): signed on the phone but not
  // sent yet, the server's done / done late / missed, overdue by the phone's clock, or open.
  function stateBadge(task) {
    let [kind, word] = [task.status, STATUS_WORD[task.status]];
    if (waitingSignoff(task.id)) [kind, word] = ["waiting", "signedOnPhone"];
    else if (task.status === "open")
      [kind, word] = isOverdue(task) ? ["overdue", "overdue"] : ["open", "statusOpen"];
    return el("span", { class: `badge ${kind}`, text: t(word) });
  }

  function statusBadges(task) {
    const badges = [stateBadge(task)];
    if (task.source === "rule") badges.push(el("span", { class: "badge rule", text: t("fromRule") }));
    if (task.created_late) badges.push(el("span", { class: "badge created-late", text: t("createdLate") }));
    const records = recordsFor(task.id);
    const waiting = records.filter((r) => r.state === State.WAITING && r.kind !== "signoff").length;
    if (waiting) badges.push(el("span", { class: "badge waiting", text: t("pendingSync", waiting) }));
    const failed = records.filter((r) => r.state !== State.WAITING).length;
    if (failed) badges.push(el("span", { class: "badge failed", text: t("failedBanner", failed) }));
    return badges;
  }

  function renderTaskCard(task) {
    const answered = answersOf(task).size;
    return el(
      "li",
      {},
      el(
        "a",
        {
          class: "task-card",
          href: taskHash(task.id, 1),
          "data-task-id": task.id,
          "data-room": task.room,
          "data-status": task.status,
          "data-overdue": String(isOverdue(task)),
        },
        el("div", { class: "title", text: local(task.title) }),
        el(
          "div",
          { class: "meta" },
          el("span", { class: "place", text: local(task.place) }),
          el("span", { class: "window", text: `${t("window")} ${formatWindow(task)}` }),
          el("span", { class: "progress", text: t("progress", answered, task.items.length) }),
        ),
        el("div", { class: "badges" }, statusBadges(task)),
      ),
    );
  }

  function siteChooser() {
    const sites = (view.me && view.me.sites) || [];
    if (sites.length < 2) return null;
    return el(
      "select",
      {
        id: "site",
        "aria-label": t("site"),
        onchange: (event) => act.chooseSite(event.target.value),
      },
      sites.map((site) => el("option", { value: site, selected: site === view.site, text: site })),
    );
  }

  // At the foot of the list, out of a thumb's way while working: a shared phone changes
  // hands at the end of a shift.
  function logoutButton() {
    return el("button", {
      type: "button",
      class: "big",
      id: "logout",
      text: t("logout"),
      onclick: act.logOut,
    });
  }

  function renderTaskList() {
    const list = view.list;
    const day = list && list.tasks && list.tasks.length ? list.tasks[0].local_date : null;
    const head = [el("h1", { text: t("today") + (day ? ` · ${day}` : "") }), siteChooser(), renderNotice()];
    return [...head, ...taskGroups(list), logoutButton()];
  }

  function taskGroups(list) {
    if (!list) return [el("p", { class: "quiet", text: t("loading") })];
    if (list.notCached) return [el("p", { class: "notice error", id: "not-cached", text: t("notCached") })];
    if (list.error) return [el("p", { class: "notice error", text: t("loadFailed", words(list.error)) })];
    if (!list.tasks.length)
      return [staleLine(list), el("p", { class: "quiet", id: "no-tasks", text: t("noTasks") })];
    const byWindow = [...list.tasks].sort(
      (a, b) => a.window_start.localeCompare(b.window_start) || a.id - b.id,
    );
    const groups = ["toDo", "done", "missed"].map((group) => {
      const tasks = byWindow.filter((task) => groupOf(task) === group);
      return el(
        "section",
        { class: "group", id: `group-${group}`, "data-group": group },
        el("h2", {}, t(group), " ", el("span", { class: "count", text: `(${tasks.length})` })),
        tasks.length
          ? el("ul", { class: "tasks" }, tasks.map(renderTaskCard))
          : el("p", { class: "quiet", text: t("noneInGroup") }),
      );
    });
    return [staleLine(list), ...groups];
  }

  function renderCheckpoint() {
    const { room } = view.route;
    const back = el("a", { class: "back", href: "#/", text: t("back") });
    const found = view.checkpoint;
    if (!found || found.room !== room)
      return [back, el("p", { class: "quiet", text: t("checkpointOpening") })];
    if (view.list && view.list.notCached)
      return [back, el("p", { class: "notice error", text: t("notCached") })];
    if (!found.tasks.length) {
      return [
        back,
        el("p", { class: "notice error", id: "checkpoint-none", text: t("checkpointNone", room) }),
      ];
    }
    return [
      back,
      found.started
        ? el("p", { class: "notice", id: "checkpoint-choose", text: t("checkpointChoose", room) })
        : el("p", { class: "notice error", id: "checkpoint-none", text: t("checkpointLater", room) }),
      el(
        "ul",
        { class: "tasks" },
        found.tasks.map((task) =>
          el(
            "li",
            {},
            el(
              "a",
              {
                class: "task-card",
                href: taskHash(task.id, 1),
                onclick: () => recordCheckpoint(task.id, found.site, room),
              },
              el("div", { class: "title", text: local(task.title) }),
              el("div", { class: "meta", text: formatWindow(task) }),
            ),
          ),
        ),
      ),
    ];
  }

  function renderOutbox() {
    const parts = [el("a", { class: "back", href: "#/", text: t("back") }), el("h1", { text: t("outbox") })];
    if (!view.records.length)
      return [...parts, el("p", { class: "quiet", id: "outbox-empty", text: t("outboxEmpty") })];
    const stateWord = { waiting: "stateWaiting", failed: "stateFailed", refused: "stateRefused" };
    const kindWord = { answer: "kindAnswer", photo: "kindPhoto", signoff: "kindSignoff" };
    return [
      ...parts,
      el(
        "ul",
        { class: "outbox-list" },
        view.records.map((record) =>
          el(
            "li",
            { "data-client-id": record.client_id, "data-state": record.state },
            el("span", { class: `badge ${record.state}`, text: t(stateWord[record.state]) }),
            " ",
            el("strong", { text: t(kindWord[record.kind] || "kindAnswer") }),
            " · ",
            el("a", { href: taskHash(record.task_id, 1), text: `#${record.task_id}` }),
            record.body.item_key ? ` · ${record.body.item_key}` : "",
            " · ",
            formatTime(record.created_at, true),
            record.message ? el("div", { class: "message", text: words(record.message) }) : null,
            record.state === State.WAITING && !act.mine(record)
              ? el("div", { class: "message", text: t("heldFor", record.by) })
              : null,
            record.state !== State.WAITING
              ? el(
                  "div",
                  { class: "actions" },
                  el("button", { type: "button", text: t("retry"), onclick: () => act.retry(record) }),
                  el("button", { type: "button", text: t("dismiss"), onclick: () => dismiss(record) }),
                )
              : null,
          ),
        ),
      ),
    ];
  }

  return {
    notice: renderNotice,
    stale: staleLine,
    statusBadges,
    tasks: renderTaskList,
    checkpoint: renderCheckpoint,
    outbox: renderOutbox,
  };
}
