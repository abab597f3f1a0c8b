// The inbox of emailed information requests (GET/POST /api/info-requests,
// PATCH /api/info-requests/{id}): log one that came by email (the hub routes it
// by the business areas' keywords), route it to another business area, link an
// incident, and answer or close it with what was done.
import { $, h } from "/static/common/dom.js";
import { api, deskPage, fillSelect, keyRows, markFields, problem, say, values, when } from "/static/desk/desk.js";

await deskPage();

const STATE_LABEL = { new: "New", routed: "Routed", answered: "Answered", closed: "Closed" };
let openId = null;
let areas = [];
let shown = new Map(); // id -> the request, as the list last loaded it

function row(item) {
  return h(
    "tr",
    { tabindex: "0", dataset: { key: String(item.id) }, "aria-selected": String(item.id === openId) },
    h("td", { class: "num" }, String(item.id)),
    h("td", {}, when(item.received_at)),
    h("td", { class: "wrap" }, item.sender),
    h("td", { class: "wrap" }, item.subject),
    h("td", {}, h("span", { class: `state ${item.status}` }, STATE_LABEL[item.status] || item.status)),
    h("td", {}, item.business_area || "not routed"),
  );
}

async function load(message = null) {
  const { status } = values($("#filter"));
  try {
    const { info_requests: items } = await api("GET", `/api/info-requests${status ? `?status=${status}` : ""}`);
    shown = new Map(items.map((i) => [String(i.id), i]));
    const rows = items.map(row);
    $("#rows").replaceChildren(
      ...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "6", class: "empty" }, "No requests here."))]),
    );
    $("#count").textContent = `(${items.length})`;
    say(message ?? `${items.length} request${items.length === 1 ? "" : "s"} shown.`);
  } catch (err) {
    problem(`The inbox could not be loaded: ${err.message}`);
  }
}

async function loadAreas() {
  try {
    areas = (await api("GET", "/api/business-areas")).business_areas;
  } catch (err) {
    problem(`The business areas could not be loaded: ${err.message}`);
  }
}

async function change(item, body, done, form) {
  try {
    const changed = await api("PATCH", `/api/info-requests/${item.id}`, body);
    markFields(form, null);
    show(changed);
    await load(done);
  } catch (err) {
    markFields(form, err.errors);
    problem(`Not saved: ${err.message}`);
  }
}

function form(id, label, fields, buttons) {
  return h("form", { id, novalidate: true, autocomplete: "off", "aria-label": label }, fields, h("div", { class: "buttons" }, buttons));
}

function show(item) {
  openId = item.id;
  for (const tr of $("#rows").querySelectorAll("tr[data-key]")) tr.setAttribute("aria-selected", String(tr.dataset.key === String(item.id)));
  $("#detail-title").textContent = `Request ${item.id}: ${item.subject}`;

  const area = h("select", { id: "d-area", name: "business_area", required: true });
  const options = areas.map((a) => [a.name, a.email ? `${a.name} (${a.email})` : a.name]);
  // a 311 referral may have been sent to an area the policy names but the directory does not hold
  if (item.business_area && !areas.some((a) => a.name === item.business_area)) {
    options.unshift([item.business_area, `${item.business_area} (not in the directory)`]);
  }
  fillSelect(area, options, { blank: "Choose a business area" });
  area.value = item.business_area || "";
  const route = form("route-form", "Route", [h("label", { for: "d-area" }, "Route to business area"), area], [
    h("button", { type: "submit" }, "Route"),
    areas.length ? null : h("a", { href: "/desk/directory/" }, "Add business areas in the directory"),
  ]);
  route.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!area.value) return problem("Not routed: choose a business area.");
    await change(item, { business_area: area.value }, `Request ${item.id} routed to ${area.value}.`, route);
  });

  const incident = h("input", { id: "d-incident", name: "incident", maxlength: "64", value: item.incident || "" });
  const link = form("link-form", "Link an incident", [h("label", { for: "d-incident" }, "Linked incident"), incident], [
    h("button", { type: "submit" }, "Link incident"),
  ]);
  link.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const id = incident.value.trim();
    if (!id) return problem("Not linked: type the incident number.");
    await change(item, { incident: id }, `Request ${item.id} linked to ${id}.`, link);
  });

  const notes = h("textarea", { id: "d-notes", name: "notes", rows: "3", maxlength: "20000" });
  notes.value = item.notes || "";
  const answered = h("button", { type: "submit", value: "answered" }, "Mark answered");
  const closed = h("button", { type: "submit", value: "closed" }, "Close");
  const answer = form("answer-form", "Answer or close", [
    h("label", { for: "d-notes" }, "What was done (the answer)"), notes,
  ], [answered, closed]);
  answer.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const status = ev.submitter?.value === "closed" ? "closed" : "answered";
    if (status === "answered" && !notes.value.trim()) return problem("Not answered: write what was done first.");
    const body = { status, notes: notes.value.trim() };
    await change(item, body, `Request ${item.id} ${status === "closed" ? "closed" : "answered"}.`, answer);
  });

  $("#detail-body").replaceChildren(
    h(
      "dl",
      {},
      h("dt", {}, "Status"), h("dd", { id: "detail-status" }, h("span", { class: `state ${item.status}` }, STATE_LABEL[item.status] || item.status)),
      h("dt", {}, "From"), h("dd", {}, item.sender),
      h("dt", {}, "Received"), h("dd", {}, when(item.received_at)),
      h("dt", {}, "Business area"), h("dd", { id: "detail-area" }, item.business_area || "not routed"),
      h("dt", {}, "Incident"), h("dd", {}, item.incident || "-"),
      h("dt", {}, "Last change"), h("dd", {}, `${when(item.updated_at)} by ${item.updated_by}`),
    ),
    h("h3", {}, "Message"),
    h("div", { class: "body" }, item.body || "(no message text)"),
    route,
    link,
    answer,
  );
}

function open(id) {
  // the list holds each request whole (as loaded): no read of its own
  const item = shown.get(String(id));
  if (!item) return problem(`Request ${id} is not in the list: show the list again.`);
  show(item);
  $("#detail").focus();
}

keyRows($("#rows"), (id) => open(id));
$("#filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  void load();
});

$("#receive-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.currentTarget;
  const body = values(f);
  if (!body.sender || !body.subject) {
    markFields(f, { ...(body.sender ? {} : { sender: 1 }), ...(body.subject ? {} : { subject: 1 }) });
    return problem("Not logged: give the sender and the subject.");
  }
  try {
    const made = await api("POST", "/api/info-requests", body);
    markFields(f, null);
    f.reset();
    const where = made.business_area ? `routed to ${made.business_area}` : "not routed: no business area's keywords matched";
    await load(`Request ${made.id} logged, ${where}.`);
    show(made);
  } catch (err) {
    markFields(f, err.errors);
    problem(`Not logged: ${err.message}`);
  }
});

await loadAreas();
await load();
