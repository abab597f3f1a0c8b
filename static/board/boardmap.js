// The board's map: units coloured by status (grey when their position is
// stale), incidents by priority, and a pulsing ring on a unit in alarm.
// Markers are made once and moved; positions are applied once per frame.
import { L, baseMap } from "/static/common/map.js";
import { STALE_COLOUR, STATUS_COLOUR } from "/static/board/units.js";

// Leaflet puts a string tooltip in as HTML: ours go in as text.
function label(text) {
  const span = document.createElement("span");
  span.textContent = text;
  return span;
}

export class BoardMap {
  constructor(element, me, { onPick, onIncident }) {
    this.me = me;
    this.map = baseMap(element, me);
    this.units = new Map(); // unit -> circleMarker
    this.incidents = new Map(); // incident -> circleMarker
    this.flashing = new Map(); // unit -> divIcon marker
    this.dirty = new Set();
    this.frame = 0;
    this.map.on("click", (ev) => onPick(ev.latlng));
    this.onIncident = onIncident;
  }

  _unitStyle(unit, position, now) {
    const stale = !position || now - position.at > this.me.stale_after_s * 1000;
    return {
      radius: 7,
      weight: 2,
      color: "#0f172a",
      fillOpacity: stale ? 0.5 : 0.95,
      fillColor: stale ? STALE_COLOUR : STATUS_COLOUR[unit?.status] || "#888",
      dashArray: stale ? "2 3" : null,
    };
  }

  /** Mark units whose position or status changed; drawn on the next animation frame. */
  touchUnits(ids) {
    for (const id of ids) this.dirty.add(id);
    if (!this.frame) this.frame = requestAnimationFrame(() => this._flush());
  }

  _flush() {
    this.frame = 0;
    const now = Date.now() + (this.me.skew || 0);
    for (const id of this.dirty) this._drawUnit(id, now);
    this.dirty.clear();
  }

  _drawUnit(id, now) {
    const state = this.state;
    const unit = state.units.get(id);
    const p = state.positions.get(id);
    let marker = this.units.get(id);
    if (!p || !unit) {
      if (marker) (marker.remove(), this.units.delete(id));
      return;
    }
    if (!marker) {
      // bubblingMouseEvents: a click on a marker is not also a click on the map (which places a new call)
      marker = L.circleMarker([p.lat, p.lon], { ...this._unitStyle(unit, p, now), bubblingMouseEvents: false }).addTo(this.map);
      marker.bindTooltip("", { direction: "top" });
      this.units.set(id, marker);
    } else {
      marker.setLatLng([p.lat, p.lon]);
      marker.setStyle(this._unitStyle(unit, p, now));
    }
    const text = `${unit.id} ${unit.status}`;
    if (marker.labelText !== text) marker.setTooltipContent(label((marker.labelText = text)));
    const flash = this.flashing.get(id);
    if (flash) flash.setLatLng([p.lat, p.lon]);
  }

  renderUnits(state, changed = null) {
    this.state = state;
    if (changed === null) {
      for (const id of this.units.keys()) if (!state.units.has(id)) this.dirty.add(id);
      this.touchUnits(new Set([...state.units.keys(), ...state.positions.keys()]));
    } else {
      this.touchUnits(changed);
    }
  }

  /** Draw incidents; `changed` (ids) limits the work to those, null redraws all. */
  renderIncidents(state, changed = null) {
    this.state = state;
    const ids = changed === null ? [...this.incidents.keys()] : changed;
    for (const id of ids) {
      if (!state.incidents.has(id)) this.incidents.get(id)?.remove(), this.incidents.delete(id);
    }
    const todo = changed === null ? state.incidents.values() : changed.map((id) => state.incidents.get(id)).filter(Boolean);
    for (const incident of todo) {
      const { lat, lon } = incident.location;
      if (lat == null || lon == null) continue;
      const level = this.me.priorities[String(incident.priority)] || {};
      const style = { radius: 10, weight: 3, color: "#ffffff", fillColor: level.colour || "#888", fillOpacity: 0.9 };
      let marker = this.incidents.get(incident.id);
      if (!marker) {
        marker = L.circleMarker([lat, lon], { ...style, bubblingMouseEvents: false }).addTo(this.map);
        marker.bindTooltip("", { direction: "top" });
        marker.on("click", () => this.onIncident(incident.id));
        this.incidents.set(incident.id, marker);
      } else {
        marker.setLatLng([lat, lon]);
        marker.setStyle(style);
      }
      marker.setTooltipContent(label(`P${incident.priority} ${incident.call_type} ${incident.id} ${incident.location.address || ""}`));
    }
  }

  /** Units in alarm flash; the others stop. */
  renderAlarms(state) {
    this.state = state;
    const alarmed = state.alarmedUnits();
    for (const [unit, marker] of this.flashing) {
      if (!alarmed.has(unit)) (marker.remove(), this.flashing.delete(unit));
    }
    for (const unit of alarmed) {
      if (this.flashing.has(unit)) continue;
      const alarm = [...state.alarms.values()].find((a) => a.unit === unit);
      const p = state.positions.get(unit) || alarm?.position;
      if (!p) continue;
      const icon = L.divIcon({ className: "unit-flash", html: '<span class="pulse"></span>', iconSize: [30, 30] });
      const marker = L.marker([p.lat, p.lon], { icon, keyboard: false, title: `${unit} in alarm` }).addTo(this.map);
      marker.getElement()?.setAttribute("data-unit", unit);
      this.flashing.set(unit, marker);
    }
  }

  flyTo(lat, lon) {
    this.map.setView([lat, lon], Math.max(this.map.getZoom(), 14));
  }

  /** Stale markers turn grey with time, without a new report. */
  tick(state) {
    this.state = state;
    this.touchUnits(state.units.keys());
  }
}
