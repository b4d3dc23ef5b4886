// Building the page: one element helper and a replace that keeps the person's place.

/**
 * ``el("a", {href, class, text, onclick}, ...children)``: attributes by name, ``on*`` as
 * listeners, ``dataset`` as data-* attributes, ``value`` as the property. Text always as
 * text, never as markup: room names, messages and comments come from config and people.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attrs);
  append(node, children);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** The same for SVG elements (charts), which need their namespace. */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttributes(node, attrs);
  append(node, children);
  return node;
}

function setAttributes(node, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.setAttribute("class", value);
    else if (name === "text") node.textContent = String(value);
    else if (name === "value") node.value = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replace ``container``'s content without taking the person's place: the focused control
 * (by id), the caret in a text field and the scroll position survive. Live updates
 * re-render while somebody may be typing a comment or reading down a long list.
 */
export function replaceKeepingFocus(container, nodes) {
  const active = document.activeElement;
  const id = active && active !== document.body && container.contains(active) ? active.id : null;
  const caret =
    active && (active.tagName === "TEXTAREA" || active.tagName === "INPUT") && active.type !== "checkbox"
      ? [active.selectionStart, active.selectionEnd]
      : null;
  const scroll = window.scrollY;
  container.replaceChildren(...nodes.flat().filter(Boolean));
  if (id) {
    const again = document.getElementById(id);
    if (again && again !== active) {
      again.focus({ preventScroll: true });
      if (caret && caret[0] !== null && typeof again.setSelectionRange === "function") {
        try {
          again.setSelectionRange(...caret);
        } catch (_) {
          // A field type without a caret (select, number): focus is enough.
        }
      }
    }
  }
  window.scrollTo(0, scroll);
}
