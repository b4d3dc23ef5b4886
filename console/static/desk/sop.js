// The standard operating procedure beside an alarm: what to do for its category (fire,
// water, intrusion, climate, trouble, ...), in the page's language. A supervisor edits it
// here, in both languages at once, naming the version they started from: when somebody
// else saved meanwhile the server answers 409 and the editor is told to reload.

import { ApiError, failureOf, getJson, LoggedOut, send, Unreachable } from "./api.js";
import { el } from "./dom.js";
import { TEXT } from "./i18n.js";

export function sopPanel(desk) {
  const node = el("aside", { class: "sop", id: "sop", "aria-labelledby": "sop-heading" });
  let category = null;
  let sop = null; // SopOut
  let editing = false;
  let message = null; // {text, error}

  async function load() {
    try {
      const detail = await getJson(`/api/sops/${encodeURIComponent(category)}`);
      sop = detail.sop;
    } catch (error) {
      const why = failureOf(error);
      if (why === null) return;
      message = { text: why, error: true };
    }
    render();
  }

  function show(newCategory, current) {
    if (editing && newCategory === category) return; // never pull the text from under an editor
    category = newCategory;
    if (current) {
      sop = current;
      render();
    } else {
      load();
    }
  }

  function text(lines) {
    // One paragraph per line: the steps are numbered "1. …" one per line.
    return el(
      "div",
      { class: "sop-text", id: "sop-text" },
      lines.split("\n").map((line) => el("p", { text: line })),
    );
  }

  function editor() {
    const t = desk.t;
    const field = (id, label, value, multiline) => [
      el("label", { for: id, text: label }),
      multiline ? el("textarea", { id, rows: 10, text: value }) : el("input", { id, type: "text", value }),
    ];
    const error = el("p", { class: "dialog-error", id: "sop-error", role: "alert" });
    const form = el(
      "form",
      {
        id: "sop-form",
        onsubmit: async (event) => {
          event.preventDefault();
          const value = (id) => form.querySelector(`#${id}`).value;
          const body = {
            version: sop.version,
            title: { zh: value("sop-title-zh"), en: value("sop-title-en") },
            text: { zh: value("sop-text-zh"), en: value("sop-text-en") },
            note: value("sop-note"),
          };
          try {
            const { status, data } = await send("PUT", `/api/sops/${encodeURIComponent(category)}`, body);
            if (status === 200) {
              sop = data;
              editing = false;
              message = { text: { zh: TEXT.zh.sopSaved, en: TEXT.en.sopSaved }, error: false };
              render();
              return;
            }
            error.textContent = desk.local(new ApiError(status, data).reason);
          } catch (failure) {
            if (failure instanceof Unreachable) error.textContent = t("unreachable");
            else if (!(failure instanceof LoggedOut)) throw failure;
          }
        },
      },
      field("sop-title-zh", t("sopTitleZh"), sop.title.zh, false),
      field("sop-text-zh", t("sopTextZh"), sop.text.zh, true),
      field("sop-title-en", t("sopTitleEn"), sop.title.en, false),
      field("sop-text-en", t("sopTextEn"), sop.text.en, true),
      field("sop-note", t("sopNote"), "", false),
      error,
      el(
        "div",
        { class: "dialog-buttons" },
        el("button", { type: "submit", class: "primary", id: "sop-save", text: t("saveSop") }),
        el("button", {
          type: "button",
          id: "sop-cancel",
          text: t("cancel"),
          onclick: () => {
            editing = false;
            render();
          },
        }),
      ),
    );
    return form;
  }

  function render() {
    const t = desk.t;
    const heading = el("h2", { id: "sop-heading", text: t("sop") });
    if (!sop) {
      node.replaceChildren(
        heading,
        el("p", { class: "quiet", text: message ? desk.local(message.text) : t("loading") }),
      );
      return;
    }
    if (editing) {
      // Built once per edit: a live update of the page must not reset what is typed.
      if (!node.querySelector("#sop-form")) node.replaceChildren(heading, editor());
      return;
    }
    const parts = [heading, el("h3", { id: "sop-title", text: desk.local(sop.title) }), text(desk.local(sop.text))];
    if (sop.edited_by) {
      parts.push(
        el("p", {
          class: "note",
          id: "sop-edited",
          text: t("sopUpdated", desk.time(sop.edited_at, { date: true }), sop.edited_by),
        }),
      );
    }
    if (message)
      parts.push(
        el("p", { class: message.error ? "dialog-error" : "note", role: "status", text: desk.local(message.text) }),
      );
    if (desk.can("sop_edit")) {
      parts.push(
        el("button", {
          type: "button",
          id: "sop-edit",
          text: t("editSop"),
          onclick: () => {
            editing = true;
            message = null;
            render();
            node.querySelector("#sop-text-zh, #sop-text-en")?.focus();
          },
        }),
      );
    } else {
      // Not hidden without a word: the desk sees that the text can be changed, and by whom.
      parts.push(el("p", { class: "hint", id: "sop-edit-reason", text: t("sopEditReason") }));
    }
    node.replaceChildren(...parts);
  }

  return {
    node,
    show,
    update() {
      if (!editing) render();
    },
  };
}
