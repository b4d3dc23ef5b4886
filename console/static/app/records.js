// What the phone holds for a task, merged with what the server has: the answer to show
// for each item, its photos, what still stops a sign-off. Pure functions of a task (as the
// server last sent it) and the outbox's records, so the pages never disagree about them.

import { State } from "./outbox.js";

export const recordsFor = (records, taskId) => records.filter((r) => String(r.task_id) === String(taskId));

export const phonePhotos = (records, taskId, itemKey) =>
  recordsFor(records, taskId).filter((r) => r.kind === "photo" && r.body.item_key === itemKey);

/** The task's latest sign-off on the phone (an earlier refused one is superseded by it). */
export const signoffRecord = (records, taskId) =>
  recordsFor(records, taskId)
    .filter((r) => r.kind === "signoff")
    .pop();

/** The sign-off still on its way, if any (a refused one is not on its way). */
export function waitingSignoff(records, taskId) {
  const record = signoffRecord(records, taskId);
  return record && record.state === State.WAITING ? record : null;
}

/** Per item key: the answer to show, and whether the server has it ("sent") or only the
 * phone (the record's state: waiting, failed, refused). The phone's is the newer one. */
export function answersOf(task, records) {
  const merged = new Map();
  for (const answer of task.answers || []) {
    merged.set(answer.item_key, { ...answer, photos: answer.photo_ids.length, sync: "sent" });
  }
  for (const record of recordsFor(records, task.id)) {
    if (record.kind !== "answer") continue;
    const before = merged.get(record.body.item_key);
    merged.set(record.body.item_key, {
      ...record.body,
      photos: before ? before.photos : 0,
      sync: record.state,
      message: record.message,
    });
  }
  return merged;
}

/** An item's photos: the server's (the task page lists them, answered or not) and those
 * still on the phone. */
export function photoCount(task, records, itemKey, answer) {
  let onServer = answer ? answer.photos : 0;
  if (Array.isArray(task.photos)) onServer = task.photos.filter((photo) => photo.item_key === itemKey).length;
  return onServer + phonePhotos(records, task.id, itemKey).length;
}

export const photoRequired = (item) => item.kind === "photo" || item.photo === "required";

/** Items that stop a sign-off, as the server checks them: unanswered, or a photo missing. */
export function missingItems(task, records) {
  const answers = answersOf(task, records);
  const missing = [];
  task.items.forEach((item, index) => {
    const answer = answers.get(item.key);
    if (!answer) missing.push({ item, index, why: "missingAnswer" });
    else if (
      answer.result !== "na" &&
      photoRequired(item) &&
      photoCount(task, records, item.key, answer) === 0
    ) {
      missing.push({ item, index, why: "missingPhoto" });
    }
  });
  return missing;
}

/** Whether a reading is outside its item's limits (the server fails it whatever is sent). */
export const outOfLimits = (value, item) =>
  value !== null &&
  value !== undefined &&
  !Number.isNaN(value) &&
  ((item.minimum !== null && value < item.minimum) || (item.maximum !== null && value > item.maximum));

/** Still open after its window closed, by the phone's clock (the server has not said missed yet). */
export const isOverdue = (task, now) => task.status === "open" && new Date(task.window_end).getTime() < now;

/** The list's group: signed (even if only on the phone), missed, or still to do. */
export function groupOf(task, records) {
  if (waitingSignoff(records, task.id) || task.status === "done" || task.status === "late") return "done";
  return task.status === "missed" ? "missed" : "toDo";
}
