// The dispatcher board: wires the connection to the views.
import { HubConnection } from "/static/common/hub.js";
import { $, announce, h } from "/static/common/dom.js";
import { statusLabel } from "/static/common/format.js";
import { connectionText, signOut, signedIn } from "/static/common/session.js";
import { audioReady, enableAudio, playTone } from "/static/common/tones.js";
import { AlarmBanner } from "/static/board/alarms.js";
import { CallForm } from "/static/board/callform.js";
import { DetailView } from "/static/board/detail.js";
import { QueueView } from "/static/board/queue.js";
import { RadioView } from "/static/board/radio.js";
import { BoardState } from "/static/board/state.js";
import { UnitsView } from "/static/board/units.js";

const TOPICS = ["alarms", "incidents", "units", "positions", "radio"];
const DESK = new Set(["dispatcher", "supervisor", "admin"]);

const me = await signedIn((role) => DESK.has(role));
me.skew = me.server_time - Date.now();
$("#agency").textContent = me.agency;
$("#whoami").textContent = `${me.user} (${me.role})`;
$("#signout").addEventListener("click", signOut);

const state = new BoardState();
const hub = new HubConnection({ topics: TOPICS, closeCodes: me.close_codes });
const problem = (text) => {
  const el = $("#radio-error");
  el.textContent = text;
  announce(text, true);
  setTimeout(() => el.textContent === text && (el.textContent = ""), 8000);
};

const queue = new QueueView($("#queue"), $("#queue-count"), me, { onOpen: (id) => openIncident(id) });
const units = new UnitsView($("#units"), $("#units-count"), me, { onUnit: (id) => showUnit(id) });
const radio = new RadioView($("#radio-log"));
const detail = new DetailView($("#detail"), me, hub, { onError: problem, onShow: (lat, lon) => map?.flyTo(lat, lon) });
const form = new CallForm($("#call-form"), me, hub, { onCreated: (id) => openIncident(id) });
const alarmCommand = (body, done) =>
  hub.command(body).then(() => announce(done), (e) => problem(`${done}: not done. ${e.message}`));
const banner = new AlarmBanner($("#alarms"), me, {
  onAck: (id) => alarmCommand({ type: "alarm.ack", alarm: id }, "Alarm acknowledged"),
  onCancel: (id, reason) => alarmCommand({ type: "alarm.cancel", alarm: id, reason }, "Alarm cancelled"),
  onPolice: (id) => alarmCommand({ type: "alarm.police", alarm: id }, "Police requested"),
  onCover: (alarm) => sendCover(alarm),
  onShow: (alarm) => {
    const p = state.positions.get(alarm.unit) || alarm.position;
    if (p) map?.flyTo(p.lat, p.lon);
  },
});

/** Send an alarm's cover units: to the call the unit is on, or to a new P1 emergency call at its position. */
async function sendCover(alarm) {
  try {
    let incident = alarm.incident && state.incidents.has(alarm.incident) ? alarm.incident : null;
    if (!incident) {
      const p = state.positions.get(alarm.unit) || alarm.position;
      const location = { address: `Officer emergency: ${alarm.unit || alarm.id}` };
      if (p) Object.assign(location, { lat: p.lat, lon: p.lon });
      const type = Object.keys(me.call_types).find((t) => /panic|duress/i.test(t)) || Object.keys(me.call_types)[0];
      const ack = await hub.command({ type: "incident.create", call_type: type, priority: 1, location, source: "panic", narrative: alarm.reason });
      incident = ack.result?.incident;
    }
    const sent = [];
    for (const unit of alarm.cover || []) {
      try {
        await hub.command({ type: "incident.assign", incident, unit });
        sent.push(unit);
      } catch (err) {
        problem(`Cover ${unit}: ${err.message}`);
      }
    }
    announce(`Cover sent to ${incident}: ${sent.join(", ") || "none"}`, true);
    if (incident) openIncident(incident);
  } catch (err) {
    problem(`Send cover: ${err.message}`);
  }
}

// The map needs Leaflet from npm; without it the board still works, and says so.
let map = null;
try {
  const { BoardMap } = await import("/static/board/boardmap.js");
  map = new BoardMap($("#map"), me, {
    onPick: (latlng) => form.place(latlng.lat, latlng.lng),
    onIncident: (id) => openIncident(id),
  });
  map.state = state;
  $("#map-status").textContent = me.tiles.url ? "Click the map to place a new call." : "No map tiles configured: units and incidents over the service area. Click to place a new call.";
} catch (err) {
  $("#map-status").textContent = `Map unavailable (${err.message}). Run make serve to install Leaflet.`;
}

function openIncident(id, focus = true) {
  queue.select(id);
  detail.open(id, state);
  if (focus) $("#detail").focus();
}

function showUnit(id) {
  const p = state.positions.get(id);
  if (p) map?.flyTo(p.lat, p.lon);
}

// ---- connection state ------------------------------------------------------

const pill = $("#connection");
function showConnection() {
  const { text, cls } = connectionText(hub.state, hub.closeReason, hub.pending);
  pill.textContent = text;
  pill.className = `pill ${cls}`;
  pill.dataset.state = hub.state;
}
hub.addEventListener("state", showConnection);
hub.addEventListener("outbox", showConnection);
hub.addEventListener("final", (ev) => {
  if (ev.detail.signIn) location.assign(`/signin/?next=${encodeURIComponent(location.pathname)}`);
});
hub.addEventListener("problem", (ev) => problem(ev.detail.message));

const trafficToggle = $("#traffic-toggle");
function showTraffic() {
  const el = $("#traffic");
  const on = Boolean(state.trafficMode);
  el.hidden = !on;
  el.textContent = on ? `EMERGENCY TRAFFIC ONLY${state.trafficMode.unit ? ` · ${state.trafficMode.unit}` : ""}` : "";
  trafficToggle.setAttribute("aria-pressed", String(on));
  trafficToggle.textContent = on ? "Clear emergency traffic" : "Declare emergency traffic";
}
trafficToggle.addEventListener("click", async () => {
  const on = !state.trafficMode;
  const unit = on ? [...state.alarms.values()].find((a) => a.alarm === "panic")?.unit : undefined;
  try {
    await hub.command({ type: "traffic.emergency", on, ...(unit ? { unit } : {}), reason: on ? "declared by dispatch" : "cleared by dispatch" });
    announce(on ? "Emergency traffic only declared" : "Emergency traffic cleared", true);
  } catch (err) {
    problem(`Emergency traffic: ${err.message}`);
  }
});

// ---- state from the hub ------------------------------------------------------

hub.addEventListener("resync", (ev) => {
  const { topic, snapshot } = ev.detail;
  state.resync(topic, snapshot);
  if (topic === "incidents") {
    queue.render(state);
    map?.renderIncidents(state);
    detail.render(state);
  } else if (topic === "units" || topic === "positions") {
    units.render(state);
    unitChoices();
    map?.renderUnits(state);
  } else if (topic === "alarms") {
    banner.render(state);
    map?.renderAlarms(state);
    showTraffic();
  } else if (topic === "radio") {
    radio.render(state);
  }
});

hub.addEventListener("event", (ev) => {
  const { topic, payload } = ev.detail;
  const update = state.apply(topic, payload);
  switch (topic) {
    case "incidents":
      queue.render(state, update.changed);
      map?.renderIncidents(state, update.changed);
      detail.changed(state, update);
      if (update.created) {
        const tone = me.priorities[String(update.incident.priority)]?.tone;
        playTone(tone || "single");
        announce(`New call ${update.incident.id}: priority ${update.incident.priority} ${update.incident.call_type}`);
      }
      break;
    case "units":
      units.render(state, update.changed);
      if (update.previous === undefined) unitChoices();
      map?.renderUnits(state, update.changed);
      if (detail.id && update.unit?.incident === detail.id) detail.render(state);
      break;
    case "positions":
      units.positions(state, update.changed);
      map?.touchUnits(update.changed);
      break;
    case "alarms":
      banner.render(state);
      map?.renderAlarms(state);
      showTraffic();
      if (update.notice) announce(update.notice.text);
      break;
    case "radio":
      radio.append(update.entry);
      break;
    default:
      break;
  }
});

hub.addEventListener("positions", (ev) => {
  const moved = state.applyPositions(ev.detail.items);
  units.positions(state, moved);
  map?.touchUnits(moved);
});

hub.addEventListener("clock", (ev) => {
  me.skew = ev.detail.serverTime - Date.now();
});

// ---- sound, keyboard, radio entry, timers -----------------------------------------

// Sound is off after every reload until the browser sees a gesture: the first key or click anywhere
// turns it on again, and until then a SOUND OFF warning stays on the board.
const sound = $("#sound");
const soundOff = $("#sound-off");
function showSound() {
  const on = audioReady();
  soundOff.hidden = on;
  sound.hidden = on;
  sound.setAttribute("aria-pressed", String(on));
  document.body.classList.toggle("sound-off", !on);
}
async function wakeSound() {
  if (audioReady()) return;
  try {
    await enableAudio();
  } catch {
    /* no audio device: the warning stays */
  }
  showSound();
}
sound.addEventListener("click", wakeSound);
for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, wakeSound, { capture: true });
showSound();

document.addEventListener("keydown", (ev) => {
  // A assigns only while the dispatcher is in the queue or the open call, not typing or on a button
  const inCall = ev.target.closest("#queue, #detail") && !ev.target.closest("input, textarea, select, button");
  if (ev.altKey && ev.key.toLowerCase() === "n") (ev.preventDefault(), form.focus());
  else if (ev.altKey && ev.key.toLowerCase() === "r") (ev.preventDefault(), $("#radio-text").focus());
  else if (ev.altKey && ev.key.toLowerCase() === "q") (ev.preventDefault(), queue.focus());
  else if (ev.altKey && ev.key.toLowerCase() === "k") (ev.preventDefault(), banner.focusFirst());
  else if (inCall && !ev.ctrlKey && !ev.metaKey && !ev.altKey && ev.key.toLowerCase() === "a" && detail.id) {
    ev.preventDefault();
    detail.assignTop();
  } else if (inCall && !ev.ctrlKey && !ev.metaKey && !ev.altKey && ev.key.toLowerCase() === "p" && detail.id) {
    ev.preventDefault();
    detail.pullTop();
  }
});

$("#radio-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("#radio-text");
  const unit = $("#radio-unit").value.trim();
  if (!text.value.trim()) return;
  try {
    await hub.command({ type: "radio.append", channel: "main", text: text.value.trim(), ...(unit ? { unit } : {}) });
    text.value = "";
  } catch (err) {
    problem(`Not logged: ${err.message}`);
  }
});

// ---- a unit's status from the desk ----------------------------------------------

const statusForm = $("#unit-status-form");
statusForm.status.replaceChildren(...Object.keys(me.unit_statuses).map((st) => h("option", { value: st }, statusLabel(st))));
function unitChoices() {
  $("#unit-ids").replaceChildren(...[...state.units.keys()].sort().map((id) => h("option", { value: id })));
}
statusForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const unit = statusForm.unit.value.trim();
  if (!state.units.has(unit)) return problem(unit ? `No unit ${unit} on the roster` : "Type a unit first");
  const status = statusForm.status.value;
  const current = state.units.get(unit);
  try {
    await hub.command({ type: "unit.status", unit, status, ...(current.incident ? { incident: current.incident } : {}) });
    announce(`${unit}: ${statusLabel(status)}`);
    statusForm.unit.value = "";
  } catch (err) {
    problem(`${unit}: ${err.message}`);
  }
});

setInterval(() => {
  queue.tick(state);
  banner.tick();
}, 1000);
setInterval(() => {
  units.tick(state);
  map?.tick(state);
}, 5000);

showConnection();
hub.start();
window.dispatchBoard = { hub, state, map }; // for the browser tests and the console
