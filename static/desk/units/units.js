// The unit roster, live over the hub (topic "units"): every unit with its call
// sign, status, district, shift, capabilities and officers; add one or change
// its details with the unit.roster command. A change replaces the unit's
// details as a whole, so the form sends every field, filled from the unit.
import { $, h, setText } from "/static/common/dom.js";
import { statusLabel } from "/static/common/format.js";
import { deskPage, fillSelect, keepFocus, keyRows, liveHub, markFields, problem, say, words } from "/static/desk/desk.js";

const me = await deskPage();
const ID = /^[A-Za-z0-9._:-]{1,64}$/;
const units = new Map(); // id -> UnitState
const byUnit = (a, b) => a.localeCompare(b, undefined, { numeric: true });
const form = $("#unit-form");
let editing = null;

const districts = (me.area?.features || []).map((f) => f.properties?.district).filter(Boolean);
const needed = Object.values(me.call_types || {}).flatMap((t) => t.needs || []);
const known = () => [...new Set([...needed, ...[...units.values()].flatMap((u) => u.capabilities || [])])].sort();
fillSelect($("#u-status"), Object.keys(me.unit_statuses).map((s) => [s, statusLabel(s)]));
$("#u-status").value = "available";

function districtOptions(current = "") {
  const names = [...new Set([...districts, ...(current ? [current] : [])])];
  fillSelect($("#u-district"), names, { blank: "No district" });
  $("#u-district").value = current;
}

function capabilityBoxes(chosen = [], { other = true } = {}) {
  const boxes = known().map((c) => {
    const id = `cap-${c.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    return h("label", { for: id }, h("input", { type: "checkbox", id, name: "capability", value: c, checked: chosen.includes(c) }), c.replaceAll("_", " "));
  });
  $("#u-capabilities").replaceChildren(...(boxes.length ? boxes : [h("span", { class: "help" }, "None known yet: type them below.")]));
  if (other) form.elements.other.value = chosen.filter((c) => !known().includes(c)).join(", ");
}

// ---- the roster -----------------------------------------------------------------------

function render() {
  const ids = [...units.keys()].sort(byUnit);
  const rows = ids.map((id) => {
    const u = units.get(id);
    const caps = [...(u.capabilities || []), ...(u.equipment || []).map((e) => `${e} (resource)`)];
    return h(
      "tr",
      { tabindex: "0", dataset: { key: id, unit: id }, "aria-selected": String(id === editing) },
      h("th", { scope: "row" }, id),
      h("td", {}, u.call_sign || ""),
      h("td", { class: "status" }, statusLabel(u.status)),
      h("td", {}, u.district || ""),
      h("td", {}, u.shift || ""),
      h("td", { class: "wrap" }, caps.join(", ")),
      h("td", { class: "wrap" }, (u.officers || []).join(", ")),
    );
  });
  keepFocus($("#rows"), () =>
    $("#rows").replaceChildren(
      ...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "7", class: "empty" }, "No units on the roster yet."))]),
    ),
  );
  setText($("#count"), `(${units.size})`);
}

function edit(id) {
  const u = units.get(id);
  if (!u) return;
  editing = id;
  form.elements.unit.value = u.id;
  form.elements.unit.readOnly = true;
  form.elements.call_sign.value = u.call_sign && u.call_sign !== u.id ? u.call_sign : "";
  districtOptions(u.district || "");
  form.elements.shift.value = u.shift || "";
  capabilityBoxes(u.capabilities || []);
  form.elements.officers.value = (u.officers || []).join(", ");
  form.elements.status.value = u.status;
  form.elements.status.disabled = true;
  $("#form-title").textContent = `Edit unit ${id}`;
  $("#save").textContent = "Save changes";
  $("#cancel").hidden = false;
  render();
  form.elements.call_sign.focus();
}

function reset() {
  editing = null;
  form.reset();
  form.elements.unit.readOnly = false;
  form.elements.status.disabled = false;
  form.elements.status.value = "available";
  districtOptions();
  capabilityBoxes();
  markFields(form, null);
  $("#form-title").textContent = "Add a unit";
  $("#save").textContent = "Add unit";
  $("#cancel").hidden = true;
  render();
}

// ---- the hub ----------------------------------------------------------------------------

const hub = liveHub(["units"]);
hub.addEventListener("resync", (ev) => {
  if (ev.detail.topic !== "units") return;
  units.clear();
  for (const u of ev.detail.snapshot) units.set(u.id, u);
  render();
  // newly known capabilities get a box; what is ticked or typed stays
  capabilityBoxes([...form.querySelectorAll("input[name=capability]:checked")].map((b) => b.value), { other: false });
});
hub.addEventListener("event", (ev) => {
  const { topic, payload } = ev.detail;
  if (topic !== "units" || !payload.unit) return;
  units.set(payload.unit.id, payload.unit);
  render();
});

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  markFields(form, null);
  const unit = form.elements.unit.value.trim();
  if (!ID.test(unit)) {
    markFields(form, { unit: 1 });
    return problem("Not saved: the unit needs a name of letters, digits and . _ : - (up to 64).");
  }
  const adding = editing === null;
  if (adding && units.has(unit)) {
    markFields(form, { unit: 1 });
    return problem(`Not added: ${unit} is already on the roster. Choose it in the list to edit it.`);
  }
  const chosen = [...form.querySelectorAll("input[name=capability]:checked")].map((b) => b.value);
  const command = {
    type: "unit.roster",
    unit,
    call_sign: form.elements.call_sign.value.trim(),
    district: form.elements.district.value,
    shift: form.elements.shift.value.trim(),
    capabilities: [...new Set([...chosen, ...words(form.elements.other.value)])],
    officers: words(form.elements.officers.value),
    ...(adding ? { status: form.elements.status.value } : {}),
  };
  try {
    await hub.command(command);
    reset();
    say(adding ? `Unit ${unit} added to the roster.` : `Unit ${unit} changed.`);
    form.elements.unit.focus();
  } catch (err) {
    const field = /\$\.([a-z_]+)/.exec(err.message)?.[1];
    if (field) markFields(form, { [field]: 1 });
    problem(`Unit ${unit} not saved: ${err.message}`);
  }
});

$("#cancel").addEventListener("click", () => (reset(), form.elements.unit.focus()));
keyRows($("#rows"), (id) => edit(id));
districtOptions();
capabilityBoxes();
render();
hub.start();
