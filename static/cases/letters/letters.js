// Letters: what waits for me (GET /api/cases/letters), a letter (GET /api/cases/letters/{id},
// audited) shown as it will be sent, edited while it is a draft, submitted, returned with
// comments or approved by the team lead (POST /api/cases/letters/{id}, against the version shown),
// and its PDF once issued. The templates in use, each with a preview against a sample file.
import { $, h } from "/static/common/dom.js";
import { signOut, signedIn } from "/static/common/session.js";
import { api, keyRows, liveHub, problem, say } from "/static/desk/desk.js";

const CASE_ROLES = new Set(["case_coordinator", "team_lead", "admin"]);
const me = await signedIn((role) => CASE_ROLES.has(role));
$("#whoami").textContent = `${me.user} (${me.role.replace("_", " ")})`;
$("#signout").addEventListener("click", signOut);

const STATES = { draft: "Draft", submitted: "Waiting for the team lead", returned: "Returned", issued: "Issued" };
const MOVES = { submit: "Submit for approval", approve: "Approve and issue", return: "Return with comments" };
const kindWords = (k) => k.replace(/_/g, " ");
const when = (ms) => (ms ? new Date(ms).toLocaleString([], { dateStyle: "medium", timeStyle: "short", hour12: false }) : "");
const announce = (text) => ($("#announce").textContent = text);
let shown = null;

function row(l) {
  return h("tr", { tabindex: "0", dataset: { key: String(l.id) }, "aria-selected": String(shown?.letter.id === l.id) },
    h("td", {}, h("strong", {}, `#${l.id}`), " ", kindWords(l.kind), l.made_by_clock ? h("span", { class: "muted" }, " (made when due)") : ""),
    h("td", {}, h("a", { href: `/cases/#${l.file_number}` }, l.file_number)),
    h("td", {}, STATES[l.state] || l.state),
    h("td", {}, l.author),
    h("td", {}, when(l.updated_at)));
}

async function loadWaiting() {
  try {
    const { letters } = await api("GET", "/api/cases/letters");
    $("#waiting").replaceChildren(...(letters.length ? letters.map(row) : [h("tr", {}, h("td", { colspan: "5", class: "empty" }, "Nothing waits for you."))]));
    $("#count").textContent = `(${letters.length})`;
  } catch (err) {
    problem(`The letters could not be loaded: ${err.message}`);
  }
}

async function openLetter(id, { focus = true } = {}) {
  try {
    show(await api("GET", `/api/cases/letters/${id}`));
    history.replaceState(null, "", `#${id}`);
    if (focus) $("#letter").focus();
  } catch (err) {
    problem(`Letter ${id} could not be opened: ${err.message}`);
  }
}

function show(page) {
  shown = page;
  const l = page.letter;
  const may = new Set(page.may);
  $("#letter-title").textContent = `${kindWords(l.kind)} · ${l.file_number} · ${STATES[l.state] || l.state}`;
  const sent = { email: `by email to ${l.address}`, mail: `by mail to ${l.address}`, phone: `by phone (${l.address}), a copy sent`, file: "kept on file (no contact)", service: `to ${l.address}` }[l.channel] || l.channel;
  const body = [
    h("p", { class: "muted" }, `Written by ${l.author} · sent ${sent}`, l.format !== "standard" ? ` · ${kindWords(l.format)}` : "", ` · version ${l.version}`),
    l.state === "returned" && l.comments ? h("div", { class: "banner", role: "note" }, h("strong", {}, "Returned: "), l.comments) : null,
    l.state === "issued" ? h("p", {}, h("strong", {}, `Letter ${l.number}`), ` issued ${when(l.issued_at)} by ${l.approved_by}`,
      l.acting_for ? ` (acting for ${l.acting_for})` : "", ` · SHA-256 ${l.sha256.slice(0, 16)}… · `,
      h("a", { href: `/api/cases/letters/${l.id}/pdf`, id: "pdf" }, "Open the PDF")) : null,
    may.has("edit") ? editor(l) : null,
    h("div", { class: "actions", role: "group", "aria-label": "What you may do with this letter" },
      ...["submit", "approve"].filter((m) => may.has(m)).map((m) => h("button", { type: "button", dataset: { move: m }, onclick: () => send(m) }, MOVES[m]))),
    may.has("return") ? h("form", { class: "act-form", id: "return-form", onsubmit: (ev) => (ev.preventDefault(), send("return")) },
      h("label", { for: "comments" }, "What should change"), h("textarea", { id: "comments", rows: "3", maxlength: "4000", required: true }),
      h("button", { type: "submit" }, MOVES.return)) : null,
    h("h3", {}, "As it will be sent"),
    h("iframe", { class: "letter-page", title: "The letter as it will be sent", sandbox: "", srcdoc: page.html }),
  ];
  $("#letter-body").replaceChildren(...body.filter(Boolean));
  for (const tr of $("#waiting").querySelectorAll("tr[data-key]")) tr.setAttribute("aria-selected", String(tr.dataset.key === String(l.id)));
}

function editor(l) {
  const box = h("div", { id: "text", class: "letter-text", contenteditable: "true", role: "textbox", "aria-multiline": "true", "aria-label": "The letter's text" });
  box.innerHTML = l.body; // cleaned by the hub to the tags a letter needs
  return h("form", { class: "act-form", id: "edit-form", onsubmit: (ev) => (ev.preventDefault(), send("edit")) },
    h("p", { class: "help" }, "Change the words as you need; the letterhead, address and signature are added."),
    box, h("button", { type: "submit" }, "Save the text"));
}

async function send(move) {
  const l = shown.letter;
  const ask = { version: l.version, move };
  if (move === "edit") ask.body = $("#text").innerHTML;
  if (move === "return") ask.comments = $("#comments").value;
  try {
    const page = await api("POST", `/api/cases/letters/${l.id}`, ask);
    show(page);
    const done = { edit: "Saved.", submit: "Submitted for the team lead's approval.", return: "Returned to its author.", approve: `Issued as letter ${page.letter.number}.` }[move];
    say(done);
    announce(done);
    loadWaiting();
  } catch (err) {
    problem(err.message);
    if (err.status === 409) openLetter(l.id, { focus: false });
  }
}

async function loadTemplates() {
  try {
    const { templates, override_dir: dir } = await api("GET", "/api/cases/letter-templates");
    $("#override-help").textContent = dir ? `A file of the same name in ${dir} replaces a shipped template.` : "";
    $("#templates").replaceChildren(...templates.map((t) => h("li", {},
      h("a", { href: `/api/cases/letter-templates/${t.kind}/preview`, target: "_blank", rel: "noopener" }, `${t.title}: preview`),
      t.overridden ? h("span", { class: "pill" }, " your version") : "")));
  } catch (err) {
    problem(`The templates could not be listed: ${err.message}`);
  }
}

const hub = liveHub(["cases"]);
hub.addEventListener("event", (ev) => {
  const { payload } = ev.detail;
  if (payload.kind !== "case.letter") return;
  loadWaiting();
  if (shown && payload.letter === shown.letter.id && payload.by !== me.user) {
    announce(`${payload.by} changed this letter: it is ${STATES[payload.state] || payload.state}.`);
    openLetter(shown.letter.id, { focus: false });
  }
});
keyRows($("#waiting"), (key) => openLetter(key));
await Promise.all([loadWaiting(), loadTemplates()]);
const wanted = Number(location.hash.slice(1));
if (wanted) await openLetter(wanted);
hub.start();
