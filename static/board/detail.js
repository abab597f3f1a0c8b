// The open incident: what and where, who is on it, the ranked recommendation
// with one-action assign, close / cancel / note, and the timeline.
import { announce, h, setText } from "/static/common/dom.js";
import { clock, statusLabel } from "/static/common/format.js";

export class DetailView {
  constructor(section, me, hub, { onError, onShow }) {
    this.section = section;
    this.title = section.querySelector("#detail-title");
    this.body = section.querySelector("#detail-body");
    this.me = me;
    this.hub = hub;
    this.onError = onError;
    this.onShow = onShow;
    this.id = null;
    this.recommendation = null;
    this.timeline = [];
  }

  async open(id, state) {
    this.id = id;
    this.built = null;
    this.recommendation = null;
    this.timeline = [];
    this.render(state);
    this.recommend();
    try {
      const resp = await fetch(`/api/incidents/${encodeURIComponent(id)}`, { credentials: "same-origin" });
      if (resp.ok && this.id === id) {
        this.timeline = (await resp.json()).timeline || [];
        this._timeline(state);
      }
    } catch {
      /* offline: the live lines still show */
    }
  }

  async recommend() {
    const id = this.id;
    if (!id) return;
    try {
      const ack = await this.hub.command({ type: "incident.recommend", incident: id });
      if (this.id === id) {
        this.recommendation = ack.recommendation;
        this._recs();
      }
    } catch (err) {
      if (this.id === id) this.onError(`Recommendation: ${err.message}`);
    }
  }

  /** Assign the top-ranked unit (the A key). */
  async assignTop() {
    const top = this.recommendation?.units?.[0];
    if (top) await this.assign(top.unit);
  }

  async assign(unit) {
    const incident = this.state?.incidents.get(this.id);
    const primary = !(incident?.units || []).some((a) => a.primary);
    try {
      const ack = await this.hub.command({ type: "incident.assign", incident: this.id, unit, primary });
      announce(`${unit} assigned to ${this.id}`);
      const warning = ack.result?.warning;
      this._note(warning ? `Assigned ${unit}. ${warning}` : `Assigned ${unit}.`, Boolean(warning));
      this.recommend();
    } catch (err) {
      this.onError(`Assign ${unit}: ${err.message}`);
    }
  }

  _note(text, warn = false) {
    const el = this.body.querySelector(".outcome");
    if (el) {
      el.className = `outcome${warn ? " warning" : ""}`;
      setText(el, text);
    }
  }

  /** Draw the open incident. The action row (with what the dispatcher is typing) is built once
   * per opened incident; events only redraw the facts, the recommendation and the timeline. */
  render(state) {
    this.state = state;
    const incident = state.incidents.get(this.id);
    if (!incident) {
      setText(this.title, this.id ? `${this.id}: closed or not on the board` : "Select an incident");
      this.body.replaceChildren();
      this.built = null;
      return;
    }
    setText(this.title, `${incident.id} · P${incident.priority} ${incident.call_type}`);
    if (this.built !== this.id) this._build(incident);
    this.body.querySelector("dl.facts").replaceWith(this._facts(incident, state));
    this._recs();
    this._timeline(state);
  }

  _facts(incident, state) {
    const loc = incident.location;
    const assigned = (incident.units || [])
      .map((a) => `${a.unit}${a.primary ? " (primary)" : ""} ${statusLabel(state.units.get(a.unit)?.status || "")}`)
      .join(", ");
    return h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Status"),
      h("dd", {}, statusLabel(incident.status)),
      h("dt", {}, "Where"),
      h("dd", {}, loc.address || "", loc.district ? ` (${loc.district})` : "", loc.inside === false ? " · OUTSIDE the service area" : ""),
      h("dt", {}, "Received"),
      h("dd", {}, `${clock(incident.created_at)} via ${incident.source || "phone"}`),
      incident.caller ? [h("dt", {}, "Caller"), h("dd", {}, `${incident.caller} ${incident.callback || ""}`)] : null,
      incident.narrative ? [h("dt", {}, "Narrative"), h("dd", {}, incident.narrative)] : null,
      h("dt", {}, "Units"),
      h("dd", { class: "assigned" }, assigned || "none"),
    );
  }

  _build(incident) {
    this.built = incident.id;
    const loc = incident.location;
    const dispositions = h("select", { id: "close-disposition", "aria-label": "Disposition" }, this.me.dispositions.map((d) => h("option", { value: d }, d)));
    const closeNote = h("input", { id: "close-note", placeholder: "Closing note", maxlength: "4000", "aria-label": "Closing note" });
    const reason = h("input", { id: "cancel-reason", placeholder: "Reason", maxlength: "200", "aria-label": "Cancel reason" });
    const note = h("input", { id: "incident-note", placeholder: "Add a note", maxlength: "4000", "aria-label": "Note" });
    const actions = h(
      "div",
      { class: "actions" },
      dispositions,
      closeNote,
      h("button", { type: "button", onclick: () => this._send({ type: "incident.close", disposition: dispositions.value, note: closeNote.value }, "Closed") }, "Close call"),
      reason,
      h("button", { type: "button", class: "danger", onclick: () => this._send({ type: "incident.cancel", reason: reason.value || "cancelled by dispatch" }, "Cancelled") }, "Cancel call"),
      note,
      h("button", { type: "button", onclick: () => note.value && this._send({ type: "incident.note", text: note.value }, "Note added").then((ok) => ok && (note.value = "")) }, "Add note"),
      loc.lat != null ? h("button", { type: "button", class: "quiet", onclick: () => this.onShow(loc.lat, loc.lon) }, "Show on map") : null,
    );
    this.body.replaceChildren(
      h("dl", { class: "facts" }),
      h("h3", {}, "Recommended units"),
      h("ol", { class: "recs", id: "recs", "aria-live": "polite" }),
      h("p", { class: "outcome", role: "status" }),
      actions,
      h("h3", {}, "Timeline"),
      h("ol", { class: "timeline", id: "timeline" }),
    );
  }

  async _send(body, done) {
    try {
      await this.hub.command({ ...body, incident: this.id });
      announce(`${done}: ${this.id}`);
      this._note(`${done}.`);
      return true;
    } catch (err) {
      this.onError(`${this.id}: ${err.message}`);
      return false;
    }
  }

  _recs() {
    const list = this.body.querySelector("#recs");
    if (!list) return;
    const rec = this.recommendation;
    if (!rec) {
      list.replaceChildren(h("li", { class: "muted" }, "Ranking units…"));
      return;
    }
    const items = rec.units.map((u, index) =>
      h(
        "li",
        {},
        h("button", { type: "button", class: "assign", dataset: { unit: u.unit }, onclick: () => this.assign(u.unit) }, `Assign ${u.unit}`),
        index === 0 ? h("kbd", {}, "A") : null,
        h("span", { class: "why" }, `${statusLabel(u.status)}, ${u.distance_m != null ? `${(u.distance_m / 1000).toFixed(1)} km` : "no position"}${u.district ? `, ${u.district}` : ""}`),
      ),
    );
    if (!items.length) items.push(h("li", { class: "muted" }, "No unit available with what this call needs."));
    for (const w of rec.warnings || []) items.push(h("li", { class: "warning" }, w));
    list.replaceChildren(...items);
  }

  _timeline(state) {
    const list = this.body.querySelector("#timeline");
    if (!list) return;
    const seen = new Set(this.timeline.map((e) => `${e.at}|${e.action}|${e.detail}`));
    const live = (state.timelines.get(this.id) || []).filter((e) => !seen.has(`${e.at}|${e.action}|${e.detail}`));
    const lines = [...this.timeline, ...live].sort((a, b) => a.at - b.at);
    list.replaceChildren(...lines.map((e) => h("li", {}, `${clock(e.at)} ${e.by}: ${e.action}${e.detail ? ` · ${e.detail}` : ""}`)));
  }

  /** The open incident changed (an event): redraw it, and re-rank if its units changed. */
  changed(state, update) {
    if (update.incident?.id !== this.id) return;
    this.render(state);
    if (update.entry?.action === "assigned" || update.entry?.action === "unassigned") this.recommend();
  }
}
