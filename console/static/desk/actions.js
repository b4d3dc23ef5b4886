// Acting on an alarm: acknowledge with a comment, shelve with a reason and an expiry, and
// unshelve. Acknowledge and shelve open a small dialog (the second click confirms; the
// comment is optional, a shelve's reason is not). The dialog sits outside the live list,
// so an alarm arriving meanwhile re-renders the queue without touching what is typed.

import { ApiError, LoggedOut, send, Unreachable } from "./api.js";
import { el } from "./dom.js";
import { formatDuration } from "./format.js";
import { SEVERITY } from "./i18n.js";
import { messageOf } from "./alarms.js";

// Shelving up to an hour is a desk operator's call; longer is a supervisor's
// (console/auth/roles.py SHORT_SHELVE), and the alarm service caps every shelve at 24 h by
// default. The server checks both; these only decide which choices the dialog offers.
const SHORT_CHOICES = [15, 30, 60];
const LONG_CHOICES = [120, 240, 480, 720, 1440];
// The expiry is computed from the server's clock as this page estimates it; a little
// short of the chosen span, so "1 hour" is never refused as 1 h 0.4 s by the role check.
const SLACK_MS = 5000;

/** Which shelve spans (minutes) the logged-in role may choose; empty: none. */
export function shelveChoices(desk) {
  if (desk.can("shelve_long")) return [...SHORT_CHOICES, ...LONG_CHOICES];
  if (desk.can("shelve_short")) return SHORT_CHOICES;
  return [];
}

export function createActions(desk) {
  const dialog = el("dialog", { id: "action-dialog", class: "action-dialog", "aria-labelledby": "dialog-title" });
  document.body.append(dialog);
  let busy = false;

  function alarmLine(alarm) {
    return el(
      "p",
      { class: "dialog-alarm" },
      el("span", { class: `badge sev-${alarm.severity}`, text: desk.words(SEVERITY)[alarm.severity] }),
      " ",
      el("strong", { text: messageOf(alarm, desk.view.lang) }),
      el("span", {
        class: "note",
        text: ` · ${desk.roomName(alarm.site, alarm.room)} · ${desk.time(alarm.raised_at)}`,
      }),
    );
  }

  function open(title, alarm, fields, okText, submit) {
    const t = desk.t;
    const error = el("p", { id: "dialog-error", class: "dialog-error", role: "alert" });
    const ok = el("button", { type: "submit", id: "dialog-ok", class: "primary", text: okText });
    const cancel = el("button", {
      type: "button",
      id: "dialog-cancel",
      text: t("cancel"),
      onclick: () => dialog.close(),
    });
    const form = el(
      "form",
      {
        id: "dialog-form",
        novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          if (busy) return;
          error.textContent = "";
          busy = true;
          ok.disabled = true;
          ok.setAttribute("aria-busy", "true");
          try {
            const message = await submit();
            if (message === null) dialog.close();
            else error.textContent = message;
          } finally {
            busy = false;
            ok.disabled = false;
            ok.removeAttribute("aria-busy");
          }
        },
      },
      el("h2", { id: "dialog-title", text: title }),
      alarmLine(alarm),
      fields,
      error,
      el("div", { class: "dialog-buttons" }, ok, cancel),
    );
    dialog.replaceChildren(form);
    dialog.dataset.alarmId = String(alarm.id);
    dialog.showModal();
    const first = form.querySelector("input, select, textarea");
    if (first) first.focus();
  }

  // The outcome of a request as the words to show in the dialog, or null when it worked.
  async function attempt(request, done, failedKey) {
    const t = desk.t;
    try {
      const { status, data } = await request();
      if (status >= 200 && status < 300) {
        done(data);
        return null;
      }
      if (status === 503) return t("readOnly");
      return t(failedKey, desk.local(new ApiError(status, data).reason));
    } catch (error) {
      if (error instanceof LoggedOut) return null;
      if (error instanceof Unreachable) return t(failedKey, t("unreachable"));
      throw error;
    }
  }

  function acknowledge(alarm) {
    const t = desk.t;
    const comment = el("input", {
      id: "ack-comment",
      type: "text",
      maxlength: 500,
      placeholder: t("commentHint"),
      autocomplete: "off",
    });
    open(
      t("ackTitle"),
      alarm,
      [el("label", { for: "ack-comment", text: t("comment") }), comment],
      t("confirmAck"),
      () =>
        attempt(
          () => send("POST", `/api/alarms/${alarm.id}/ack`, { comment: comment.value.trim() || null }),
          (data) => {
            const changed = (data && data.changed) || [];
            changed.forEach((a) => desk.alarmChanged(a));
            if (changed.length) desk.setStatus("acked", [changed.length]);
            else desk.setStatus("ackedAlready");
            desk.refreshAlarms();
            desk.refreshRooms();
          },
          "ackFailed",
        ),
    );
  }

  function shelve(alarm) {
    const t = desk.t;
    const choices = shelveChoices(desk);
    const reason = el("input", {
      id: "shelve-reason",
      type: "text",
      maxlength: 500,
      required: true,
      placeholder: t("shelveReasonHint"),
      autocomplete: "off",
    });
    const span = el(
      "select",
      { id: "shelve-for" },
      choices.map((minutes) => el("option", { value: minutes, text: formatDuration(minutes, t) })),
    );
    const longest = choices[choices.length - 1];
    open(
      t("shelveTitle"),
      alarm,
      [
        el("label", { for: "shelve-reason", text: t("shelveReason") }),
        reason,
        el("label", { for: "shelve-for", text: t("shelveFor") }),
        span,
        el("p", { class: "hint", text: t("shelveLimit", formatDuration(longest, t)) }),
      ],
      t("confirmShelve"),
      async () => {
        if (!reason.value.trim()) {
          reason.setAttribute("aria-invalid", "true");
          reason.focus();
          return t("needReason");
        }
        reason.removeAttribute("aria-invalid");
        // On a whole minute: "until 22:00" reads better than "until 21:59:55".
        const until = new Date(desk.now().getTime() + Number(span.value) * 60000 - SLACK_MS);
        until.setUTCSeconds(0, 0);
        return attempt(
          () =>
            send("POST", `/api/alarms/${alarm.id}/shelve`, {
              reason: reason.value.trim(),
              until: until.toISOString(),
            }),
          (data) => {
            if (data && data.id) desk.alarmChanged(data);
            desk.setStatus("shelved", [
              desk.time(data && data.shelved_until ? data.shelved_until : until, { date: true }),
            ]);
            desk.refreshAlarms();
          },
          "shelveFailed",
        );
      },
    );
  }

  async function unshelve(alarm) {
    const message = await attempt(
      () => send("POST", `/api/alarms/${alarm.id}/unshelve`),
      (data) => {
        if (data && data.id) desk.alarmChanged(data);
        desk.setStatus("unshelved");
        desk.refreshAlarms();
      },
      "failed",
    );
    if (message !== null) desk.setStatusText({ zh: message, en: message });
  }

  return { acknowledge, shelve, unshelve, dialog };
}
