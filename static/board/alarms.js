// The alarm banner: every active alarm with what, who, where and since when,
// most severe first (a panic, a missed check-in, a call waiting, a check-in
// overdue, a status overdue), then the most urgent call, then the oldest.
// Its height is bounded: past a few rows it scrolls, and says how many there
// are. Each alarm can be acknowledged, cancelled with a reason (accidental
// activations are common), shown on the map; a panic can have its cover
// units sent and police support requested. Panics repeat a distinct tone and
// their label pulses without ever going blank: never colour alone.
import { announce, h, setText } from "/static/common/dom.js";
import { clock, duration } from "/static/common/format.js";
import { playPanic, playTone } from "/static/common/tones.js";

const TITLE = {
  panic: "PANIC",
  welfare_missed: "MISSED CHECK-IN",
  unassigned: "Call waiting",
  welfare_warning: "Check-in overdue",
  status_overdue: "Status overdue",
};
const SEVERITY = { panic: 0, welfare_missed: 1, unassigned: 2, welfare_warning: 3, status_overdue: 4 };
const URGENT = new Set(["panic", "welfare_missed"]);
const REPEAT_MS = 4000;

/** Most severe first, then the most urgent call, then the oldest. */
export function alarmOrder(state) {
  const callOf = (a) => a.incident || (a.id.startsWith("unassigned:") ? a.id.slice("unassigned:".length) : null);
  const priorityOf = (a) => state.incidents.get(callOf(a))?.priority ?? 9;
  return (a, b) =>
    (SEVERITY[a.alarm] ?? 5) - (SEVERITY[b.alarm] ?? 5) || priorityOf(a) - priorityOf(b) || a.raised_at - b.raised_at;
}

/** "PO60 missed check-in" stays that, not "PO60 PO60 missed check-in". */
export function whoText(alarm) {
  const unit = alarm.unit || "";
  const reason = alarm.reason || "";
  return unit && !reason.includes(unit) ? `${unit} ${reason}` : reason || unit;
}

export class AlarmBanner {
  constructor(element, me, { onAck, onCancel, onPolice, onCover, onShow }) {
    this.element = element;
    this.me = me;
    this.actions = { onAck, onCancel, onPolice, onCover, onShow };
    this.count = h("p", { class: "alarm-count", role: "status" });
    this.list = h("div", { class: "alarm-list", tabindex: "0", "aria-label": "Active alarms, most severe first" });
    element.replaceChildren(this.count, this.list);
    this.rows = new Map();
    this.lastTone = 0;
  }

  render(state) {
    const alarms = [...state.alarms.values()].sort(alarmOrder(state));
    for (const [id, row] of this.rows) if (!state.alarms.has(id)) (row.remove(), this.rows.delete(id));
    for (const alarm of alarms) {
      let row = this.rows.get(alarm.id);
      if (!row) {
        row = this._row(alarm);
        this.rows.set(alarm.id, row);
        if (URGENT.has(alarm.alarm)) announce(`${TITLE[alarm.alarm]}: ${whoText(alarm)}`, true);
      }
      this._fill(row, alarm);
    }
    // Move rows only when the order changed: a moved node loses focus and may be read out again.
    alarms.forEach((alarm, index) => {
      const row = this.rows.get(alarm.id);
      if (this.list.children[index] !== row) this.list.insertBefore(row, this.list.children[index] || null);
    });
    const urgent = alarms.filter((a) => URGENT.has(a.alarm)).length;
    setText(this.count, alarms.length > 1 ? `${alarms.length} alarms${urgent ? `, ${urgent} urgent` : ""} (Alt+K)` : "");
    this.element.hidden = alarms.length === 0;
  }

  _row(alarm) {
    const urgent = URGENT.has(alarm.alarm);
    const reason = h("input", { class: "cancel-reason", placeholder: "Why cancel (e.g. pressed by accident)", maxlength: "200", "aria-label": `Reason to cancel the ${TITLE[alarm.alarm] || alarm.alarm} alarm` });
    const cancelForm = h(
      "form",
      { class: "cancel-form", hidden: true, onsubmit: (ev) => {
        ev.preventDefault();
        if (!reason.value.trim()) return reason.focus();
        this.actions.onCancel(alarm.id, reason.value.trim());
      } },
      reason,
      h("button", { type: "submit" }, "Cancel alarm"),
    );
    const row = h(
      "div",
      { class: `alarm sev-${SEVERITY[alarm.alarm] ?? 5}${urgent ? " flash" : ""}`, role: urgent ? "alert" : "status", dataset: { alarm: alarm.id, kind: alarm.alarm } },
      h("span", { class: "what" }, TITLE[alarm.alarm] || alarm.alarm),
      h("span", { class: "who" }),
      h("span", { class: "since" }),
      h("button", { type: "button", class: "ack", onclick: () => this.actions.onAck(alarm.id) }, "Acknowledge"),
      urgent ? h("button", { type: "button", class: "cover quiet", onclick: () => this.actions.onCover(row.alarm) }, "Send cover") : null,
      urgent ? h("button", { type: "button", class: "quiet", onclick: () => this.actions.onPolice(alarm.id) }, "Request police") : null,
      h("button", { type: "button", class: "quiet", onclick: () => this.actions.onShow(row.alarm) }, "Show on map"),
      h("button", { type: "button", class: "quiet", "aria-expanded": "false", onclick: (ev) => {
        cancelForm.hidden = !cancelForm.hidden;
        ev.currentTarget.setAttribute("aria-expanded", String(!cancelForm.hidden));
        if (!cancelForm.hidden) reason.focus();
      } }, "Cancel…"),
      cancelForm,
    );
    return row;
  }

  _fill(row, alarm) {
    const where = alarm.position ? ` at ${alarm.position.lat.toFixed(5)}, ${alarm.position.lon.toFixed(5)}` : "";
    const cover = alarm.cover?.length ? `; cover: ${alarm.cover.join(", ")}` : "";
    const police = alarm.police_requested_by ? `; police requested by ${alarm.police_requested_by}` : "";
    setText(row.querySelector(".who"), `${whoText(alarm)}${where}${cover}${police}`);
    const coverButton = row.querySelector("button.cover");
    if (coverButton) {
      coverButton.hidden = !alarm.cover?.length;
      setText(coverButton, alarm.cover?.length ? `Send cover: ${alarm.cover.join(", ")}` : "Send cover");
    }
    row.alarm = alarm;
    this._since(row);
  }

  _since(row, now = Date.now() + (this.me.skew || 0)) {
    setText(row.querySelector(".since"), `since ${clock(row.alarm.raised_at)} (${duration(now - row.alarm.raised_at)})`);
  }

  /** Once a second: elapsed times, and the panic tone every few seconds until acknowledged. */
  tick() {
    for (const row of this.rows.values()) this._since(row);
    const urgent = [...this.rows.values()].some((row) => URGENT.has(row.alarm.alarm));
    if (urgent && Date.now() - this.lastTone > REPEAT_MS) {
      this.lastTone = Date.now();
      playPanic();
    }
  }

  /** A new non-urgent alarm gets its priority's tone once. */
  chime() {
    playTone("double");
  }

  focusFirst() {
    this.list.querySelector("button.ack")?.focus();
  }
}
