// How each outbox record goes to the server (console/inspections_api.py), and what its
// answer means for the record. Photos go as multipart with the phone's id and time;
// answers and sign-offs as JSON with theirs.

import { outcomeOf, send, Unreachable } from "./api.js";

const quote = encodeURIComponent;

export const API = {
  me: "/api/auth/me",
  logout: "/api/auth/logout",
  tasks: (query) => `/api/inspections/tasks?${new URLSearchParams(query)}`,
  task: (id) => `/api/inspections/tasks/${quote(id)}`,
  answer: (id, item) => `/api/inspections/tasks/${quote(id)}/answers/${quote(item)}`,
  photos: (id) => `/api/inspections/tasks/${quote(id)}/photos`,
  signOff: (id) => `/api/inspections/tasks/${quote(id)}/sign-off`,
};

/** Send one record; resolves to what the outbox should do with it (see outbox.js). */
export async function sendRecord(record) {
  let answer;
  try {
    if (record.kind === "photo") {
      const form = new FormData();
      form.append("client_id", record.client_id);
      form.append("item_key", record.body.item_key);
      form.append("taken_at", record.created_at);
      form.append("file", record.blob, `${record.client_id}.jpg`);
      answer = await send("POST", API.photos(record.task_id), form);
    } else if (record.kind === "answer") {
      const { item_key: item, ...body } = record.body;
      answer = await send("PUT", API.answer(record.task_id, item), {
        ...body,
        client_id: record.client_id,
        answered_at: record.created_at,
      });
    } else if (record.kind === "signoff") {
      answer = await send("POST", API.signOff(record.task_id), {
        ...record.body,
        client_id: record.client_id,
        signed_at: record.created_at,
      });
    } else {
      return { outcome: "failed", message: `unknown record kind ${record.kind}` };
    }
  } catch (error) {
    if (error instanceof Unreachable) return { outcome: "retry", message: error.message };
    throw error;
  }
  return outcomeOf(answer.status, answer.data);
}
