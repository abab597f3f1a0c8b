// The resource inventory, live over the hub (topics "resources" and "units"):
// vehicles, boats, ATVs, K9 and seasonal equipment; add one or change it
// (resource.upsert), give it to a unit or take it back (resource.assign). A
// unit holding a resource in service gains what it lends.
import { $, h, setText } from "/static/common/dom.js";
import { statusLabel } from "/static/common/format.js";
import { deskPage, fillSelect, keepFocus, keyRows, liveHub, markFields, problem, say, when, words } from "/static/desk/desk.js";

await deskPage();
const ID = /^[A-Za-z0-9._:-]{1,64}$/;
const CATEGORIES = [
  ["vehicle", "Vehicle"],
  ["boat", "Boat"],
  ["atv", "ATV"],
  ["k9", "K9"],
  ["equipment", "Equipment"],
  ["seasonal", "Seasonal equipment"],
];
const categoryLabel = Object.fromEntries(CATEGORIES);
const byId = (a, b) => a.localeCompare(b, undefined, { numeric: true });
const resources = new Map(); // id -> Resource
const units = new Map(); // id -> UnitState
const form = $("#resource-form");
const give = $("#give-form");
let editing = null;
fillSelect($("#r-category"), CATEGORIES);

function render() {
  const ids = [...resources.keys()].sort(byId);
  const rows = ids.map((id) => {
    const r = resources.get(id);
    const available = r.available !== false;
    return h(
      "tr",
      { tabindex: "0", dataset: { key: id, resource: id }, "aria-selected": String(id === editing) },
      h("th", { scope: "row" }, id),
      h("td", {}, r.name),
      h("td", {}, categoryLabel[r.category] || r.category),
      h("td", {}, (r.capabilities || []).join(", ")),
      h("td", {}, available ? "\u2713 yes" : h("span", { class: "state out" }, "\u2717 no")),
      h("td", { class: "unit" }, r.unit ? `${r.unit}${units.get(r.unit) ? ` (${statusLabel(units.get(r.unit).status)})` : ""}` : "-"),
      h("td", { class: "wrap" }, r.note || ""),
      h("td", {}, r.updated_at ? `${when(r.updated_at)} · ${r.updated_by}` : ""),
    );
  });
  keepFocus($("#rows"), () =>
    $("#rows").replaceChildren(
      ...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "8", class: "empty" }, "The inventory is empty."))]),
    ),
  );
  setText($("#count"), `(${resources.size})`);
  fillSelect($("#g-resource"), ids.map((id) => [id, `${id} · ${resources.get(id).name}${resources.get(id).unit ? ` (with ${resources.get(id).unit})` : ""}`]), { blank: "Choose a resource" });
  fillSelect($("#g-unit"), [...units.keys()].sort(byId).map((id) => [id, `${id} · ${statusLabel(units.get(id).status)}${units.get(id).district ? ` · ${units.get(id).district}` : ""}`]), { blank: "Choose a unit" });
  const caps = [...new Set([...resources.values()].flatMap((r) => r.capabilities || []))].sort();
  $("#capability-list").replaceChildren(...caps.map((c) => h("option", { value: c })));
}

function edit(id) {
  const r = resources.get(id);
  if (!r) return;
  editing = id;
  form.elements.resource.value = r.id;
  form.elements.resource.readOnly = true;
  form.elements.category.value = r.category;
  form.elements.name.value = r.name;
  form.elements.capabilities.value = (r.capabilities || []).join(", ");
  form.elements.available.checked = r.available !== false;
  form.elements.note.value = r.note || "";
  $("#form-title").textContent = `Edit resource ${id}`;
  $("#save").textContent = "Save changes";
  $("#cancel").hidden = false;
  render();
  form.elements.category.focus();
}

function reset() {
  editing = null;
  form.reset();
  form.elements.resource.readOnly = false;
  markFields(form, null);
  $("#form-title").textContent = "Add a resource";
  $("#save").textContent = "Add resource";
  $("#cancel").hidden = true;
  render();
}

function giveFor(id) {
  $("#g-resource").value = id;
  $("#g-unit").focus();
}

const fieldOf = (err) => /\$\.([a-z_]+)/.exec(err.message)?.[1];

// ---- the hub ----------------------------------------------------------------------------

const hub = liveHub(["resources", "units"]);
hub.addEventListener("resync", (ev) => {
  const { topic, snapshot } = ev.detail;
  const into = topic === "resources" ? resources : topic === "units" ? units : null;
  if (!into) return;
  into.clear();
  for (const item of snapshot) into.set(item.id, item);
  render();
});
hub.addEventListener("event", (ev) => {
  const { topic, payload } = ev.detail;
  if (topic === "resources" && payload.resource) resources.set(payload.resource.id, payload.resource);
  else if (topic === "units" && payload.unit) units.set(payload.unit.id, payload.unit);
  else return;
  render();
});

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  markFields(form, null);
  const id = form.elements.resource.value.trim();
  const name = form.elements.name.value.trim();
  if (!ID.test(id) || !name) {
    markFields(form, { ...(ID.test(id) ? {} : { resource: 1 }), ...(name ? {} : { name: 1 }) });
    return problem("Not saved: give the resource a tag (letters, digits and . _ : -) and a name.");
  }
  const adding = editing === null;
  if (adding && resources.has(id)) {
    markFields(form, { resource: 1 });
    return problem(`Not added: ${id} is already in the inventory. Choose it in the list to change it.`);
  }
  try {
    await hub.command({
      type: "resource.upsert",
      resource: id,
      category: form.elements.category.value,
      name,
      capabilities: words(form.elements.capabilities.value),
      available: form.elements.available.checked,
      note: form.elements.note.value.trim(),
    });
    reset();
    say(adding ? `Resource ${id} added to the inventory.` : `Resource ${id} changed.`);
    form.elements.resource.focus();
  } catch (err) {
    if (fieldOf(err)) markFields(form, { [fieldOf(err)]: 1 });
    problem(`Resource ${id} not saved: ${err.message}`);
  }
});

async function assign(resource, unit) {
  try {
    await hub.command({ type: "resource.assign", resource, unit });
    say(unit ? `${resource} given to ${unit}.` : `${resource} taken back into the inventory.`);
  } catch (err) {
    problem(`${resource} not ${unit ? `given to ${unit}` : "taken back"}: ${err.message}`);
  }
}

give.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  markFields(give, null);
  const resource = give.elements.resource.value;
  const unit = give.elements.unit.value;
  if (!resource || !unit) {
    markFields(give, { ...(resource ? {} : { resource: 1 }), ...(unit ? {} : { unit: 1 }) });
    return problem("Not given: choose a resource and a unit.");
  }
  await assign(resource, unit);
});
$("#take-back").addEventListener("click", async () => {
  markFields(give, null);
  const resource = give.elements.resource.value;
  if (!resource) {
    markFields(give, { resource: 1 });
    return problem("Nothing taken back: choose the resource.");
  }
  if (!resources.get(resource)?.unit) return problem(`${resource} is not with a unit.`);
  await assign(resource, null);
});

$("#cancel").addEventListener("click", () => (reset(), form.elements.resource.focus()));
keyRows($("#rows"), (id) => edit(id));
$("#rows").addEventListener("keydown", (ev) => {
  const row = ev.target.closest?.("tr[data-key]");
  if (row && ev.target === row && ev.key.toLowerCase() === "g" && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
    ev.preventDefault();
    giveFor(row.dataset.key);
  }
});
render();
hub.start();
