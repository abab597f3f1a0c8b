// The directory (GET/POST /api/agencies, /api/business-areas): agency contacts
// and the business areas information requests are routed to, with their
// keywords. Saving is by name: a name already there is changed, a new one added
// (so editing keeps the name; a renamed entry is a new one).
import { $, h } from "/static/common/dom.js";
import { api, deskPage, fillSelect, markFields, problem, say, values, words } from "/static/desk/desk.js";

await deskPage();

const KINDS = [
  ["police", "Police"],
  ["fire", "Fire"],
  ["ems", "EMS"],
  ["security", "Security"],
  ["311", "311"],
  ["municipal", "Municipal"],
  ["other", "Other"],
];
const kindLabel = Object.fromEntries(KINDS);
fillSelect($("#a-kind"), KINDS);
fillSelect($("#f-kind"), KINDS, { blank: "Any" });

// ---- agencies ----------------------------------------------------------------------

function agencyRow(a) {
  const edit = h("button", { type: "button", class: "quiet", "aria-label": `Edit ${a.name}` }, "Edit");
  edit.addEventListener("click", () => editAgency(a));
  return h(
    "tr",
    { dataset: { key: a.name } },
    h("th", { scope: "row" }, a.name),
    h("td", {}, kindLabel[a.kind] || a.kind),
    h("td", {}, a.phone),
    h("td", { class: "wrap" }, a.email),
    h("td", { class: "wrap" }, a.notes),
    h("td", {}, edit),
  );
}

function showAgencies(list) {
  const rows = list.map(agencyRow);
  $("#agency-rows").replaceChildren(
    ...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "6", class: "empty" }, "No agencies yet."))]),
  );
  $("#agency-count").textContent = `(${list.length})`;
}

async function loadAgencies() {
  const { kind } = values($("#agency-filter"));
  try {
    showAgencies((await api("GET", `/api/agencies${kind ? `?kind=${encodeURIComponent(kind)}` : ""}`)).agencies);
  } catch (err) {
    problem(`The agencies could not be loaded: ${err.message}`);
  }
}

function editAgency(a) {
  const form = $("#agency-form");
  form.elements.name.value = a.name;
  form.elements.name.readOnly = true;
  form.elements.kind.value = a.kind;
  form.elements.phone.value = a.phone;
  form.elements.email.value = a.email;
  form.elements.notes.value = a.notes;
  $("#agency-form-title").textContent = `Edit agency ${a.name}`;
  $("#agency-cancel").hidden = false;
  form.elements.kind.focus();
}

function resetAgency() {
  const form = $("#agency-form");
  form.reset();
  form.elements.name.readOnly = false;
  markFields(form, null);
  $("#agency-form-title").textContent = "Add an agency";
  $("#agency-cancel").hidden = true;
}

$("#agency-filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  void loadAgencies();
});
$("#agency-cancel").addEventListener("click", () => (resetAgency(), $("#a-name").focus()));
$("#agency-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const body = values(form);
  if (!body.name) {
    markFields(form, { name: 1 });
    return problem("Not saved: the agency needs a name.");
  }
  const editing = form.elements.name.readOnly;
  try {
    await api("POST", "/api/agencies", body);
    resetAgency();
    await loadAgencies();
    say(`Agency ${body.name} ${editing ? "changed" : "saved"}.`);
  } catch (err) {
    markFields(form, err.errors);
    problem(`Agency not saved: ${err.message}`);
  }
});

// ---- business areas ---------------------------------------------------------------

function areaRow(a) {
  const edit = h("button", { type: "button", class: "quiet", "aria-label": `Edit ${a.name}` }, "Edit");
  edit.addEventListener("click", () => editArea(a));
  return h(
    "tr",
    { dataset: { key: a.name } },
    h("th", { scope: "row" }, a.name),
    h("td", { class: "wrap" }, a.email),
    h("td", { class: "wrap" }, a.keywords.join(", ")),
    h("td", {}, edit),
  );
}

async function loadAreas() {
  try {
    const list = (await api("GET", "/api/business-areas")).business_areas;
    const rows = list.map(areaRow);
    $("#area-rows").replaceChildren(
      ...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "4", class: "empty" }, "No business areas yet."))]),
    );
    $("#area-count").textContent = `(${list.length})`;
  } catch (err) {
    problem(`The business areas could not be loaded: ${err.message}`);
  }
}

function editArea(a) {
  const form = $("#area-form");
  form.elements.name.value = a.name;
  form.elements.name.readOnly = true;
  form.elements.email.value = a.email;
  form.elements.keywords.value = a.keywords.join(", ");
  $("#area-form-title").textContent = `Edit business area ${a.name}`;
  $("#area-cancel").hidden = false;
  form.elements.email.focus();
}

function resetArea() {
  const form = $("#area-form");
  form.reset();
  form.elements.name.readOnly = false;
  markFields(form, null);
  $("#area-form-title").textContent = "Add a business area";
  $("#area-cancel").hidden = true;
}

$("#area-cancel").addEventListener("click", () => (resetArea(), $("#b-name").focus()));
$("#area-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const body = values(form);
  if (!body.name) {
    markFields(form, { name: 1 });
    return problem("Not saved: the business area needs a name.");
  }
  body.keywords = words(body.keywords);
  if (body.keywords.length > 50) {
    markFields(form, { keywords: 1 });
    return problem("Not saved: at most 50 keywords.");
  }
  const editing = form.elements.name.readOnly;
  try {
    await api("POST", "/api/business-areas", body);
    resetArea();
    await loadAreas();
    say(`Business area ${body.name} ${editing ? "changed" : "saved"}.`);
  } catch (err) {
    markFields(form, err.errors);
    problem(`Business area not saved: ${err.message}`);
  }
});

await Promise.all([loadAgencies(), loadAreas()]);
