// Call entry from the keyboard: type, priority (defaulted from the type),
// the place (typed: the gazetteer, and the geocoder if one is set up,
// suggest matches as you type; ArrowDown/ArrowUp choose, Enter takes one and
// sets the coordinates and district), or a point (typed, or a click on the
// map), narrative, caller, source. Ctrl+Enter creates the call from any
// field. A call with no point, or one outside the service area, is said so
// before it is sent, and may still be sent. On an error the form keeps
// everything typed and says what to fix.
import { announce, h, setText } from "/static/common/dom.js";

const SUGGEST_MS = 120;

export class CallForm {
  constructor(form, me, hub, { onCreated }) {
    this.form = form;
    this.me = me;
    this.hub = hub;
    this.onCreated = onCreated;
    this.error = form.querySelector("#call-error");
    this.where = form.querySelector("#location-status");
    this.list = form.querySelector("#place-list");
    this.suggestions = [];
    this.active = -1;
    this.chosen = null; // the place whose point is in lat/lon, while the address still names it
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
    form.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        this.submit();
      }
    });
    const address = form.address;
    address.addEventListener("input", () => {
      if (this.chosen && address.value !== this.chosen.label) this._unchoose();
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this._suggest(address.value), SUGGEST_MS);
    });
    address.addEventListener("keydown", (ev) => this._key(ev));
    address.addEventListener("blur", () => setTimeout(() => this._close(), 150));
    for (const field of [form.lat, form.lon]) {
      field.addEventListener("change", () => this._locatePoint());
    }
    this._whereStatus();
  }

  _defaultPriority() {
    const type = this.me.call_types[this.form.call_type.value];
    if (type) this.form.priority.value = String(type.priority);
  }

  focus() {
    this.form.call_type.focus();
  }

  // ---- place suggestions (a combobox with a listbox) ------------------------------

  async _suggest(text) {
    const q = text.trim();
    if (q.length < 2 || this.chosen) return this._close();
    try {
      const resp = await fetch(`/api/places?q=${encodeURIComponent(q)}&limit=8`, { credentials: "same-origin" });
      if (!resp.ok || this.form.address.value.trim() !== q) return;
      this._show((await resp.json()).places, q);
    } catch {
      this._close(); // offline: typed coordinates or the map still work
    }
  }

  _show(places, q) {
    this.suggestions = places;
    this.shownFor = q;
    this.active = places.length ? 0 : -1;
    const address = this.form.address;
    this.list.replaceChildren(
      ...places.map((p, i) =>
        h(
          "li",
          { role: "option", id: `place-opt-${i}`, "aria-selected": String(i === this.active), onmousedown: (ev) => (ev.preventDefault(), this._choose(i)) },
          h("span", { class: "place-name" }, p.name),
          h("span", { class: "muted" }, ` · ${p.kind.replace("_", " ")}${p.district ? ` · ${p.district}` : ""}`),
          p.inside ? null : h("strong", { class: "outside" }, " · OUTSIDE the service area"),
        ),
      ),
    );
    if (!places.length) {
      this.list.append(h("li", { class: "muted", role: "option", "aria-disabled": "true", id: "place-opt-none" }, "No place matches: the call will have no location unless you click the map or type coordinates."));
    }
    this.list.hidden = false;
    address.setAttribute("aria-expanded", "true");
    address.setAttribute("aria-activedescendant", this.active >= 0 ? `place-opt-${this.active}` : "");
  }

  _close() {
    this.list.hidden = true;
    this.form.address.setAttribute("aria-expanded", "false");
    this.form.address.removeAttribute("aria-activedescendant");
  }

  _key(ev) {
    const typed = this.form.address.value.trim();
    if (ev.key === "Enter" && !ev.ctrlKey && !ev.metaKey && !this.chosen && typed.length >= 2 && this.shownFor !== typed) {
      // Typed faster than the suggestions came: take the top match for what is typed now, not the last list.
      ev.preventDefault();
      clearTimeout(this.timer);
      this._suggest(typed).then(() => this.shownFor === typed && this.suggestions.length && this._choose(0));
      return;
    }
    if (this.list.hidden || !this.suggestions.length) return;
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      const n = this.suggestions.length;
      this.active = (this.active + (ev.key === "ArrowDown" ? 1 : n - 1)) % n;
      for (const [i, li] of [...this.list.children].entries()) li.setAttribute("aria-selected", String(i === this.active));
      this.form.address.setAttribute("aria-activedescendant", `place-opt-${this.active}`);
    } else if (ev.key === "Enter" && !ev.ctrlKey && !ev.metaKey && this.active >= 0) {
      ev.preventDefault();
      this._choose(this.active);
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      this._close();
    }
  }

  _choose(index) {
    const p = this.suggestions[index];
    if (!p) return;
    const label = p.address && p.address !== p.name ? `${p.name} (${p.address})` : p.name;
    this.form.address.value = label;
    this.form.lat.value = p.lat.toFixed(6);
    this.form.lon.value = p.lon.toFixed(6);
    this.chosen = { ...p, label };
    this.shownFor = null;
    this._close();
    this._whereStatus(p);
    announce(`${p.name}${p.district ? `, ${p.district}` : ""}${p.inside ? "" : ", outside the service area"}`);
  }

  _unchoose() {
    this.chosen = null;
    this.form.lat.value = "";
    this.form.lon.value = "";
    this._whereStatus();
  }

  /** A map click: the point, and the address if none is typed. */
  place(lat, lon) {
    this.chosen = null;
    this.form.lat.value = lat.toFixed(6);
    this.form.lon.value = lon.toFixed(6);
    if (!this.form.address.value) this.form.address.value = `${lat.toFixed(5)}, ${lon.toFixed(5)}`;
    this._locatePoint();
  }

  async _locatePoint() {
    const lat = Number(this.form.lat.value);
    const lon = Number(this.form.lon.value);
    if (this.form.lat.value.trim() === "" || this.form.lon.value.trim() === "" || !Number.isFinite(lat) || !Number.isFinite(lon)) {
      return this._whereStatus();
    }
    try {
      const resp = await fetch(`/api/places/locate?lat=${lat}&lon=${lon}`, { credentials: "same-origin" });
      if (resp.ok) return this._whereStatus(await resp.json());
    } catch {
      /* offline: the hub places it when the call is created */
    }
    this._whereStatus({ inside: true, district: null });
  }

  /** The one line that says where the call will be: a district, outside the area, or no location. */
  _whereStatus(found = null) {
    const el = this.where;
    const hasPoint = this.form.lat.value.trim() !== "" && this.form.lon.value.trim() !== "";
    if (!hasPoint) {
      el.className = "location-status warning";
      setText(el, "No location yet: pick a place, click the map or type coordinates.");
      el.title = "Without a point the call is not on the map and no unit is ranked by distance.";
    } else if (found && found.inside === false) {
      el.className = "location-status outside";
      setText(el, "OUTSIDE the service area: check it (you can still create the call).");
    } else {
      el.className = "location-status ok";
      setText(el, found?.district ? `Located: ${found.district}` : "Located");
    }
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
    const location = { address: address || `${lat}, ${lon}` };
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
      const nowhere = lat === null ? " with no location" : "";
      announce(id ? `Call ${id} created${outside}${nowhere}` : "Call created");
      for (const name of ["address", "lat", "lon", "narrative", "caller", "callback"]) f[name].value = "";
      this.chosen = null;
      this._whereStatus();
      if (id) this.onCreated(id);
    } catch (err) {
      this._fail(`Not created: ${err.message}`);
    }
  }
}
