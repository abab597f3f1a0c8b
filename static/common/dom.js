// Small DOM helpers. Text always goes in as text (never as HTML): what a
// caller said or a unit typed cannot become markup on a dispatcher's screen.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Set an element's text only when it changed (updates in place stay cheap). */
export function setText(el, text) {
  const value = String(text ?? "");
  if (el.textContent !== value) el.textContent = value;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

/** Announce to screen readers through a polite (or assertive) live region. */
export function announce(text, assertive = false) {
  const region = document.getElementById(assertive ? "announce-urgent" : "announce");
  if (!region) return;
  region.textContent = "";
  requestAnimationFrame(() => (region.textContent = text));
}
