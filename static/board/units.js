// The unit status board: one row per unit, updated in place. Stale positions
// say "stale"; an emergency row says so in words as well as colour.
import { h, setText } from "/static/common/dom.js";
import { duration, statusLabel } from "/static/common/format.js";

export const STATUS_COLOUR = {
  available: "#22c55e",
  dispatched: "#f59e0b",
  enroute: "#f97316",
  onscene: "#ef4444",
  transporting: "#a855f7",
  busy: "#64748b",
  break: "#94a3b8",
  court: "#94a3b8",
  out_of_service: "#475569",
  off_duty: "#334155",
  emergency: "#dc2626",
};
export const STALE_COLOUR = "#9ca3af";
const byUnit = (a, b) => a.localeCompare(b, undefined, { numeric: true });

export class UnitsView {
  constructor(tbody, count, me, { onUnit }) {
    this.tbody = tbody;
    this.count = count;
    this.me = me;
    this.onUnit = onUnit;
    this.rows = new Map();
  }

  _row(unit) {
    let row = this.rows.get(unit.id);
    if (row) return row;
    const cells = {
      unit: h("td"),
      status: h("td", {}, h("span", { class: "status-dot", "aria-hidden": "true" }), h("span")),
      incident: h("td"),
      district: h("td"),
      seen: h("td", { class: "seen" }),
    };
    const tr = h("tr", { dataset: { unit: unit.id }, tabindex: "0", title: "Enter: show on the map" }, Object.values(cells));
    tr.addEventListener("click", () => this.onUnit(unit.id));
    tr.addEventListener("keydown", (ev) => ev.key === "Enter" && this.onUnit(unit.id));
    row = { tr, cells };
    this.rows.set(unit.id, row);
    this.unsorted = true;
    return row;
  }

  /** Rows in unit order ("U9" before "U10"), placed only where they are out of place. */
  _order() {
    if (!this.unsorted) return;
    this.unsorted = false;
    const ids = [...this.rows.keys()].sort(byUnit);
    ids.forEach((id, index) => {
      const tr = this.rows.get(id).tr;
      if (this.tbody.children[index] !== tr) this.tbody.insertBefore(tr, this.tbody.children[index] || null);
    });
  }

  render(state, changed = null) {
    if (changed === null) {
      for (const [id, row] of this.rows) if (!state.units.has(id)) (row.tr.remove(), this.rows.delete(id));
    }
    const ids = changed === null ? [...state.units.keys()] : changed;
    for (const id of ids) {
      const unit = state.units.get(id);
      if (unit) this._fill(this._row(unit), unit, state);
    }
    this._order();
    setText(this.count, `(${state.units.size})`);
  }

  _fill(row, unit, state) {
    setText(row.cells.unit, unit.call_sign && unit.call_sign !== unit.id ? `${unit.id} · ${unit.call_sign}` : unit.id);
    row.cells.status.firstChild.style.background = STATUS_COLOUR[unit.status] || "#888";
    setText(row.cells.status.lastChild, statusLabel(unit.status));
    setText(row.cells.incident, unit.incident || "");
    setText(row.cells.district, unit.district || "");
    row.cells.district.title = unit.district || "";
    row.cells.unit.title = row.cells.unit.textContent;
    row.tr.classList.toggle("emergency", unit.status === "emergency");
    row.unit = unit;
    this._seen(row, state);
  }

  _seen(row, state, now = Date.now() + (this.me.skew || 0)) {
    const p = state.positions.get(row.unit.id);
    const stale = !p || now - p.at > this.me.stale_after_s * 1000;
    setText(row.cells.seen, p ? `${duration(Math.max(0, now - p.at))} ago${stale ? " (stale)" : ""}` : "no position");
    row.tr.classList.toggle("stale", stale);
  }

  /** Positions moved (batched): only the "seen" cells of those units. */
  positions(state, unitIds) {
    for (const id of unitIds) {
      const row = this.rows.get(id);
      if (row) this._seen(row, state);
    }
  }

  tick(state) {
    for (const row of this.rows.values()) this._seen(row, state);
  }
}
