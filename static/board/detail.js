// The open incident: what and where, who is on it (each unit's status set
// from here, or taken off), the ranked recommendation with one-key assign
// (A) and, when nothing is free, the units that can be pulled from less
// urgent calls (P); priority, close, cancel, note, merge, link, police
// support, the EIDO export; and the timeline. A closed call can be reopened.
import { announce, h, setText } from "/static/common/dom.js";
import { clock, statusLabel } from "/static/common/format.js";

const km = (m) => (m == null ? "distance unknown" : `${(m / 1000).toFixed(1)} km`);

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
    this.closed = null; // the last state of an open call that left the board (to reopen it)
  }

  async open(id, state) {
    this.id = id;
    this.built = null;
    this.recommendation = null;
    this.timeline = [];
    this.closed = null;
    this.render(state);
    this.recommend();
    try {
      const resp = await fetch(`/api/incidents/${encodeURIComponent(id)}`, { credentials: "same-origin" });
      if (resp.ok && this.id === id) {
        const record = await resp.json();
        this.timeline = record.timeline || [];
        if (!state.incidents.has(id)) this.closed = record.incident || null;
        this.render(state);
      }
    } catch {
      /* offline: the live lines still show */
    }
  }

  async recommend() {
    const id = this.id;
    if (!id || !this.state?.incidents.has(id)) return;
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

  /** The A key: assign the top-ranked unit, or say why there is none. */
  async assignTop() {
    const rec = this.recommendation;
    const top = rec?.units?.[0];
    if (top) return this.assign(top.unit);
    if (!this.state?.incidents.has(this.id)) return this._say(`${this.id} is not open: nothing to assign.`, true);
    if (!rec) return this._say("Still ranking units: press A again in a moment.", true);
    const pull = rec.pullable?.[0];
    this._say(
      pull
        ? `No unit is free for this call. Press P to pull ${pull.unit} from P${pull.priority} ${pull.incident} (${km(pull.distance_m)}).`
        : "No unit is free for this call, and none is on a less urgent call. Take a unit off another call, or wait.",
      true,
    );
  }

  /** The P key: pull the nearest unit on a less urgent call to this one. */
  async pullTop() {
    const pull = this.recommendation?.pullable?.[0];
    if (pull) return this.assign(pull.unit, pull.incident);
    this._say("No unit on a less urgent call to pull to this one.", true);
  }

  async assign(unit, fromIncident = null) {
    const incident = this.state?.incidents.get(this.id);
    const primary = !(incident?.units || []).some((a) => a.primary && a.cleared_at == null);
    try {
      const body = { type: "incident.assign", incident: this.id, unit, primary };
      if (fromIncident) body.from_incident = fromIncident;
      const ack = await this.hub.command(body);
      const what = fromIncident ? `${unit} pulled from ${fromIncident} and assigned` : `${unit} assigned`;
      announce(`${what} to ${this.id}`);
      const warning = ack.result?.warning;
      this._say(warning ? `${what}. ${warning}` : `${what}.`, Boolean(warning));
      this.recommend();
    } catch (err) {
      this.onError(`Assign ${unit}: ${err.message}`);
    }
  }

  _say(text, warn = false) {
    const el = this.body.querySelector(".outcome");
    if (el) {
      el.className = `outcome${warn ? " warning" : ""}`;
      setText(el, text);
    }
    announce(text, warn);
  }

  /** Draw the open incident. The action rows (with what the dispatcher is typing) are built once
   * per opened incident; events only redraw the facts, the units, the recommendation and the timeline. */
  render(state) {
    this.state = state;
    const incident = state.incidents.get(this.id);
    if (!incident) {
      this._renderGone();
      return;
    }
    this.closed = null;
    setText(this.title, `${incident.id} · P${incident.priority} ${incident.call_type}`);
    if (this.built !== this.id) this._build(incident);
    this.body.querySelector("dl.facts").replaceWith(this._facts(incident));
    this._assigned(incident, state);
    this._others(state);
    this._recs();
    this._timeline(state);
  }

  /** Not on the board: closed, cancelled or merged (reopen it), or unknown. */
  _renderGone() {
    this.built = null;
    if (!this.id) {
      setText(this.title, "Select an incident");
      this.body.replaceChildren();
      return;
    }
    const was = this.closed;
    setText(this.title, was ? `${this.id} · ${statusLabel(was.status)}` : `${this.id}: closed or not on the board`);
    const reason = h("input", { id: "reopen-reason", placeholder: "Why reopen it", maxlength: "200", "aria-label": "Reason to reopen" });
    const reopen = h("form", { class: "actions", onsubmit: (ev) => {
      ev.preventDefault();
      if (!reason.value.trim()) return this._say("Say why the call is reopened.", true);
      this._send({ type: "incident.reopen", reason: reason.value.trim() }, "Reopened").then((ok) => ok && (reason.value = ""));
    } }, reason, h("button", { type: "submit" }, "Reopen call"));
    this.body.replaceChildren(
      was ? h("p", {}, `${was.call_type} at ${was.location?.address || "no address"}; ${statusLabel(was.status)}${was.disposition ? ` (${was.disposition})` : ""}.`) : null,
      reopen,
      h("p", { class: "outcome", role: "status" }),
      h("h3", {}, "Timeline"),
      h("ol", { class: "timeline", id: "timeline", tabindex: "0", "aria-label": "Timeline" }),
    );
    this._timeline(this.state);
  }

  _facts(incident) {
    const loc = incident.location;
    const where = [loc.address || "", loc.district ? ` (${loc.district})` : ""];
    return h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Status"),
      h("dd", {}, statusLabel(incident.status)),
      h("dt", {}, "Where"),
      h(
        "dd",
        {},
        where,
        loc.lat == null ? h("strong", { class: "no-location" }, "NO LOCATION: not on the map, units not ranked by distance") : null,
        loc.inside === false ? h("strong", { class: "outside" }, "OUTSIDE the service area") : null,
      ),
      h("dt", {}, "Received"),
      h("dd", {}, `${clock(incident.created_at)} via ${incident.source || "phone"}`),
      incident.caller || incident.callback ? [h("dt", {}, "Caller"), h("dd", {}, [incident.caller, incident.callback].filter(Boolean).join(" · "))] : null,
      incident.narrative ? [h("dt", {}, "Narrative"), h("dd", {}, incident.narrative)] : null,
      incident.linked?.length ? [h("dt", {}, "Linked"), h("dd", {}, incident.linked.join(", "))] : null,
    );
  }

  _build(incident) {
    this.built = incident.id;
    const loc = incident.location;
    const input = (id, label, max = "200") => h("input", { id, placeholder: label, maxlength: max, "aria-label": label });
    const forms = h("div", { class: "action-forms" });
    // One click opens each action's small form (and focuses its first field); Enter in it does it.
    const opener = (label, key, form) => {
      form.hidden = true;
      form.dataset.action = key;
      forms.append(form);
      const button = h("button", { type: "button", "aria-expanded": "false", "aria-controls": `form-${key}`, dataset: { action: key } }, label);
      form.id = `form-${key}`;
      button.addEventListener("click", () => {
        const open = form.hidden;
        for (const f of forms.children) f.hidden = true;
        for (const b of this.body.querySelectorAll(".toolbar [aria-expanded]")) b.setAttribute("aria-expanded", "false");
        form.hidden = !open;
        button.setAttribute("aria-expanded", String(open));
        if (open) form.querySelector("input, select")?.focus();
      });
      return button;
    };
    const form = (onsubmit, ...fields) =>
      h("form", { class: "action-form", onsubmit: (ev) => (ev.preventDefault(), onsubmit()) }, ...fields);

    const priority = h("select", { id: "detail-priority", "aria-label": "Priority" },
      Object.entries(this.me.priorities).map(([level, p]) => h("option", { value: level }, p.label)));
    priority.value = String(incident.priority);
    const dispositions = h("select", { id: "close-disposition", "aria-label": "Disposition" }, this.me.dispositions.map((d) => h("option", { value: d }, d)));
    const closeNote = input("close-note", "Closing note", "4000");
    const reason = input("cancel-reason", "Cancel reason");
    const note = input("incident-note", "Add a note", "4000");
    const other = h("select", { id: "other-incident", "aria-label": "Another open call" });
    const policeNote = input("police-note", "Police support: why");
    const done = (ok, field) => ok && field && (field.value = "");

    const toolbar = h(
      "div",
      { class: "toolbar", role: "toolbar", "aria-label": "Actions on this call" },
      opener("Priority", "priority", form(() => this._send({ type: "incident.update", priority: Number(priority.value) }, `Priority set to P${priority.value}`), priority, h("button", { type: "submit" }, "Set priority"))),
      opener("Note", "note", form(() => note.value.trim() && this._send({ type: "incident.note", text: note.value.trim() }, "Note added").then((ok) => done(ok, note)), note, h("button", { type: "submit" }, "Add note"))),
      opener("Close", "close", form(() => this._send({ type: "incident.close", disposition: dispositions.value, note: closeNote.value }, "Closed"), dispositions, closeNote, h("button", { type: "submit" }, "Close call"))),
      opener("Cancel", "cancel", form(() => this._send({ type: "incident.cancel", reason: reason.value.trim() || "cancelled by dispatch" }, "Cancelled"), reason, h("button", { type: "submit", class: "danger" }, "Cancel call"))),
      opener("Merge / link", "merge", form(() => other.value && this._send({ type: "incident.link", other: other.value }, `Linked to ${other.value}`), other,
        h("button", { type: "button", onclick: () => other.value && this._send({ type: "incident.merge", into: other.value }, `Merged into ${other.value}`) }, "Merge into it (duplicate)"),
        h("button", { type: "submit" }, "Link to it"))),
      opener("Police support", "police", form(() => this._send({ type: "incident.police", note: policeNote.value.trim() }, "Police support requested").then((ok) => done(ok, policeNote)), policeNote, h("button", { type: "submit" }, "Request police support"))),
      loc.lat != null ? h("button", { type: "button", class: "quiet", onclick: () => this.onShow(loc.lat, loc.lon) }, "Map") : null,
      h("a", { class: "button quiet", href: `/api/incidents/${encodeURIComponent(incident.id)}/eido`, download: `${incident.id}.eido.json` }, "EIDO"),
    );
    this.body.replaceChildren(
      toolbar,
      forms,
      h("p", { class: "outcome", role: "status" }),
      h("dl", { class: "facts" }),
      h("h3", {}, "Recommended units"),
      h("ol", { class: "recs", id: "recs", "aria-live": "polite" }),
      h("h3", {}, "Units on the call"),
      h("ul", { class: "on-call", id: "on-call" }),
      h("h3", {}, "Timeline"),
      h("ol", { class: "timeline", id: "timeline", tabindex: "0", "aria-label": "Timeline" }),
    );
  }

  /** Each unit on the call: its status (set from the desk) and a way to take it off. */
  _assigned(incident, state) {
    const list = this.body.querySelector("#on-call");
    if (!list) return;
    const active = (incident.units || []).filter((a) => a.cleared_at == null);
    if (!active.length) {
      list.replaceChildren(h("li", { class: "muted" }, "No unit on this call yet."));
      return;
    }
    // Rebuild only when who is on it, or their statuses, changed: a select being used keeps its value.
    const key = active.map((a) => `${a.unit}:${a.primary}:${state.units.get(a.unit)?.status}`).join("|");
    if (list.dataset.key === key) return;
    list.dataset.key = key;
    list.replaceChildren(
      ...active.map((a) => {
        const unit = state.units.get(a.unit);
        const status = unit?.status || "";
        const next = this.me.unit_statuses[status]?.next || [];
        const choices = Object.keys(this.me.unit_statuses).filter((s) => s !== status && (next.includes("*") || next.includes(s) || s === "emergency"));
        const pick = h("select", { "aria-label": `New status for ${a.unit}` }, choices.map((s) => h("option", { value: s }, statusLabel(s))));
        return h(
          "li",
          { dataset: { unit: a.unit } },
          h("strong", {}, a.unit),
          a.primary ? " (primary) " : " ",
          h("span", { class: "muted" }, statusLabel(status)),
          pick,
          h("button", { type: "button", onclick: () => this._unitStatus(a.unit, pick.value) }, "Set status"),
          h("button", { type: "button", class: "quiet", onclick: () => this._send({ type: "incident.unassign", unit: a.unit, reason: "taken off by dispatch" }, `${a.unit} taken off`).then(() => this.recommend()) }, `Take ${a.unit} off`),
        );
      }),
    );
  }

  async _unitStatus(unit, status) {
    try {
      await this.hub.command({ type: "unit.status", unit, status, incident: this.id });
      this._say(`${unit}: ${statusLabel(status)}.`);
    } catch (err) {
      this.onError(`${unit}: ${err.message}`);
    }
  }

  /** The other open calls, to merge into or link to. */
  _others(state) {
    const select = this.body.querySelector("#other-incident");
    if (!select) return;
    const ids = state.queue().map((i) => i.id).filter((id) => id !== this.id);
    const key = ids.join("|");
    if (select.dataset.key === key) return;
    select.dataset.key = key;
    const kept = select.value;
    select.replaceChildren(h("option", { value: "" }, "Another open call…"), ...ids.map((id) => {
      const i = state.incidents.get(id);
      return h("option", { value: id }, `${id} · P${i.priority} ${i.call_type} · ${i.location.address || ""}`);
    }));
    if (ids.includes(kept)) select.value = kept;
  }

  async _send(body, done) {
    try {
      await this._command({ ...body, incident: this.id });
      this._say(`${done}: ${this.id}.`);
      return true;
    } catch (err) {
      this.onError(`${this.id}: ${err.message}`);
      this._say(`Not done: ${err.message}`, true);
      return false;
    }
  }

  /** A command; a call closed a moment ago is "still being recorded": that passes, so try again. */
  async _command(body, tries = 8) {
    for (let n = 1; ; n += 1) {
      try {
        return await this.hub.command(body);
      } catch (err) {
        if (n >= tries || err.code !== "conflict" || !/try again/.test(err.message)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
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
        h("span", { class: "why" }, `${statusLabel(u.status)}, ${u.distance_m != null ? km(u.distance_m) : this._located() ? "no position" : "distance unknown"}${u.district ? `, ${u.district}` : ""}`),
      ),
    );
    if (!items.length) items.push(h("li", { class: "muted" }, "No unit is free with what this call needs."));
    (rec.pullable || []).forEach((p, index) =>
      items.push(
        h(
          "li",
          { class: "pullable" },
          h("button", { type: "button", class: "pull", dataset: { unit: p.unit }, onclick: () => this.assign(p.unit, p.incident) }, `Pull ${p.unit} from P${p.priority} ${p.incident}`),
          index === 0 ? h("kbd", {}, "P") : null,
          h("span", { class: "why" }, `${statusLabel(p.status)}, ${km(p.distance_m)}${p.district ? `, ${p.district}` : ""}`),
        ),
      ),
    );
    for (const w of rec.warnings || []) items.push(h("li", { class: "warning" }, w));
    list.replaceChildren(...items);
  }

  _located() {
    return this.state?.incidents.get(this.id)?.location?.lat != null;
  }

  _timeline(state) {
    const list = this.body.querySelector("#timeline");
    if (!list) return;
    const seen = new Set(this.timeline.map((e) => `${e.at}|${e.action}|${e.detail}`));
    const live = (state?.timelines.get(this.id) || []).filter((e) => !seen.has(`${e.at}|${e.action}|${e.detail}`));
    const lines = [...this.timeline, ...live].sort((a, b) => a.at - b.at);
    list.replaceChildren(...lines.map((e) => h("li", {}, `${clock(e.at)} ${e.by}: ${e.action}${e.detail ? ` · ${e.detail}` : ""}`)));
  }

  /** The open incident changed (an event): redraw it, and re-rank if its units changed. */
  changed(state, update) {
    if (update.incident?.id !== this.id) return;
    if (!state.incidents.has(this.id)) this.closed = update.incident;
    this.render(state);
    // A call opened on its ack is ranked once its first event is here; again when its units change.
    const units = update.entry?.action === "assigned" || update.entry?.action === "unassigned";
    if (units || update.created || (this.recommendation === null && state.incidents.has(this.id))) this.recommend();
  }
}
