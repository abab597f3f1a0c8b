// What the board knows, kept from resync snapshots and live events. No DOM:
// views ask it and are told which records changed.

const OPEN = (incident) => incident.status !== "closed" && incident.status !== "cancelled" && !incident.merged_into;
const RADIO_KEEP = 300;

/** The hub leaves out fields at their defaults (docs/protocol.md): put them back for alarms. */
export function alarmOf(raw) {
  return { alarm: "panic", latching: true, state: "active", ...raw };
}

export class BoardState {
  constructor() {
    this.incidents = new Map();
    this.units = new Map();
    this.positions = new Map();
    this.alarms = new Map();
    this.trafficMode = null;
    this.radio = []; // oldest first
    this.timelines = new Map(); // incident -> lines seen live
  }

  /** Replace a topic's records with a snapshot. Returns {topic, changed: ids|null (all)}. */
  resync(topic, snapshot) {
    switch (topic) {
      case "incidents":
        this.incidents = new Map(snapshot.filter(OPEN).map((i) => [i.id, i]));
        break;
      case "units":
        this.units = new Map(snapshot.map((u) => [u.id, u]));
        break;
      case "positions":
        this.positions = new Map(snapshot.map((p) => [p.unit, p]));
        break;
      case "alarms":
        this.alarms = new Map(snapshot.filter((a) => a.kind === "alarm").map((a) => [a.id, alarmOf(a)]));
        this.trafficMode = snapshot.find((a) => a.kind === "traffic_mode" && a.emergency_only) || null;
        break;
      case "radio":
        this.radio = snapshot.slice(-RADIO_KEEP);
        break;
      default:
        break;
    }
    return { topic, changed: null };
  }

  /** Apply one event's payload. Returns what changed, for the views. */
  apply(topic, payload) {
    switch (payload.kind) {
      case "incident.created":
      case "incident.updated": {
        const incident = payload.incident;
        if (OPEN(incident)) this.incidents.set(incident.id, incident);
        else this.incidents.delete(incident.id);
        if (payload.entry) {
          const lines = this.timelines.get(incident.id) || [];
          lines.push(payload.entry);
          this.timelines.set(incident.id, lines.slice(-100));
        }
        return { topic, changed: [incident.id], incident, entry: payload.entry, created: payload.kind === "incident.created" };
      }
      case "unit.status":
      case "unit.updated":
        this.units.set(payload.unit.id, payload.unit);
        return { topic, changed: [payload.unit.id], unit: payload.unit, previous: payload.previous };
      case "unit.position":
        this.positions.set(payload.position.unit, payload.position);
        return { topic, changed: [payload.position.unit] };
      case "radio.logged":
        this.radio.push(payload.entry);
        if (this.radio.length > RADIO_KEEP) this.radio.splice(0, this.radio.length - RADIO_KEEP);
        return { topic, changed: [], entry: payload.entry };
      case "alarm.raised": {
        const alarm = alarmOf(payload.alarm);
        this.alarms.set(alarm.id, alarm);
        return { topic, changed: [alarm.id], alarm, raised: true };
      }
      case "alarm.updated": {
        const alarm = alarmOf(payload.alarm);
        if (alarm.state === "active") this.alarms.set(alarm.id, alarm);
        else this.alarms.delete(alarm.id);
        return { topic, changed: [alarm.id], alarm, action: payload.action };
      }
      case "traffic.mode":
        this.trafficMode = payload.mode.emergency_only ? payload.mode : null;
        return { topic, changed: [], mode: payload.mode };
      case "notify":
        return { topic, changed: [], notice: payload };
      default:
        return { topic, changed: [] };
    }
  }

  /** Positions come batched: one frame with the latest report of each unit that moved. */
  applyPositions(items) {
    for (const p of items) this.positions.set(p.unit, p);
    return items.map((p) => p.unit);
  }

  /** Open incidents, most urgent first: priority, then the longest waiting. */
  queue() {
    return [...this.incidents.values()].sort((a, b) => a.priority - b.priority || a.created_at - b.created_at);
  }

  /** Units whose panic (or other latching) alarm is up. */
  alarmedUnits() {
    return new Set([...this.alarms.values()].filter((a) => a.unit && a.latching).map((a) => a.unit));
  }
}
