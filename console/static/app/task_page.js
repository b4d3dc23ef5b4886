// One task's page: its checklist item by item (pass / fail / n.a., readings filled in
// from the room's sensors, a note, photos), the sign-off, the room's readings now and its
// alarms since the last patrol. Built by taskPage(ui) with the app's state and actions.

import { el } from "./dom.js";
import { State } from "./outbox.js";
import * as merge from "./records.js";

export function taskPage(ui) {
  const { view, t, words, local, taskTime, formatWindow, taskHash, act } = ui;
  const answersOf = (task) => merge.answersOf(task, view.records);
  const photoCount = (task, itemKey, answer) => merge.photoCount(task, view.records, itemKey, answer);
  const phonePhotos = (taskId, itemKey) => merge.phonePhotos(view.records, taskId, itemKey);
  const missingItems = (task) => merge.missingItems(task, view.records);
  const signoffRecord = (taskId) => merge.signoffRecord(view.records, taskId);
  const { outOfLimits, photoRequired } = merge;
  const {
    goToStep,
    nextStep,
    draft,
    scanFor,
    recordAnswer,
    recordReading,
    saveNote,
    addPhoto,
    signOff,
    dismiss,
  } = act;
  const { statusBadges, stale: staleLine, notice: renderNotice } = ui.parts;

  // The sensors' value for a reading item: the task page gives them by sensor field.
  function sensorValue(detail, item) {
    return (item.field && detail.readings[item.field]) || null;
  }

  function limitsText(item) {
    if (item.minimum === null && item.maximum === null) return "";
    return t("limits", item.minimum ?? "—", item.maximum ?? "—", item.unit || "");
  }

  // The room now: the sensors' values for the task's reading items, against their limits.
  function renderReadings(detail) {
    const task = detail.task;
    const rows = task.items
      .filter((item) => item.kind === "reading" && sensorValue(detail, item))
      .map((item) => {
        const reading = sensorValue(detail, item);
        const out = outOfLimits(reading.value, item);
        return el(
          "li",
          { "data-item": item.key, "data-out": String(out) },
          el("span", { class: "quiet", text: `${local(item.label)} ` }),
          el("strong", { class: out ? "value out" : "value", text: String(reading.value) }),
          el("span", { class: "unit", text: ` ${item.unit || ""}` }),
          el("span", { class: "lim", text: ` · ${limitsText(item)}` }),
          out ? el("span", { class: "out", text: ` · ${t("outOfLimits")}` }) : null,
          el("div", { class: "quiet lim", text: t("readAt", taskTime(task, reading.at, true)) }),
        );
      });
    return el(
      "section",
      { class: "panel", id: "room-now" },
      el("h2", { text: t("roomNow") }),
      rows.length
        ? el("ul", { class: "readings-list" }, rows)
        : el("p", { class: "quiet", text: t("noReadings") }),
    );
  }

  // Every alarm in the room since its last patrol, newest first: what to look at while here.
  function renderAlarms(detail) {
    const alarms = detail.alarms;
    const since = detail.previous ? t("since", taskTime(detail.task, detail.previous, true)) : null;
    const item = (alarm) =>
      el(
        "li",
        { class: `sev-${alarm.severity}`, "data-alarm-id": alarm.id },
        el("span", { class: `badge sev-${alarm.severity}`, text: t(`severity_${alarm.severity}`) }),
        " ",
        el("span", { text: local(alarm.message) }),
        el(
          "div",
          { class: "when" },
          taskTime(detail.task, alarm.raised_at, true),
          " · ",
          alarm.cleared_at
            ? t("alarmCleared", taskTime(detail.task, alarm.cleared_at, true))
            : t("alarmActive"),
          alarm.acked_by ? ` · ${t("ackedBy", alarm.acked_by)}` : "",
        ),
      );
    return el(
      "section",
      { class: "panel", id: "room-alarms" },
      el("h2", { text: t("alarmsSince") }),
      since ? el("p", { class: "quiet", text: since }) : null,
      alarms.length
        ? el("ul", { class: "alarm-list" }, alarms.map(item))
        : el("p", { class: "quiet", id: "no-alarms", text: t("noAlarmsSince") }),
    );
  }

  function renderChips(task, answers, step) {
    const chip = (label, target, attrs) =>
      el(
        "li",
        {},
        el("button", {
          type: "button",
          class: "chip",
          text: label,
          onclick: () => goToStep(task, target),
          ...attrs,
        }),
      );
    return el(
      "ol",
      { class: "chips", id: "chips" },
      task.items.map((item, index) => {
        const answer = answers.get(item.key);
        return chip(String(index + 1), index + 1, {
          "data-item": item.key,
          "data-result": answer ? answer.result : null,
          "data-sync": answer ? answer.sync : null,
          "aria-current": step === index + 1 ? "step" : null,
          "aria-label": `${index + 1}. ${local(item.label)}: ${answer ? t(answer.result) : t("notAnswered")}`,
        });
      }),
      chip(t("signChip"), "sign", {
        class: "chip sign",
        "aria-current": step === "sign" ? "step" : null,
        "aria-label": t("signOffTitle"),
      }),
    );
  }

  function syncLine(answer) {
    if (!answer) return null;
    const line = (state, text) =>
      el("p", { class: `sync-line ${state}`, id: "sync", "data-sync": state, text });
    if (answer.sync === State.WAITING) return line("waiting", t("savedOnPhone"));
    if (answer.sync === State.FAILED) return line("failed", t("sendFailed", words(answer.message)));
    if (answer.sync === State.REFUSED) return line("refused", t("refused", words(answer.message)));
    return line("sent", t("sent"));
  }

  function renderPhotoControls(task, item, answer) {
    const count = photoCount(task, item.key, answer);
    const thumbs = phonePhotos(task.id, item.key).map((record) => {
      const url = URL.createObjectURL(record.blob);
      return el("img", { src: url, alt: t("photoSaved"), onload: () => URL.revokeObjectURL(url) });
    });
    const required = photoRequired(item);
    return el(
      "div",
      { class: "photo-row" },
      el(
        "label",
        { class: "photo-button" },
        t("photo"),
        el("input", {
          type: "file",
          id: "photo-input",
          accept: "image/*",
          capture: "environment",
          onchange: (event) => {
            const file = event.target.files && event.target.files[0];
            if (file) addPhoto(task, item, file);
          },
        }),
      ),
      el("span", {
        class: required && count === 0 ? "badge waiting" : "quiet",
        text: required ? t("photoRequired") : t("photoOptional"),
      }),
      count ? el("span", { id: "photo-count", text: t("photos", count) }) : null,
      thumbs.length ? el("div", { class: "thumbs" }, thumbs) : null,
    );
  }

  function renderReadingField(detail, item, answer, typed) {
    const sensor = sensorValue(detail, item) || null;
    const recorded = answer && answer.value !== null && answer.value !== undefined ? answer.value : null;
    const value = typed.value ?? recorded ?? (sensor ? sensor.value : "");
    const out = value !== "" && outOfLimits(Number(value), item);
    const hint = (isOut) => [limitsText(item), isOut ? t("outOfLimits") : ""].filter(Boolean).join(" · ");
    return el(
      "div",
      { class: "field" },
      el("label", { for: "reading-input", text: t("reading") }),
      el(
        "div",
        { class: "reading-row" },
        el("input", {
          id: "reading-input",
          type: "number",
          inputmode: "decimal",
          step: "any",
          value: value === "" ? "" : String(value),
          "aria-describedby": "reading-hint reading-source",
          oninput: (event) => {
            draft(detail.task.id, item.key).value = event.target.value;
            const now = event.target.value !== "" && outOfLimits(Number(event.target.value), item);
            const line = document.getElementById("reading-hint");
            line.classList.toggle("out", now);
            line.textContent = hint(now);
          },
        }),
        el("span", { class: "unit", text: item.unit || "" }),
      ),
      el("span", { class: `hint ${out ? "out" : ""}`, id: "reading-hint", text: hint(out) }),
      el("span", {
        class: "hint",
        id: "reading-source",
        text: sensor ? t("readingPrefilled", taskTime(detail.task, sensor.at, true)) : t("noSensorReading"),
      }),
    );
  }

  function renderAnswerButtons(task, item, answer) {
    const pressed = (result) => String(Boolean(answer && answer.result === result));
    if (item.kind === "reading") {
      return el(
        "div",
        { class: "answer-buttons two" },
        el("button", {
          type: "button",
          class: "pass",
          id: "record-reading",
          "aria-pressed": String(Boolean(answer && answer.result !== "na")),
          text: t("recordReading"),
          onclick: () => recordReading(task, item),
        }),
        el("button", {
          type: "button",
          class: "na",
          "data-answer": "na",
          "aria-pressed": pressed("na"),
          text: t("na"),
          onclick: () => recordAnswer(task, item, "na"),
        }),
      );
    }
    const choices = item.kind === "photo" ? ["na"] : ["pass", "fail", "na"];
    return el(
      "div",
      { class: `answer-buttons ${choices.length === 1 ? "one" : ""}` },
      choices.map((result) =>
        el("button", {
          type: "button",
          class: result,
          "data-answer": result,
          "aria-pressed": pressed(result),
          text: t(`${result}Long`),
          onclick: () => recordAnswer(task, item, result),
        }),
      ),
    );
  }

  function answeredLine(item, answer) {
    if (!answer) return null;
    const word =
      item.kind === "reading" && answer.result !== "na"
        ? `${answer.value} ${item.unit || ""} · ${t(answer.result)}`
        : t(answer.result);
    return el("p", {
      class: "quiet",
      id: "answered-as",
      "data-result": answer.result,
      text: t("answeredAs", word),
    });
  }

  function renderItem(detail, answers, index) {
    const task = detail.task;
    const item = task.items[index];
    const answer = answers.get(item.key);
    const typed = draft(task.id, item.key);
    const note = typed.note ?? (answer ? answer.note : "");
    const other = view.lang === "zh" ? "en" : "zh";
    return el(
      "section",
      { class: "item", id: "item", "data-item": item.key, "data-kind": item.kind },
      el("div", { class: "step", text: t("itemOf", index + 1, task.items.length) }),
      el(
        "div",
        { class: "label", id: "item-label" },
        local(item.label),
        el("span", { class: "label-other", lang: other === "en" ? "en" : "zh-CN", text: item.label[other] }),
      ),
      item.kind === "reading" ? renderReadingField(detail, item, answer, typed) : null,
      el(
        "div",
        { class: "field" },
        el("label", { for: "note-input", text: t("note") }),
        el("textarea", {
          id: "note-input",
          rows: 2,
          maxlength: 2000,
          placeholder: t("notePlaceholder"),
          value: note,
          oninput: (event) => {
            draft(task.id, item.key).note = event.target.value;
            const save = document.getElementById("save-note");
            if (save) save.hidden = event.target.value.trim() === (answer.note || "");
          },
        }),
      ),
      renderAnswerButtons(task, item, answer),
      renderPhotoControls(task, item, answer),
      answer
        ? el("button", {
            type: "button",
            class: "big",
            id: "save-note",
            hidden: note.trim() === (answer.note || ""),
            text: t("saveNote"),
            onclick: () => saveNote(task, item),
          })
        : null,
      answeredLine(item, answer),
      syncLine(answer),
      el(
        "div",
        { class: "nav" },
        el("button", {
          type: "button",
          id: "prev",
          disabled: index === 0,
          text: t("prev"),
          onclick: () => goToStep(task, index),
        }),
        el("button", {
          type: "button",
          id: "next",
          text: index + 1 < task.items.length ? t("next") : t("toSignOff"),
          onclick: () => goToStep(task, nextStep(task, index)),
        }),
      ),
    );
  }

  function signedBy(task) {
    const me = view.me;
    return me && me.username === task.signed_by ? me.display_name || me.username : task.signed_by;
  }

  function renderSignOff(task) {
    const parts = [el("h2", { text: t("signOffTitle") })];
    if (task.signed_at) {
      parts.push(
        el("p", { class: "notice ok", id: "signed", "data-state": "sent", text: t("signedDone") }),
        el(
          "dl",
          {},
          el("dd", { text: t("signedBy", signedBy(task)) }),
          el("dd", { text: t("signedAt", taskTime(task, task.signed_at, true)) }),
          el("dd", { id: "where", text: task.checkpoint ? t("where", task.checkpoint) : t("whereNone") }),
        ),
      );
      return el("section", { class: "panel signoff", id: "signoff" }, parts);
    }
    const record = signoffRecord(task.id);
    const waiting = record && record.state === State.WAITING;
    const scan = scanFor(task.id);
    const where = waiting ? record.body.checkpoint : scan && scan.room;
    if (waiting)
      parts.push(
        el("p", { class: "notice", id: "signed", "data-state": "waiting", text: t("signedOnPhone") }),
      );
    if (record && !waiting) {
      parts.push(
        el("p", { class: "notice error", id: "sign-refused", text: t("signRefused", words(record.message)) }),
        el("button", { type: "button", class: "big", text: t("dismiss"), onclick: () => dismiss(record) }),
      );
    }
    parts.push(
      el("p", { class: "quiet", text: t("signOffHint") }),
      el(
        "dl",
        {},
        el("dd", { text: t("signedBy", view.me.display_name || view.me.username) }),
        el("dd", {
          text: t("signedAt", taskTime(task, waiting ? record.created_at : new Date().toISOString(), true)),
        }),
        el("dd", { id: "where", text: where ? t("where", where) : t("whereNone") }),
      ),
    );
    const missing = missingItems(task);
    if (missing.length && !waiting) {
      parts.push(
        el(
          "div",
          { class: "notice error", id: "missing", tabindex: "-1", role: "alert" },
          t("missingItems", missing.length),
          el(
            "ul",
            { class: "missing" },
            missing.map(({ item, index, why }) =>
              el(
                "li",
                {},
                el("a", { href: taskHash(task.id, index + 1), text: `${index + 1}. ${local(item.label)}` }),
                ` (${t(why)})`,
              ),
            ),
          ),
        ),
      );
    }
    if (!waiting) {
      parts.push(
        el("button", {
          type: "button",
          class: "big primary",
          id: "sign",
          text: t("signOff"),
          onclick: () => signOff(task),
        }),
      );
    }
    return el("section", { class: "panel signoff", id: "signoff" }, parts);
  }

  function renderTaskPage() {
    const back = el("a", { class: "back", href: "#/", text: t("back") });
    const detail = view.detail;
    if (!detail) return [back, el("p", { class: "quiet", text: t("loading") })];
    if (detail.notCached)
      return [back, el("p", { class: "notice error", id: "not-cached", text: t("notCached") })];
    if (detail.error)
      return [back, el("p", { class: "notice error", text: t("loadFailed", words(detail.error)) })];
    const task = detail.task;
    const answers = answersOf(task);
    const step = view.route.step === "sign" ? "sign" : Math.min(view.route.step, task.items.length);
    const scan = scanFor(task.id);
    return [
      back,
      el(
        "header",
        { class: "task-head" },
        el("h1", { id: "task-title", text: local(task.title) }),
        el(
          "div",
          { class: "meta" },
          el("span", { class: "place", text: local(task.place) }),
          el("span", { class: "window", text: `${t("window")} ${formatWindow(task)}` }),
        ),
        el("div", { class: "badges", id: "task-badges" }, statusBadges(task)),
      ),
      staleLine(detail),
      renderNotice(),
      scan && !task.signed_at
        ? el("p", { class: "notice ok", id: "checkpoint", text: t("checkpointScanned", scan.room) })
        : null,
      renderChips(task, answers, step),
      step === "sign" ? renderSignOff(task) : renderItem(detail, answers, step - 1),
      renderReadings(detail),
      renderAlarms(detail),
    ];
  }

  return renderTaskPage;
}
