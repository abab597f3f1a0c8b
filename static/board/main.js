// The dispatcher board: wires the connection to the views.
import { HubConnection } from "/static/common/hub.js";
import { $, announce } from "/static/common/dom.js";
import { connectionText, signOut, signedIn } from "/static/common/session.js";
import { enableAudio, playTone } from "/static/common/tones.js";
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
const hub = new HubConnection({ topics: TOPICS });
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
const form = new CallForm($("#call-form"), me, hub, { onCreated: (id) => openIncident(id, false) });
const banner = new AlarmBanner($("#alarms"), me, {
  onAck: (id) => hub.command({ type: "alarm.ack", alarm: id }).then(() => announce(`Alarm acknowledged`), (e) => problem(`Acknowledge: ${e.message}`)),
  onPolice: (id) => hub.command({ type: "alarm.police", alarm: id }).then(() => announce("Police requested"), (e) => problem(`Police request: ${e.message}`)),
  onShow: (alarm) => {
    const p = state.positions.get(alarm.unit) || alarm.position;
    if (p) map?.flyTo(p.lat, p.lon);
  },
});

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
  if (ev.detail.code === 4001) location.assign(`/signin/?next=${encodeURIComponent(location.pathname)}`);
});
hub.addEventListener("problem", (ev) => problem(ev.detail.message));

function showTraffic() {
  const el = $("#traffic");
  el.hidden = !state.trafficMode;
  el.textContent = state.trafficMode ? `EMERGENCY TRAFFIC ONLY${state.trafficMode.unit ? ` · ${state.trafficMode.unit}` : ""}` : "";
}

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

const sound = $("#sound");
sound.addEventListener("click", async () => {
  const on = await enableAudio();
  sound.setAttribute("aria-pressed", String(on));
  sound.textContent = on ? "Sound on" : "Sound off: turn on";
});

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
