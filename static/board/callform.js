// Call entry from the keyboard: type, priority (defaulted from the type),
// address, a point (typed, or a click on the map), narrative, caller, source.
// On an error the form keeps everything typed and says what to fix.
import { announce, h } from "/static/common/dom.js";

export class CallForm {
  constructor(form, me, hub, { onCreated }) {
    this.form = form;
    this.me = me;
    this.hub = hub;
    this.onCreated = onCreated;
    this.error = form.querySelector("#call-error");
    const types = Object.entries(me.call_types).sort(([a], [b]) => a.localeCompare(b));
    form.call_type.replaceChildren(...types.map(([name]) => h("option", { value: name }, name)));
    form.priority.replaceChildren(
      ...Object.entries(me.priorities).map(([level, p]) => h("option", { value: level }, p.label)),
    );
    form.call_type.addEventListener("change", () => this._defaultPriority());
    this._defaultPriority();
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.submit();
    });
  }

  _defaultPriority() {
    const type = this.me.call_types[this.form.call_type.value];
    if (type) this.form.priority.value = String(type.priority);
  }

  focus() {
    this.form.call_type.focus();
  }

  place(lat, lon) {
    this.form.lat.value = lat.toFixed(6);
    this.form.lon.value = lon.toFixed(6);
    if (!this.form.address.value) this.form.address.value = `${lat.toFixed(5)}, ${lon.toFixed(5)}`;
  }

  _fail(text, field) {
    this.error.textContent = text;
    field?.setAttribute("aria-invalid", "true");
    field?.focus();
  }

  async submit() {
    const f = this.form;
    this.error.textContent = "";
    for (const el of f.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    const address = f.address.value.trim();
    const lat = f.lat.value.trim() === "" ? null : Number(f.lat.value);
    const lon = f.lon.value.trim() === "" ? null : Number(f.lon.value);
    if (!address && lat === null) return this._fail("Give an address or place, or click the map.", f.address);
    if ((lat === null) !== (lon === null)) return this._fail("Give both latitude and longitude, or neither.", lat === null ? f.lat : f.lon);
    if (lat !== null && !(Number.isFinite(lat) && lat >= -90 && lat <= 90)) return this._fail("Latitude is a number from -90 to 90.", f.lat);
    if (lon !== null && !(Number.isFinite(lon) && lon >= -180 && lon <= 180)) return this._fail("Longitude is a number from -180 to 180.", f.lon);
    const location = { address };
    if (lat !== null) Object.assign(location, { lat, lon });
    const body = {
      type: "incident.create",
      call_type: f.call_type.value,
      priority: Number(f.priority.value),
      location,
      narrative: f.narrative.value.trim(),
      caller: f.caller.value.trim(),
      callback: f.callback.value.trim(),
      source: f.source.value,
    };
    try {
      const ack = await this.hub.command(body);
      const id = ack.result?.incident; // absent when the hub saw this id before (a retry): the call is in the queue
      const outside = ack.result?.inside_service_area === "no" ? " (outside the service area)" : "";
      announce(id ? `Call ${id} created${outside}` : "Call created");
      for (const name of ["address", "lat", "lon", "narrative", "caller", "callback"]) f[name].value = "";
      if (id) this.onCreated(id);
    } catch (err) {
      this._fail(`Not created: ${err.message}`);
    }
  }
}
