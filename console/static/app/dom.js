// Building the page: one element helper, and a re-render that keeps the guard's place.

/**
 * ``el("a", {href, class, text, onclick}, ...children)``: attributes by name, ``on*`` as
 * listeners, ``value`` as the property. Text always as text, never as markup: names and
 * notes come from people and config.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = String(value);
    else if (name === "value") node.value = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/**
 * Replace ``container``'s content without taking the guard's place: the focused field (by
 * id), the caret in a note, and the scroll position survive. Records sent in the
 * background re-render the page while the guard may be typing.
 */
export function replaceKeepingFocus(container, nodes) {
  const active = document.activeElement;
  const id = active && active !== document.body ? active.id : null;
  const caret = active && active.tagName === "TEXTAREA" ? [active.selectionStart, active.selectionEnd] : null;
  const scroll = window.scrollY;
  container.replaceChildren(...nodes.filter(Boolean));
  if (id) {
    const again = document.getElementById(id);
    if (again && again !== active) {
      again.focus({ preventScroll: true });
      if (caret) again.setSelectionRange(...caret);
    }
  }
  window.scrollTo(0, scroll);
}
