// Where the desk sends people for paper and files: the printable QR checkpoints, the
// reports (printable HTML, or CSV for a spreadsheet), the hazard ledger and the guards'
// checklist app. Each opens in a new tab, so the desk itself stays live.

import { el } from "./dom.js";

function link(href, text, id) {
  return el("li", {}, el("a", { href, id, target: "_blank", rel: "noopener", text }));
}

/** The list items of the links menu for ``site``. */
export function siteLinks(desk, site) {
  const t = desk.t;
  const s = encodeURIComponent(site);
  const reports = [
    ["weekly", "reportWeekly"],
    ["monthly", "reportMonthly"],
    ["quarterly", "reportQuarterly"],
  ];
  return [
    ...reports.map(([period, key]) =>
      el(
        "li",
        { class: "report" },
        el("a", {
          href: `/api/reports/${s}/${period}?format=html`,
          target: "_blank",
          rel: "noopener",
          id: `link-${period}`,
          text: t(key),
        }),
        " · ",
        el("a", {
          href: `/api/reports/${s}/${period}?format=csv`,
          id: `link-${period}-csv`,
          text: t("csv"),
          "aria-label": `${t(key)} ${t("csv")}`,
        }),
      ),
    ),
    link(`/api/hazards.csv?site=${s}`, t("hazards"), "link-hazards"),
    link(`/checkpoints/${s}`, t("checkpoints"), "link-checkpoints"),
    link("/app/", t("checklistApp"), "link-app"),
  ];
}
