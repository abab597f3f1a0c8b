// The alarm banner: every active alarm with what, who, where and since when,
// an Acknowledge button, and (for panics) a repeating distinct tone and a
// flashing "PANIC" label: never colour alone. Latching alarms stay until a
// dispatcher acknowledges them, across reloads, because they come from the
// hub's alarms snapshot.
import { announce, h, setText } from "/static/common/dom.js";
import { clock, duration } from "/static/common/format.js";
import { playPanic, playTone } from "/static/common/tones.js";

const TITLE = {
  panic: "PANIC",
  welfare_missed: "MISSED CHECK-IN",
  welfare_warning: "Check-in overdue",
  unassigned: "Call waiting",
  status_overdue: "Status overdue",
};
const URGENT = new Set(["panic", "welfare_missed"]);
const REPEAT_MS = 4000;

export class AlarmBanner {
  constructor(element, me, { onAck, onPolice, onShow }) {
    this.element = element;
    this.me = me;
    this.actions = { onAck, onPolice, onShow };
    this.rows = new Map();
    this.lastTone = 0;
  }

  render(state) {
    const alarms = [...state.alarms.values()].sort(
      (a, b) => URGENT.has(b.alarm) - URGENT.has(a.alarm) || a.raised_at - b.raised_at,
    );
    for (const [id, row] of this.rows) if (!state.alarms.has(id)) (row.remove(), this.rows.delete(id));
    for (const alarm of alarms) {
      let row = this.rows.get(alarm.id);
      if (!row) {
        row = this._row(alarm);
        this.rows.set(alarm.id, row);
        if (URGENT.has(alarm.alarm)) announce(`${TITLE[alarm.alarm]}: unit ${alarm.unit}. ${alarm.reason}`, true);
      }
      this._fill(row, alarm);
    }
    // Move rows only when the order changed: a moved node loses focus and may be read out again.
    alarms.forEach((alarm, index) => {
      const row = this.rows.get(alarm.id);
      if (this.element.children[index] !== row) this.element.insertBefore(row, this.element.children[index] || null);
    });
    this.element.hidden = alarms.length === 0;
  }

  _row(alarm) {
    const urgent = URGENT.has(alarm.alarm);
    const row = h(
      "div",
      { class: `alarm${urgent ? " flash" : ""}`, role: urgent ? "alert" : "status", dataset: { alarm: alarm.id } },
      h("span", { class: "what" }, TITLE[alarm.alarm] || alarm.alarm),
      h("span", { class: "who" }),
      h("span", { class: "since" }),
      h("button", { type: "button", class: "ack", onclick: () => this.actions.onAck(alarm.id) }, "Acknowledge"),
      urgent ? h("button", { type: "button", class: "quiet", onclick: () => this.actions.onPolice(alarm.id) }, "Request police") : null,
      h("button", { type: "button", class: "quiet", onclick: () => this.actions.onShow(alarm) }, "Show on map"),
    );
    return row;
  }

  _fill(row, alarm) {
    const where = alarm.position ? ` at ${alarm.position.lat.toFixed(5)}, ${alarm.position.lon.toFixed(5)}` : "";
    const cover = alarm.cover?.length ? `; cover: ${alarm.cover.join(", ")}` : "";
    const police = alarm.police_requested_by ? `; police requested by ${alarm.police_requested_by}` : "";
    setText(row.children[1], `${alarm.unit || ""} ${alarm.reason}${where}${cover}${police}`);
    row.alarm = alarm;
    this._since(row);
  }

  _since(row, now = Date.now() + (this.me.skew || 0)) {
    setText(row.children[2], `since ${clock(row.alarm.raised_at)} (${duration(now - row.alarm.raised_at)})`);
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
    this.element.querySelector("button.ack")?.focus();
  }
}
