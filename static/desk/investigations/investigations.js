// Investigations opened from incidents (GET/POST /api/investigations,
// GET/PATCH /api/investigations/{id}): the list, open one from an incident,
// assign it, add notes, close it with an outcome or reopen it; with its own
// timeline (opened, notes, closed) and the incident's timeline beside it.
import { $, h } from "/static/common/dom.js";
import { statusLabel } from "/static/common/format.js";
import { api, deskPage, keyRows, markFields, problem, say, values, when } from "/static/desk/desk.js";

await deskPage();

const STATE_LABEL = { open: "Open", assigned: "Assigned", closed: "Closed" };
let openId = null;

function row(item) {
  return h(
    "tr",
    { tabindex: "0", dataset: { key: String(item.id) }, "aria-selected": String(item.id === openId) },
    h("td", { class: "num" }, String(item.id)),
    h("td", {}, item.incident),
    h("td", { class: "wrap" }, item.title),
    h("td", {}, h("span", { class: `state ${item.status}` }, STATE_LABEL[item.status] || item.status)),
    h("td", {}, item.assigned_to || "-"),
    h("td", {}, when(item.opened_at)),
  );
}

async function load(message = null) {
  const ask = values($("#filter"));
  const query = new URLSearchParams(Object.entries(ask).filter(([, v]) => v));
  try {
    const { investigations } = await api("GET", `/api/investigations?${query}`);
    const rows = investigations.map(row);
    $("#rows").replaceChildren(
      ...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "6", class: "empty" }, "No investigations match."))]),
    );
    $("#count").textContent = `(${investigations.length})`;
    say(message ?? `${investigations.length} investigation${investigations.length === 1 ? "" : "s"} shown.`);
  } catch (err) {
    problem(`The investigations could not be loaded: ${err.message}`);
  }
}

async function offerIncidents() {
  // the open incidents, to pick from; an archived one can still be typed
  try {
    const board = await api("GET", "/api/board");
    $("#incident-list").replaceChildren(
      ...board.incidents.map((i) => h("option", { value: i.id }, `${i.call_type} · ${i.location?.address || ""}`)),
    );
  } catch {
    // the list is a convenience: typing the number still works
  }
}

// ---- one investigation -------------------------------------------------------

function timeline(item) {
  const lines = [{ at: item.opened_at, by: item.opened_by, text: `Opened from ${item.incident}: ${item.title}` }];
  for (const n of item.notes || []) lines.push({ at: n.at, by: n.by, text: n.text });
  if (item.closed_at) lines.push({ at: item.closed_at, by: "", text: `Closed${item.outcome ? `: ${item.outcome}` : ""}` });
  lines.sort((a, b) => a.at - b.at);
  return h(
    "ol",
    { class: "timeline", id: "timeline", "aria-label": "Investigation timeline" },
    lines.map((l) => h("li", {}, h("span", { class: "at" }, `${when(l.at)}${l.by ? ` · ${l.by}` : ""}`), l.text)),
  );
}

function actionForm(id, label, fields, button, onSubmit) {
  const form = h("form", { id, novalidate: true, autocomplete: "off", "aria-label": label }, fields,
    h("div", { class: "buttons" }, h("button", { type: "submit" }, button)));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    await onSubmit(form);
  });
  return form;
}

async function change(item, body, done, form) {
  try {
    const changed = await api("PATCH", `/api/investigations/${item.id}`, body);
    markFields(form, null);
    await show(changed);
    await load(done);
  } catch (err) {
    markFields(form, err.errors);
    problem(`Not saved: ${err.message}`);
  }
}

async function show(item) {
  openId = item.id;
  history.replaceState(null, "", `#${item.id}`);
  for (const tr of $("#rows").querySelectorAll("tr[data-key]")) tr.setAttribute("aria-selected", String(tr.dataset.key === String(item.id)));
  $("#detail-title").textContent = `Investigation ${item.id}: ${item.title}`;
  const closed = item.status === "closed";
  const parts = [
    h(
      "dl",
      {},
      h("dt", {}, "Status"), h("dd", { id: "detail-status" }, h("span", { class: `state ${item.status}` }, STATE_LABEL[item.status] || item.status)),
      h("dt", {}, "Incident"), h("dd", {}, item.incident),
      h("dt", {}, "Assigned to"), h("dd", { id: "detail-assigned" }, item.assigned_to || "nobody yet"),
      h("dt", {}, "Opened"), h("dd", {}, `${when(item.opened_at)} by ${item.opened_by}`),
      closed ? [h("dt", {}, "Closed"), h("dd", {}, when(item.closed_at))] : null,
      item.outcome ? [h("dt", {}, "Outcome"), h("dd", { id: "detail-outcome" }, item.outcome)] : null,
    ),
    h("h3", {}, "Timeline"),
    timeline(item),
  ];
  if (closed) {
    parts.push(
      actionForm("reopen-form", "Reopen", [h("p", { class: "help" }, "Closed: reopen it to assign or add notes.")], "Reopen investigation",
        (form) => change(item, { status: "open" }, `Investigation ${item.id} reopened.`, form)),
    );
  } else {
    parts.push(
      h("h3", {}, "Assign"),
      actionForm("assign-form", "Assign", [
        h("label", { for: "a-who" }, "Assign to"),
        h("input", { id: "a-who", name: "assigned_to", maxlength: "200", required: true, value: item.assigned_to || "" }),
      ], "Assign", async (form) => {
        const who = values(form).assigned_to;
        if (!who) return problem("Not assigned: say to whom.");
        await change(item, { assigned_to: who }, `Investigation ${item.id} assigned to ${who}.`, form);
      }),
      h("h3", {}, "Add a note"),
      actionForm("note-form", "Add a note", [
        h("label", { for: "n-text" }, "Note"),
        h("textarea", { id: "n-text", name: "note", rows: "2", maxlength: "20000", required: true }),
      ], "Add note", async (form) => {
        const note = values(form).note;
        if (!note) return problem("No note added: the note is empty.");
        await change(item, { note }, `Note added to investigation ${item.id}.`, form);
      }),
      h("h3", {}, "Close"),
      actionForm("close-form", "Close", [
        h("label", { for: "c-outcome" }, "Outcome"),
        h("textarea", { id: "c-outcome", name: "outcome", rows: "2", maxlength: "20000", required: true }),
      ], "Close investigation", async (form) => {
        const outcome = values(form).outcome;
        if (!outcome) return problem("Not closed: write the outcome first.");
        await change(item, { status: "closed", outcome }, `Investigation ${item.id} closed.`, form);
      }),
    );
  }
  parts.push(h("h3", {}, `Incident ${item.incident}`), h("div", { id: "incident-record" }, "Loading the incident…"));
  $("#detail-body").replaceChildren(...parts);
  void showIncident(item.incident);
}

async function showIncident(id) {
  const box = $("#incident-record");
  try {
    const { incident, timeline: entries } = await api("GET", `/api/incidents/${encodeURIComponent(id)}`);
    if ($("#incident-record") !== box) return; // another investigation was opened meanwhile
    box.replaceChildren(
      h("p", {}, `P${incident.priority} ${incident.call_type} · ${incident.location?.address || ""} · ${statusLabel(incident.status)}`),
      h(
        "ol",
        { class: "timeline", "aria-label": `Timeline of incident ${id}` },
        entries.map((e) => h("li", {}, h("span", { class: "at" }, `${when(e.at)} · ${e.by}`), `${e.action}${e.detail ? `: ${e.detail}` : ""}`)),
      ),
    );
  } catch (err) {
    box.replaceChildren(h("p", { class: "error-text" }, `The incident could not be read: ${err.message}`));
  }
}

async function open(id, focus = true) {
  try {
    await show(await api("GET", `/api/investigations/${encodeURIComponent(id)}`));
    if (focus) $("#detail").focus();
  } catch (err) {
    problem(`Investigation ${id} could not be opened: ${err.message}`);
  }
}

// ---- wiring ----------------------------------------------------------------------

keyRows($("#rows"), (id) => open(id));
$("#filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  void load();
});

$("#open-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const body = values(form);
  if (!body.incident || !body.title) {
    markFields(form, { ...(body.incident ? {} : { incident: 1 }), ...(body.title ? {} : { title: 1 }) });
    problem("Not opened: give the incident number and a title.");
    return;
  }
  if (!body.assigned_to) delete body.assigned_to;
  try {
    const made = await api("POST", "/api/investigations", body);
    markFields(form, null);
    form.reset();
    await load(`Investigation ${made.id} opened from ${made.incident}.`);
    await show(made);
    $("#detail").focus();
  } catch (err) {
    markFields(form, err.status === 404 ? { incident: 1 } : err.errors);
    problem(`Not opened: ${err.message}`);
  }
});

const params = new URLSearchParams(location.search);
if (params.get("incident")) $("#o-incident").value = params.get("incident");
await load();
void offerIncidents();
if (/^#\d+$/.test(location.hash)) await open(location.hash.slice(1), false);
