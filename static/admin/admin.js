// Accounts for admins: each account's role, unit, state and second factor, its
// sessions (each can be ended), and disable, enable, sign out everywhere, and
// reset a lost second factor. Changes reach every hub within seconds.
import { $, announce, h } from "/static/common/dom.js";
import { browserName } from "/static/common/format.js";
import { signOut, signedIn } from "/static/common/session.js";

const me = await signedIn((role) => role === "admin");
$("#whoami").textContent = `${me.user} (${me.role})`;
$("#signout").addEventListener("click", signOut);

const when = (ms) => new Date(ms).toLocaleString();
let accounts = [];

function problem(text) {
  const el = $("#problem");
  el.textContent = text || "";
  el.hidden = !text;
}

async function call(method, url) {
  const resp = await fetch(url, { method, credentials: "same-origin", headers: { "Content-Type": "application/json" } });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) problem(body.error || `That did not work (${resp.status}).`);
  else problem("");
  return resp.ok;
}

async function act(account, action, question) {
  if (question && !confirm(question)) return;
  if (await call("POST", `/api/admin/accounts/${encodeURIComponent(account.name)}/${action}`)) {
    announce(`${account.name}: ${action.replaceAll("-", " ")} done.`);
    await load();
  }
}

function button(label, onClick, cls = "") {
  return h("button", { type: "button", class: cls, onclick: onClick }, label);
}

function sessionRow(account, s) {
  const live = !s.revoked_at;
  return h(
    "div",
    { class: `session${live ? "" : " revoked"}` },
    `${when(s.issued_at)} to ${when(s.expires_at)} · ${s.via.replaceAll("_", " ")} · ${s.address || "-"} · ` +
      browserName(s.agent),
    s.current ? " (you, here)" : "",
    live
      ? button(
          "End",
          async () => {
            if (await call("DELETE", `/api/admin/sessions/${encodeURIComponent(s.id)}`)) {
              announce(`Session of ${account.name} ended.`);
              await load();
            }
          },
          "quiet",
        )
      : ` (ended${s.revoked_by ? ` by ${s.revoked_by}` : ""})`,
  );
}

function row(a) {
  const live = a.sessions.filter((s) => !s.revoked_at);
  const sessions = a.sessions.length
    ? h("details", {}, h("summary", {}, `${live.length} open`), ...a.sessions.map((s) => sessionRow(a, s)))
    : "none";
  const actions = [
    a.disabled
      ? button("Enable", () => act(a, "enable"))
      : button("Disable", () => act(a, "disable", `Disable ${a.name}? Its sessions end at once.`), "danger"),
    button("Sign out everywhere", () => act(a, "sign-out", `End every session of ${a.name}?`), "quiet"),
  ];
  if (a.second_factor) {
    actions.push(
      button("Reset second factor", () =>
        act(a, "reset-second-factor", `Reset the second factor of ${a.name}? They set up a new one at their next sign-in.`),
        "quiet",
      ),
    );
  }
  return h(
    "tr",
    { class: a.disabled ? "disabled" : "", dataset: { name: a.name } },
    h("th", { scope: "row" }, a.name),
    h("td", {}, a.role.replaceAll("_", " ")),
    h("td", {}, a.unit || ""),
    h("td", {}, a.disabled ? h("span", { class: "state-off" }, "⛔ disabled") : h("span", { class: "state-on" }, "✔ active")),
    h("td", {}, a.second_factor ? "✔ on" : "off"),
    h("td", {}, sessions),
    h("td", { class: "buttons" }, ...actions),
  );
}

function draw() {
  const q = $("#filter").value.trim().toLowerCase();
  const shown = accounts.filter((a) => !q || [a.name, a.role, a.unit || ""].some((v) => v.toLowerCase().includes(q)));
  $("#rows").replaceChildren(...shown.map(row));
}

async function load() {
  const resp = await fetch("/api/admin/accounts", { credentials: "same-origin" });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    problem(body.error || `The accounts could not be loaded (${resp.status}).`);
    return;
  }
  accounts = body.accounts || [];
  draw();
}

$("#refresh").addEventListener("click", load);
$("#filter").addEventListener("input", draw);
await load();
