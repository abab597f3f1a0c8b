// What every desk page shares: the sign-in check (dispatcher, supervisor,
// admin), the navigation bar to every desk page and back to the board, the
// result line (role=status) and the problem line (role=alert), calls to the
// HTTP API that say plainly what failed, a hub connection with its pill for the
// pages that work over the WebSocket, and the keyboard: Alt+N the page's form,
// Alt+L its list, arrows and Enter within a list, Enter on a choice list sends its form.
import { HubConnection } from "/static/common/hub.js";
import { $, h } from "/static/common/dom.js";
import { connectionText, signOut, signedIn } from "/static/common/session.js";

export const DESK_ROLES = new Set(["dispatcher", "supervisor", "admin"]);

export const DESK_PAGES = [
  { path: "/desk/investigations/", label: "Investigations" },
  { path: "/desk/info-requests/", label: "Info requests" },
  { path: "/desk/directory/", label: "Directory" },
  { path: "/desk/radio/", label: "Radio log" },
  { path: "/desk/reports/", label: "Response times" },
  { path: "/desk/units/", label: "Roster" },
  { path: "/desk/resources/", label: "Resources" },
];

// The hub's close codes (from /api/me), for the page's live connection.
let closeCodes = null;

/** Sign-in check, header and navigation; -> /api/me of who is signed in. */
export async function deskPage() {
  const me = await signedIn((role) => DESK_ROLES.has(role));
  closeCodes = me.close_codes;
  const nav = $("#desk-nav");
  const here = location.pathname;
  const links = [{ path: "/board/", label: "Board" }, ...DESK_PAGES].map(({ path, label }) =>
    h("li", {}, h("a", { href: path, "aria-current": path === here ? "page" : null }, label)),
  );
  nav.replaceChildren(h("ul", {}, links));
  $("#whoami").textContent = `${me.user} (${me.role})`;
  $("#signout").addEventListener("click", signOut);
  document.addEventListener("keydown", shortcuts);
  return me;
}

function shortcuts(ev) {
  // Enter on a (closed) choice list sends its form, as it does in a text field
  if (ev.key === "Enter" && ev.target instanceof HTMLSelectElement && ev.target.form && !ev.altKey) {
    ev.preventDefault();
    ev.target.form.requestSubmit();
    return;
  }
  if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
  const key = ev.key.toLowerCase();
  if (key === "n") {
    const first = document.querySelector("[data-new]");
    if (first) (ev.preventDefault(), first.focus());
  } else if (key === "l") {
    const list = document.querySelector("[data-list]");
    if (!list) return;
    ev.preventDefault();
    const row = list.querySelector("tr[tabindex]");
    (row || list).focus();
  }
}

// ---- what happened: results and problems ------------------------------------

/** A result, in the page's role=status line (read out politely); clears the problem line. */
export function say(text, where = "#status") {
  const el = $(where);
  if (el) el.textContent = text || "";
  problem("");
}

/** A failure, in the page's role=alert line; "" clears it. */
export function problem(text, where = "#problem") {
  const el = $(where);
  if (!el) return;
  el.textContent = text || "";
  el.hidden = !text; // role=alert: read out as it appears
}

export class ApiError extends Error {
  constructor(message, status, errors = null) {
    super(message);
    this.status = status;
    this.errors = errors;
  }
}

/** A call to the hub's HTTP API; resolves with the JSON body, rejects with an ApiError that says what failed. */
export async function api(method, url, body = undefined) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (err) {
    throw new ApiError(`the hub could not be reached (${err.message})`, 0);
  }
  if (resp.status === 401) {
    location.assign(`/signin/?next=${encodeURIComponent(location.pathname)}`);
    throw new ApiError("signed out: sign in again", 401);
  }
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    const fields = data && data.errors ? Object.entries(data.errors).map(([k, v]) => `${k}: ${v}`) : [];
    const said = (data && data.error) || `the hub answered ${resp.status}`;
    // msgspec names the field it refused ("... - at `$.name`"): mark that one when no list came
    const at = /at `\$\.([A-Za-z_]+)/.exec(said);
    const errors = data?.errors || (at ? { [at[1]]: said } : null);
    throw new ApiError(fields.length ? `${said} (${fields.join("; ")})` : said, resp.status, errors);
  }
  return data;
}

/** Mark the fields a refusal names (by name or id), and clear the marks on the others. */
export function markFields(form, errors) {
  for (const el of form.elements) el.removeAttribute("aria-invalid");
  for (const name of Object.keys(errors || {})) {
    const key = name.replace(/^\$\./, "").split(/[.[]/)[0];
    const el = form.elements.namedItem(key);
    if (el && el.setAttribute) el.setAttribute("aria-invalid", "true");
  }
}

// ---- small shared pieces -----------------------------------------------------

export const when = (ms) =>
  ms ? new Date(ms).toLocaleString([], { dateStyle: "medium", timeStyle: "short", hour12: false }) : "";

/** "a, b ,c" -> ["a", "b", "c"] (empty items dropped, duplicates kept once). */
export function words(text) {
  return [...new Set(String(text || "").split(",").map((w) => w.trim()).filter(Boolean))];
}

/** A form's trimmed text values by name. */
export function values(form) {
  const out = {};
  for (const [k, v] of new FormData(form)) out[k] = typeof v === "string" ? v.trim() : v;
  return out;
}

/**
 * Rows of a list that take the keyboard: each row focusable, arrows move, Home/End jump,
 * Enter (or a click) opens. Call after every render.
 */
export function keyRows(tbody, onOpen) {
  if (tbody.dataset.keyed) return;
  tbody.dataset.keyed = "1";
  tbody.addEventListener("keydown", (ev) => {
    const row = ev.target.closest("tr[tabindex]");
    if (!row || ev.target !== row) return;
    const rows = [...tbody.querySelectorAll("tr[tabindex]")];
    const at = rows.indexOf(row);
    const go = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: rows.length - 1 }[ev.key];
    if (go !== undefined) {
      ev.preventDefault();
      rows[Math.max(0, Math.min(rows.length - 1, go))]?.focus();
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      onOpen(row.dataset.key, row);
    }
  });
  tbody.addEventListener("click", (ev) => {
    const row = ev.target.closest("tr[tabindex]");
    if (row && !ev.target.closest("button, a, input, select, textarea")) onOpen(row.dataset.key, row);
  });
}

/** Rebuild a list's rows with replace(); the row that had the focus (by its key) keeps it. */
export function keepFocus(tbody, replace) {
  const had = document.activeElement?.closest?.("tr[data-key]");
  const key = had && tbody.contains(had) ? had.dataset.key : null;
  replace();
  if (key !== null) [...tbody.querySelectorAll("tr[data-key]")].find((tr) => tr.dataset.key === key)?.focus();
}

/** Options for a <select>: [[value, label], ...] (or plain values), keeping the current choice when it is still there. */
export function fillSelect(select, options, { blank = null } = {}) {
  const current = select.value;
  const items = options.map((o) => (Array.isArray(o) ? o : [o, o]));
  const els = items.map(([value, label]) => h("option", { value }, label));
  if (blank !== null) els.unshift(h("option", { value: "" }, blank));
  select.replaceChildren(...els);
  if ([...select.options].some((o) => o.value === current)) select.value = current;
}

/**
 * The hub connection of a live page (the WebSocket, the sign-in cookie), with the header's
 * #connection pill kept in words. Commands go through hub.command(); it rejects while offline.
 */
export function liveHub(topics) {
  const hub = new HubConnection({ topics, closeCodes });
  const pill = $("#connection");
  const show = () => {
    const { text, cls } = connectionText(hub.state, hub.closeReason, hub.pending);
    pill.textContent = text;
    pill.className = `pill ${cls}`;
    pill.dataset.state = hub.state;
  };
  hub.addEventListener("state", show);
  hub.addEventListener("outbox", show);
  hub.addEventListener("final", (ev) => {
    if (ev.detail.signIn) location.assign(`/signin/?next=${encodeURIComponent(location.pathname)}`);
  });
  hub.addEventListener("problem", (ev) => problem(`The hub: ${ev.detail.message}`));
  show();
  return hub;
}
