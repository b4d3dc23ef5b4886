// Times and numbers as the desk shows them: times always in the site's own time zone (a
// desk may watch a site in another zone, and the alarms' times must match the site's
// clocks), numbers with the precision the sensors have.

const locale = (lang) => (lang === "zh" ? "zh-CN" : "en-GB");

/**
 * ``when`` (ISO text, a Date, or ms) in ``zone``: "15:20:34"; with ``date``
 * "2026/01/05 15:20:34" (zh) or "2026-01-05 15:20:34" (en), year first in both, so a desk
 * never has to guess which number is the day; without ``seconds`` "15:20". Null is "—".
 */
export function formatTime(when, { lang, zone, date = false, seconds = true }) {
  if (when === null || when === undefined) return "—";
  const options = { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (seconds) options.second = "2-digit";
  if (!date) return new Intl.DateTimeFormat(locale(lang), options).format(toDate(when));
  Object.assign(options, { year: "numeric", month: "2-digit", day: "2-digit" });
  const parts = {};
  for (const part of new Intl.DateTimeFormat("en-GB", options).formatToParts(toDate(when))) {
    parts[part.type] = part.value;
  }
  const sep = lang === "zh" ? "/" : "-";
  const clock = seconds ? `${parts.hour}:${parts.minute}:${parts.second}` : `${parts.hour}:${parts.minute}`;
  return `${parts.year}${sep}${parts.month}${sep}${parts.day} ${clock}`;
}

/** A short day and time, for lists: "01/05 15:20" (zh) or "5 Jan 15:20" (en). */
export function formatShort(when, { lang, zone }) {
  if (when === null || when === undefined) return "—";
  const options = { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  Object.assign(options, lang === "zh" ? { month: "2-digit", day: "2-digit" } : { month: "short", day: "numeric" });
  return new Intl.DateTimeFormat(locale(lang), options).format(toDate(when));
}

/** The hour of the day at ``zone`` (0–23) and whether it is local midnight. */
export function localHour(when, zone) {
  const text = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", hourCycle: "h23" }).format(
    toDate(when),
  );
  return Number(text);
}

/** A day label for a chart's axis: "01-05" (zh) or "5 Jan" (en). */
export function formatDay(when, { lang, zone }) {
  const options = lang === "zh" ? { month: "2-digit", day: "2-digit" } : { month: "short", day: "numeric" };
  return new Intl.DateTimeFormat(locale(lang), { timeZone: zone, ...options }).format(toDate(when));
}

export function toDate(when) {
  return when instanceof Date ? when : new Date(when);
}

/** ``value`` with ``digits`` decimals, or "—" when there is none. */
export function formatNumber(value, digits) {
  return value === null || value === undefined || Number.isNaN(value) ? "—" : Number(value).toFixed(digits);
}

/** A span of minutes as words: "45 分钟", "2 小时", "1 h 30 min". */
export function formatDuration(minutes, t) {
  if (minutes < 60) return t("minutes", minutes);
  if (minutes % 60 === 0) return t("hours", minutes / 60);
  return `${t("hours", Math.floor(minutes / 60))} ${t("minutes", minutes % 60)}`;
}
