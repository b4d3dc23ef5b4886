// The readings around an alarm (console.schemas.ReadingsAroundOut: every message of the
// alarm's sensor, or of its room's sensors, from 30 min before it was raised to 30 min
// after) as the desk reads them: a small chart per measurement, one line per sensor, with
// the room's band where it has one; and for on/off values (smoke, water, the door) the
// moments they changed.

import { el } from "./dom.js";
import { timeChart } from "./charts.js";

// Measurements with a unit and precision (sensors/payload.py ReadingPayload).
const MEASURES = {
  temperature: { unit: "°C", digits: 1, zh: "温度", en: "Temperature" },
  humidity: { unit: "%RH", digits: 0, zh: "相对湿度", en: "Relative humidity" },
  lux: { unit: "lx", digits: 0, zh: "照度", en: "Illuminance" },
  uv: { unit: "µW/lm", digits: 0, zh: "紫外线", en: "UV" },
  pm25: { unit: "µg/m³", digits: 0, zh: "PM2.5", en: "PM2.5" },
  voc: { unit: "mg/m³", digits: 2, zh: "挥发性有机物", en: "VOC" },
  battery: { unit: "%", digits: 0, zh: "电量", en: "Battery" },
};
// On/off and text values, shown as the moments they changed.
const STATES = {
  smoke: { zh: "烟感", en: "Smoke", on: { zh: "报警", en: "alarm" }, off: { zh: "正常", en: "clear" } },
  water_leak: { zh: "水浸", en: "Water", on: { zh: "有水", en: "water" }, off: { zh: "正常", en: "dry" } },
  door: { zh: "门", en: "Door", values: { open: { zh: "开", en: "open" }, closed: { zh: "关", en: "closed" } } },
  forced: { zh: "强行开门", en: "Forced", on: { zh: "是", en: "yes" }, off: { zh: "否", en: "no" } },
};
const MAX_CHANGES = 30;

function stateWord(name, value, lang) {
  const known = STATES[name];
  if (typeof value === "boolean" && known && known.on) return (value ? known.on : known.off)[lang];
  if (known && known.values && known.values[value]) return known.values[value][lang];
  return String(value);
}

/**
 * The charts and change lists for ``around`` (null: none kept), with the room's ``limits``
 * (for the temperature and humidity bands) and the alarm's raise time marked.
 */
export function aroundNodes(desk, around, limits, raisedAt) {
  const { t } = desk;
  const lang = desk.view.lang;
  if (!around || !around.readings.length) return [el("p", { class: "quiet", text: t("noData") })];
  const start = new Date(around.start).getTime();
  const end = new Date(around.end).getTime();
  const numeric = new Map(); // measure -> sensor -> points
  const changes = [];
  const last = new Map(); // `${sensor}/${name}` -> value
  for (const reading of around.readings) {
    const at = new Date(reading.at).getTime();
    for (const [name, value] of Object.entries(reading.values)) {
      if (typeof value === "number" && MEASURES[name]) {
        if (!numeric.has(name)) numeric.set(name, new Map());
        const bySensor = numeric.get(name);
        if (!bySensor.has(reading.sensor)) bySensor.set(reading.sensor, []);
        bySensor.get(reading.sensor).push([at, value]);
      } else if (STATES[name] || typeof value === "boolean") {
        const key = `${reading.sensor}/${name}`;
        if (last.get(key) !== value) {
          changes.push({ at: reading.at, sensor: reading.sensor, name, value });
          last.set(key, value);
        }
      }
    }
  }
  const bands = limits ? { temperature: limits.temperature, humidity: limits.humidity } : {};
  const charts = [...numeric.entries()].map(([name, bySensor]) => {
    const measure = MEASURES[name];
    const sensors = [...bySensor.keys()];
    return timeChart({
      id: `around-${name}`,
      title: measure[lang],
      unit: measure.unit,
      series: sensors.map((sensor, i) => ({
        name: sensors.length > 1 ? `${measure[lang]} · ${sensor}` : measure[lang],
        kind: i === 0 ? "main" : "dew",
        points: bySensor.get(sensor),
      })),
      band: bands[name] || null,
      start,
      end,
      marks: [{ at: raisedAt, label: t("raised") }],
      zone: desk.zone,
      lang,
      t,
      digits: measure.digits,
    });
  });
  const list = changes.length
    ? el(
        "table",
        { class: "changes" },
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            [t("time"), t("sensor"), t("value")].map((h) => el("th", { scope: "col", text: h })),
          ),
        ),
        el(
          "tbody",
          {},
          changes.slice(-MAX_CHANGES).map((c) =>
            el(
              "tr",
              { class: new Date(c.at).getTime() >= raisedAt ? "after" : "before" },
              el("td", { class: "time", text: desk.time(c.at) }),
              el("td", { text: c.sensor }),
              el("td", {
                text: `${STATES[c.name] ? STATES[c.name][lang] : c.name}: ${stateWord(c.name, c.value, lang)}`,
              }),
            ),
          ),
        ),
      )
    : null;
  return [...charts, list];
}
