// The incident queue: one row per open incident, sorted by priority and
// waiting time, with a live countdown to the priority's target time to
// dispatch. Rows are made once and updated in place; re-sorting moves them.
import { h, setText } from "/static/common/dom.js";
import { duration, statusLabel } from "/static/common/format.js";

/** Black or white text on a badge of this colour: whichever has the higher WCAG contrast. */
export function textOn(colour) {
  const n = parseInt(colour.slice(1), 16);
  const channel = (c) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const lum = 0.2126 * channel((n >> 16) & 255) + 0.7152 * channel((n >> 8) & 255) + 0.0722 * channel(n & 255);
  return (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? "#000" : "#fff";
}

export class QueueView {
  constructor(tbody, count, me, { onOpen }) {
    this.tbody = tbody;
    this.count = count;
    this.me = me;
    this.onOpen = onOpen;
    this.rows = new Map(); // incident id -> {tr, cells}
    this.selected = null;
    this.order = [];
    tbody.addEventListener("keydown", (ev) => this._key(ev));
  }

  _row(incident) {
    let row = this.rows.get(incident.id);
    if (row) return row;
    const cells = {
      prio: h("td", { class: "prio-cell" }, h("span", { class: "prio" })),
      id: h("td", { class: "id" }),
      type: h("td"),
      where: h("td"),
      status: h("td"),
      target: h("td", { class: "target" }),
      units: h("td"),
    };
    const tr = h(
      "tr",
      { tabindex: "-1", "aria-selected": "false", dataset: { incident: incident.id } },
      Object.values(cells),
    );
    tr.addEventListener("click", () => this.onOpen(incident.id));
    row = { tr, cells };
    this.rows.set(incident.id, row);
    return row;
  }

  /** Bring rows up to date; `changed` null means everything. */
  render(state, changed = null) {
    const queue = state.queue();
    const live = new Set(queue.map((i) => i.id));
    for (const [id, row] of this.rows) {
      if (!live.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    const touched = changed ? new Set(changed) : null;
    for (const incident of queue) {
      const isNew = !this.rows.has(incident.id);
      if (isNew || !touched || touched.has(incident.id)) this._fill(this._row(incident), incident);
    }
    const order = queue.map((i) => i.id);
    if (order.join() !== this.order.join()) {
      // appendChild moves existing rows: only the order changes, nothing is rebuilt
      order.forEach((id, index) => {
        const tr = this.rows.get(id).tr;
        if (this.tbody.children[index] !== tr) this.tbody.insertBefore(tr, this.tbody.children[index] || null);
      });
      this.order = order;
    }
    setText(this.count, `(${queue.length})`);
    this._roving();
    this.tick(state);
  }

  _fill(row, incident) {
    const level = this.me.priorities[String(incident.priority)] || {};
    const badge = row.cells.prio.firstChild;
    badge.style.background = level.colour || "#888";
    badge.style.color = textOn(level.colour || "#888888");
    row.cells.prio.style.borderLeftColor = level.colour || "#888";
    setText(badge, `P${incident.priority}`);
    badge.title = level.label || "";
    setText(row.cells.id, incident.id);
    setText(row.cells.type, incident.call_type);
    row.cells.type.title = incident.call_type;
    const loc = incident.location;
    const where = loc.address || (loc.lat != null ? `${loc.lat.toFixed(4)}, ${loc.lon.toFixed(4)}` : "");
    setText(row.cells.where, loc.lat == null ? `${where} · NO LOCATION` : where);
    row.cells.where.classList.toggle("no-location-cell", loc.lat == null);
    row.cells.where.title = `${where}${loc.district ? ` (${loc.district})` : ""}${loc.lat == null ? ": no location" : ""}`;
    setText(row.cells.status, statusLabel(incident.status));
    const units = (incident.units || []).map((a) => (a.primary ? `${a.unit}*` : a.unit)).join(" ");
    setText(row.cells.units, units);
    row.incident = incident;
    row.tr.setAttribute(
      "aria-label",
      `Priority ${incident.priority} ${incident.call_type} at ${incident.location.address || "unknown"}, ${statusLabel(incident.status)}`,
    );
  }

  /** Once a second: the countdown to each call's target time to dispatch. */
  tick(state, now = Date.now() + (this.me.skew || 0)) {
    for (const row of this.rows.values()) {
      const incident = row.incident;
      const level = this.me.priorities[String(incident.priority)] || {};
      const target = incident.created_at + (level.target_dispatch_s || 0) * 1000;
      let text;
      let late = false;
      if (incident.first_dispatch_at) {
        text = `sent in ${duration(incident.first_dispatch_at - incident.created_at)}`;
      } else if (now <= target) {
        text = `${duration(target - now)} left`;
      } else {
        text = `late ${duration(now - target)}`;
        late = true;
      }
      setText(row.cells.target, text);
      row.tr.classList.toggle("late", late);
    }
  }

  select(id) {
    this.selected = id;
    for (const [rid, row] of this.rows) row.tr.setAttribute("aria-selected", String(rid === id));
    this._roving();
  }

  /** One row in the tab order (the selected one, else the first); arrows move between rows. */
  _roving() {
    const focusId = this.rows.has(this.selected) ? this.selected : this.order[0];
    for (const [id, row] of this.rows) row.tr.tabIndex = id === focusId ? 0 : -1;
  }

  focus() {
    const id = this.rows.has(this.selected) ? this.selected : this.order[0];
    this.rows.get(id)?.tr.focus();
  }

  _key(ev) {
    const tr = ev.target.closest("tr");
    if (!tr) return;
    const index = this.order.indexOf(tr.dataset.incident);
    let next = null;
    if (ev.key === "ArrowDown") next = this.order[Math.min(index + 1, this.order.length - 1)];
    else if (ev.key === "ArrowUp") next = this.order[Math.max(index - 1, 0)];
    else if (ev.key === "Home") next = this.order[0];
    else if (ev.key === "End") next = this.order[this.order.length - 1];
    else if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      this.onOpen(tr.dataset.incident);
      return;
    } else return;
    ev.preventDefault();
    const row = this.rows.get(next);
    if (row) {
      for (const r of this.rows.values()) r.tr.tabIndex = -1;
      row.tr.tabIndex = 0;
      row.tr.focus();
    }
  }
}
