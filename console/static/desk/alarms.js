// What the desk needs to know about an alarm record (console.schemas.AlarmOut), in one
// place: which ones wait for somebody, which ones sound, and the queue's order.

export const UNACKED = new Set(["unacked", "rtn_unacked"]);
// Fire and water (critical) and intrusion (high) need somebody to go now: these sound.
const AUDIBLE = new Set(["critical", "high"]);
const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };

export const isShelved = (alarm, now) => alarm.shelved_until !== null && new Date(alarm.shelved_until) > now;

/**
 * A critical or high alarm that nobody has acknowledged yet (still present, or gone before
 * anybody saw it) and that is not shelved or held by a maintenance window.
 */
export const needsSound = (alarm, now) =>
  AUDIBLE.has(alarm.severity) && UNACKED.has(alarm.state) && alarm.suppressed_by === null && !isShelved(alarm, now);

/** The queue's order: unacknowledged first, then the most severe, then the newest. */
export function byUrgency(a, b) {
  const acked = Number(!UNACKED.has(a.state)) - Number(!UNACKED.has(b.state));
  if (acked !== 0) return acked;
  const rank = SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity];
  return rank !== 0 ? rank : b.raised_at.localeCompare(a.raised_at);
}

/** The alarm's message in the page's language. */
export const messageOf = (alarm, lang) => (lang === "zh" ? alarm.message_zh : alarm.message_en);
