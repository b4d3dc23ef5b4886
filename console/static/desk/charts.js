// Hand-written SVG charts: a reading over time with the room class's allowed band shaded.
// No chart library: nothing to vendor, nothing to load from outside, and the drawing is
// small enough to read. Every chart also says in words what it shows (its accessible
// name and the caption below it), so nobody depends on seeing the lines.

import { el, svg } from "./dom.js";
import { formatDay, formatNumber, formatTime, localHour } from "./format.js";

const WIDTH = 720;
const HEIGHT = 220;
const PAD = { left: 52, right: 14, top: 14, bottom: 30 };
const HOUR = 3600 * 1000;

/** Round tick steps for the value axis: 4 to 7 labelled lines. */
function valueTicks(lo, hi) {
  const span = hi - lo;
  const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100];
  const step = steps.find((s) => span / s <= 6) || 200;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) ticks.push(Number(v.toFixed(6)));
  return { ticks, digits: step < 1 ? 1 : 0 };
}

/** Time ticks on whole local hours of the site: every 1, 3, 12 or 24 h by the span. */
function timeTicks(start, end, zone) {
  const span = end - start;
  const every = span <= 6 * HOUR ? 1 : span <= 26 * HOUR ? 3 : span <= 80 * HOUR ? 12 : 24;
  const ticks = [];
  for (let at = Math.ceil(start / HOUR) * HOUR; at <= end; at += HOUR) {
    if (localHour(at, zone) % every === 0) ticks.push(at);
  }
  return ticks;
}

/** Split a series where the readings stop for a while, so a gap is not drawn as a line. */
function runs(points) {
  if (points.length < 2) return [points];
  const gaps = points.slice(1).map((p, i) => p[0] - points[i][0]);
  const sorted = [...gaps].sort((a, b) => a - b);
  const typical = sorted[Math.floor(sorted.length / 2)];
  const limit = Math.max(typical * 5, 10 * 60 * 1000);
  const out = [[points[0]]];
  points.slice(1).forEach((p, i) => {
    if (gaps[i] > limit) out.push([]);
    out[out.length - 1].push(p);
  });
  return out;
}

/**
 * A chart of ``series`` (each {name, kind, points: [[ms, value], ...]}) between ``start``
 * and ``end`` (ms), with ``band`` ({min, max}) shaded and labelled, and ``marks`` ({at,
 * label}) as vertical lines. ``t`` gives the words; ``zone`` the site's time zone.
 */
export function timeChart({ id, title, unit, series, band, start, end, marks = [], zone, lang, t, digits = 1 }) {
  const values = series.flatMap((s) => s.points.map((p) => p[1]));
  let lo = Math.min(...values, band ? band.min : Infinity);
  let hi = Math.max(...values, band ? band.max : -Infinity);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi - lo < 1) [lo, hi] = [lo - 0.5, hi + 0.5];
  const pad = (hi - lo) * 0.08;
  [lo, hi] = [lo - pad, hi + pad];
  const x = (ms) => PAD.left + ((ms - start) / (end - start || 1)) * (WIDTH - PAD.left - PAD.right);
  const y = (v) => PAD.top + ((hi - v) / (hi - lo)) * (HEIGHT - PAD.top - PAD.bottom);

  const bandText = band ? t("allowed", band.min, band.max, unit) : "";
  const summary = values.length
    ? t(
        "chartSummary",
        title,
        formatNumber(Math.min(...values), digits),
        formatNumber(Math.max(...values), digits),
        unit,
        bandText,
      )
    : `${title}: ${t("noData")}`;

  const chart = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: "chart-svg",
    role: "img",
    "aria-label": summary,
  });
  chart.append(svg("title", { text: summary }));

  // The allowed band first, under everything else: shaded, edged, and labelled in words.
  if (band) {
    const top = y(band.max);
    const bottom = y(band.min);
    chart.append(
      svg("rect", {
        class: "band",
        x: PAD.left,
        y: top,
        width: WIDTH - PAD.left - PAD.right,
        height: Math.max(0, bottom - top),
        "data-min": band.min,
        "data-max": band.max,
      }),
      svg("line", { class: "band-edge", x1: PAD.left, x2: WIDTH - PAD.right, y1: top, y2: top }),
      svg("line", { class: "band-edge", x1: PAD.left, x2: WIDTH - PAD.right, y1: bottom, y2: bottom }),
      // Inside the band, at its foot: readings out of the band are more often above it.
      svg("text", { class: "band-label", x: PAD.left + 6, y: bottom - 6, text: bandText }),
    );
  }

  const { ticks, digits: tickDigits } = valueTicks(lo, hi);
  for (const v of ticks) {
    chart.append(
      svg("line", { class: "grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v) }),
      svg("text", {
        class: "axis",
        x: PAD.left - 6,
        y: y(v) + 4,
        "text-anchor": "end",
        text: formatNumber(v, tickDigits),
      }),
    );
  }
  for (const at of timeTicks(start, end, zone)) {
    const midnight = localHour(at, zone) === 0;
    const label = midnight ? formatDay(at, { lang, zone }) : formatTime(at, { lang, zone, seconds: false });
    chart.append(
      svg("line", { class: "grid grid-time", x1: x(at), x2: x(at), y1: PAD.top, y2: HEIGHT - PAD.bottom }),
      svg("text", { class: "axis", x: x(at), y: HEIGHT - 10, "text-anchor": "middle", text: label }),
    );
  }
  chart.append(
    svg("line", { class: "axis-line", x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: HEIGHT - PAD.bottom }),
    svg("text", { class: "axis unit", x: 6, y: PAD.top + 4, text: unit }),
  );

  for (const mark of marks) {
    if (mark.at < start || mark.at > end) continue;
    chart.append(
      svg("line", { class: "mark", x1: x(mark.at), x2: x(mark.at), y1: PAD.top, y2: HEIGHT - PAD.bottom }),
      svg("text", { class: "mark-label", x: x(mark.at) + 4, y: PAD.top + 12, text: mark.label }),
    );
  }

  series.forEach((s, index) => {
    for (const run of runs(s.points)) {
      if (!run.length) continue;
      const d = run.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
      chart.append(svg("polyline", { class: `line line-${s.kind || index}`, points: d }));
    }
    // Readings outside the band get a ring: a shape as well as the line's position.
    if (band) {
      for (const [at, v] of s.points) {
        if (v < band.min || v > band.max) {
          chart.append(svg("circle", { class: "out", cx: x(at), cy: y(v), r: 3 }));
        }
      }
    }
  });

  const legend = el(
    "ul",
    { class: "legend" },
    series.map((s, index) =>
      el("li", {}, el("span", { class: `swatch swatch-${s.kind || index}`, "aria-hidden": "true" }), s.name),
    ),
    band ? el("li", {}, el("span", { class: "swatch swatch-band", "aria-hidden": "true" }), bandText) : null,
  );
  return el(
    "figure",
    { class: "chart", id, dataset: { chart: id || "" } },
    chart,
    el("figcaption", {}, legend, el("p", { class: "chart-summary", text: summary })),
  );
}
