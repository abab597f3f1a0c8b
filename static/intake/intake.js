// The intake dead-letter list: what the workers could not file, and why, with
// a Replay button per entry. Each role sees its own lane's entries (the API
// decides: complaints for case staff, referrals for 311 staff and supervisors).
import { $, announce, h } from "/static/common/dom.js";
import { signOut, signedIn } from "/static/common/session.js";

const ROLES = ["intake_311", "supervisor", "case_coordinator", "team_lead", "admin"];
const me = await signedIn((role) => ROLES.includes(role));
$("#whoami").textContent = `${me.user} (${me.role})`;
$("#signout").addEventListener("click", signOut);

const when = (ms) => new Date(ms).toLocaleString();

function problem(text) {
  const el = $("#problem");
  el.textContent = text || "";
  el.hidden = !text;
}

async function replay(letter, button) {
  button.disabled = true;
  const resp = await fetch(`/api/intake/dead-letters/${letter.id}/replay`, {
    method: "POST",
    credentials: "same-origin",
  });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    button.disabled = false;
    problem(body.error || `Replay failed (${resp.status}).`);
    return;
  }
  problem("");
  announce(`${letter.ref || letter.entry_id} queued again.`);
  await load();
}

function row(letter) {
  const action = letter.replayed_at
    ? `replayed by ${letter.replayed_by} ${when(letter.replayed_at)}`
    : h("button", { type: "button", "aria-label": `Replay ${letter.ref || letter.entry_id}` }, "Replay");
  if (action instanceof HTMLElement) action.addEventListener("click", () => replay(letter, action));
  return h(
    "tr",
    { class: letter.replayed_at ? "replayed" : "", dataset: { id: String(letter.id) } },
    h("td", {}, when(letter.at)),
    h("td", {}, letter.stream),
    h("td", {}, letter.ref || letter.entry_id),
    h("td", {}, String(letter.attempts)),
    h("td", { class: "why" }, letter.reason),
    h("td", {}, action),
  );
}

async function load() {
  const all = $("#show-all").checked ? "?all=1" : "";
  const resp = await fetch(`/api/intake/dead-letters${all}`, { credentials: "same-origin" });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    problem(body.error || `The list could not be loaded (${resp.status}).`);
    return;
  }
  const letters = body.dead_letters || [];
  $("#rows").replaceChildren(...letters.map(row));
  $("#letters").hidden = letters.length === 0;
  $("#empty").hidden = letters.length !== 0;
}

$("#refresh").addEventListener("click", load);
$("#show-all").addEventListener("change", load);
await load();
