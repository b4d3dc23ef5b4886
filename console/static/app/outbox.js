// The outbox: every answer, photo and sign-off is written here first, in IndexedDB, and
// only then sent. Stack rooms are often basements with no signal, so the phone must keep
// what the guard recorded until the server has it, across reloads and a flat battery.
//
// Each record carries an id made on the phone (crypto.randomUUID()) and the time it was
// recorded. The server keeps one copy per id, so sending again after a lost response is
// harmless: a record leaves the outbox only when the server has answered for it.
//
// What the send function reports decides what happens next:
//   sent     the server has it: the record is removed;
//   retry    no connection, a timeout or a server error: kept, tried again with backoff;
//   auth     401, the login has expired: kept, and sending stops until the page reloads
//            after a new login;
//   refused  409 or 422, the server refused this record on its merits (a sign-off with
//            items missing): kept and shown with the server's words, not sent again;
//   failed   any other 4xx: kept and shown as failed with the server's words; the guard
//            can send it again.
// Nothing is ever dropped without the guard's say-so.
//
// Each record also keeps who made it. The server takes the logged-in user as the person
// acting, so a record is only ever sent in its maker's session: on a phone shared between
// shifts, the next guard's login does not sign the last guard's answers.

const DB_NAME = "lantai-checklist";
const DB_VERSION = 1;
const STORE = "outbox";
// Backoff between tries while the server cannot be reached: 2 s doubling up to a minute.
const FIRST_RETRY_MS = 2000;
const MAX_RETRY_MS = 60000;

export const State = Object.freeze({
  WAITING: "waiting",
  FAILED: "failed",
  REFUSED: "refused",
});

// crypto.randomUUID() exists only on https (or localhost); a console reached over plain
// http on the archive's LAN still needs ids the server will not confuse: a version-4 UUID
// from getRandomValues, which every context has.
function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDatabase() {
  const open = indexedDB.open(DB_NAME, DB_VERSION);
  open.onupgradeneeded = () => {
    const db = open.result;
    // seq keeps the order records were made in: they are sent in that order.
    const store = db.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
    store.createIndex("client_id", "client_id", { unique: true });
    store.createIndex("task_id", "task_id", { unique: false });
  };
  return request(open);
}

export class Outbox extends EventTarget {
  /**
   * @param {(record) => Promise<{outcome: string, message?: string, data?: any}>} send
   */
  constructor(send) {
    super();
    this.send = send;
    this.dbPromise = openDatabase();
    this.flushing = null; // the running flush, so that callers can wait for it
    this.again = false; // a flush was asked for while one was running
    this.retryTimer = null;
    this.retryDelay = FIRST_RETRY_MS;
    this.needsLogin = false;
    this.lastOutcome = null;
    this.user = null; // who is logged in: only their records are sent
  }

  async transaction(mode, work) {
    const db = await this.dbPromise;
    const tx = db.transaction(STORE, mode);
    const result = await work(tx.objectStore(STORE));
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    return result;
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }

  /** Keep a new record; returns it with its client id, time and sequence number. */
  async add(kind, taskId, body, extra = {}) {
    const record = {
      client_id: newClientId(),
      kind,
      by: this.user,
      task_id: taskId,
      created_at: new Date().toISOString(),
      body,
      state: State.WAITING,
      message: null,
      attempts: 0,
      ...extra,
    };
    record.seq = await this.transaction("readwrite", (store) => request(store.add(record)));
    this.changed();
    this.flush();
    return record;
  }

  async all() {
    return this.transaction("readonly", (store) => request(store.getAll()));
  }

  async forTask(taskId) {
    return this.transaction("readonly", (store) =>
      request(store.index("task_id").getAll(IDBKeyRange.only(taskId))),
    );
  }

  async put(record) {
    await this.transaction("readwrite", (store) => request(store.put(record)));
  }

  async remove(seq) {
    await this.transaction("readwrite", (store) => request(store.delete(seq)));
    this.changed();
  }

  /** Send a failed record again (the guard asked to). */
  async retry(seq) {
    const record = await this.transaction("readonly", (store) => request(store.get(seq)));
    if (!record) return;
    record.state = State.WAITING;
    record.message = null;
    await this.put(record);
    this.changed();
    this.flush();
  }

  /** Whether the logged-in user may send ``record`` (theirs, or from before records kept it). */
  mine(record) {
    return !record.by || record.by === this.user;
  }

  /** Start sending whenever there may be a way through: now, online, and on return. */
  start() {
    window.addEventListener("online", () => {
      this.retryDelay = FIRST_RETRY_MS;
      this.flush();
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.flush();
    });
    this.flush();
  }

  /** Send every waiting record in order; resolves when this round is over. */
  flush() {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.flushing = (async () => {
      try {
        do {
          this.again = false;
          await this.sendAllLocked();
        } while (this.again && !this.needsLogin && !this.retryTimer);
      } finally {
        this.flushing = null;
        this.changed();
      }
    })();
    return this.flushing;
  }

  // Two tabs of the app must not send the same record at the same moment: the server
  // would cope (one copy per client id), but the guard would see it twice in flight.
  async sendAllLocked() {
    if (navigator.locks) {
      await navigator.locks.request("lantai-outbox", () => this.sendAll());
    } else {
      await this.sendAll();
    }
  }

  async sendAll() {
    if (this.needsLogin) return;
    const records = (await this.all()).filter((r) => r.state === State.WAITING && this.mine(r));
    for (const record of records) {
      record.attempts += 1;
      await this.put(record);
      let result;
      try {
        result = await this.send(record);
      } catch (error) {
        result = { outcome: "retry", message: String(error && error.message ? error.message : error) };
      }
      this.lastOutcome = result.outcome;
      if (result.outcome === "sent") {
        await this.remove(record.seq);
        this.retryDelay = FIRST_RETRY_MS;
        this.dispatchEvent(new CustomEvent("sent", { detail: { record, data: result.data } }));
        continue;
      }
      if (result.outcome === "auth") {
        this.needsLogin = true;
        this.changed();
        return;
      }
      if (result.outcome === "refused" || result.outcome === "failed") {
        record.state = result.outcome === "refused" ? State.REFUSED : State.FAILED;
        record.message = result.message || null;
        await this.put(record);
        this.changed();
        // The others do not depend on this one's fate: go on with the next record.
        continue;
      }
      // retry: the way is blocked; later records would fail the same way, so wait.
      this.scheduleRetry();
      return;
    }
  }

  scheduleRetry() {
    clearTimeout(this.retryTimer);
    const jitter = Math.random() * 0.2 * this.retryDelay;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flush();
    }, this.retryDelay + jitter);
    this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_MS);
    this.changed();
  }
}
