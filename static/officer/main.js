// The officer app: the current assignment with a map, one-tap status, check-in,
// a panic control that takes a deliberate one-second hold, position from the
// browser while the app is open, and an outbox that keeps status changes made
// without a connection (across reloads too) and sends them when it is back.
import { HubConnection } from "/static/common/hub.js";
import { $, announce, h, setText } from "/static/common/dom.js";
import { clock, duration, statusLabel } from "/static/common/format.js";
import { connectionText, signOut, signedIn } from "/static/common/session.js";
import { enableAudio, playPanic, playTone } from "/static/common/tones.js";
import { alarmOf } from "/static/board/state.js";

const HOLD_MS = 1000;
const POSITION_EVERY_MS = 5000;
const BUTTONS = [
  ["ack", "Acknowledge"],
  ["enroute", "En route"],
  ["onscene", "On scene"],
  ["available", "Clear: available"],
  ["busy", "Busy"],
  ["break", "Break"],
];

const me = await signedIn((role) => role === "officer");
me.skew = me.server_time - Date.now();
const unitId = me.unit;
$("#unit-title").textContent = `Unit ${unitId}`;
document.title = `${unitId} · dispatch-hub`;
$("#signout").addEventListener("click", signOut);

const hub = new HubConnection({ topics: ["alarms", "incidents", "units"], outboxKey: `dispatch-outbox:${me.user}` });
const incidents = new Map();
const alarms = new Map();
let unit = null;
let lastAssignment = null;

const errorBox = $("#officer-error");
function problem(text) {
  errorBox.textContent = text;
  setTimeout(() => errorBox.textContent === text && (errorBox.textContent = ""), 8000);
}

// ---- status buttons ------------------------------------------------------------

const buttons = new Map();
for (const [status, label] of BUTTONS) {
  const button = h("button", { type: "button", dataset: { status }, "aria-pressed": "false" }, label);
  button.addEventListener("click", () => (status === "ack" ? acknowledge() : setStatus(status)));
  buttons.set(status, button);
  $("#status-buttons").append(button);
}

/** The status the officer last chose: from the outbox if it is not sent yet, else the hub's. */
function effectiveStatus() {
  const queued = hub.outbox.map((i) => i.frame).filter((f) => f.type === "unit.status");
  return queued.length ? queued[queued.length - 1].status : unit?.status;
}

function allowedFrom(status) {
  const rule = me.unit_statuses[status];
  if (!rule) return () => true;
  return (next) => rule.next.includes("*") || rule.next.includes(next);
}

function renderStatus() {
  const status = effectiveStatus();
  const waiting = status !== unit?.status;
  const shown = status ? statusLabel(status) : "not on the roster yet: ask dispatch to add your unit";
  setText($("#my-status"), `${shown}${waiting ? " (waiting to send)" : ""}`);
  const allowed = allowedFrom(status);
  for (const [name, button] of buttons) {
    if (name === "ack") {
      button.disabled = !(unit?.incident && status === "dispatched");
      continue;
    }
    button.setAttribute("aria-pressed", String(name === status));
    button.classList.toggle("waiting", waiting && name === status);
    button.disabled = name !== status && !allowed(name);
  }
  const n = hub.pending;
  setText($("#outbox"), n ? `${n} change${n > 1 ? "s" : ""} waiting to send: they go as soon as the connection is back.` : "");
}

async function setStatus(status) {
  const body = { type: "unit.status", unit: unitId, status };
  if (unit?.incident && status !== "available") body.incident = unit.incident;
  const sending = hub.command(body, { queue: true });
  renderStatus();
  announce(`${statusLabel(status)}${hub.state === "live" ? "" : ", waiting to send"}`);
  try {
    await sending;
  } catch (err) {
    problem(`${statusLabel(status)} not accepted: ${err.message}`);
  }
  renderStatus();
}

async function acknowledge() {
  try {
    await hub.command({ type: "unit.ack", unit: unitId, incident: unit.incident }, { queue: true });
    announce("Assignment acknowledged");
  } catch (err) {
    problem(`Acknowledge: ${err.message}`);
  }
}

$("#checkin").addEventListener("click", async () => {
  try {
    await hub.command({ type: "unit.checkin", unit: unitId }, { queue: true });
    announce("Checked in");
  } catch (err) {
    problem(`Check-in: ${err.message}`);
  }
});

// ---- the assignment ----------------------------------------------------------------

let miniMap = null;
async function drawMiniMap(incident) {
  const el = $("#mini-map");
  const { lat, lon } = incident?.location || {};
  el.hidden = lat == null;
  if (lat == null) return;
  try {
    const { L, baseMap } = await import("/static/common/map.js");
    if (!miniMap) {
      miniMap = { map: baseMap(el, me, { zoom: 14 }) };
      miniMap.call = L.circleMarker([lat, lon], { radius: 10, color: "#fff", weight: 3, fillColor: "#ef4444", fillOpacity: 0.9 }).addTo(miniMap.map);
      miniMap.me = L.circleMarker([lat, lon], { radius: 7, color: "#0f172a", weight: 2, fillColor: "#60a5fa", fillOpacity: 1 });
      miniMap.L = L;
    }
    miniMap.call.setLatLng([lat, lon]);
    if (lastFix) miniMap.me.setLatLng([lastFix.lat, lastFix.lon]).addTo(miniMap.map);
    miniMap.map.invalidateSize();
    const points = [[lat, lon]];
    if (lastFix) points.push([lastFix.lat, lastFix.lon]);
    miniMap.map.fitBounds(miniMap.L.latLngBounds(points).pad(0.5), { maxZoom: 16 });
  } catch {
    el.hidden = true; // no map library: the address still shows
  }
}

function renderAssignment() {
  const incident = unit?.incident ? incidents.get(unit.incident) : null;
  const title = $("#assignment-title");
  const body = $("#assignment-body");
  if (!unit?.incident) {
    setText(title, "No assignment");
    body.replaceChildren(h("p", { class: "muted" }, "You are not on a call. New assignments appear here with a tone."));
    $("#mini-map").hidden = true;
    return;
  }
  setText(title, incident ? `${incident.call_type} · P${incident.priority}` : `Call ${unit.incident}`);
  if (!incident) {
    body.replaceChildren(h("p", {}, `Assigned to ${unit.incident}.`));
    return;
  }
  const mine = (incident.units || []).find((a) => a.unit === unitId);
  const others = (incident.units || []).filter((a) => a.unit !== unitId).map((a) => a.unit);
  body.replaceChildren(
    h("p", { class: "address" }, incident.location.address || "No address"),
    incident.location.district ? h("p", { class: "muted" }, incident.location.district) : null,
    incident.narrative ? h("p", {}, incident.narrative) : null,
    h("p", { class: "muted" }, `${incident.id} · received ${clock(incident.created_at)}${mine?.primary ? " · you are primary" : ""}${others.length ? ` · with ${others.join(", ")}` : ""}`),
  );
  drawMiniMap(incident);
}

function renderWelfare() {
  if (!unit) return;
  const now = Date.now() + me.skew;
  const parts = [];
  if (unit.last_contact) parts.push(`Last check-in or status ${duration(now - unit.last_contact)} ago.`);
  if (unit.welfare_warn_at) {
    const left = unit.welfare_warn_at - now;
    parts.push(left > 0 ? `Next check-in due in ${duration(left)}.` : `Check-in overdue by ${duration(-left)}: tap Check in.`);
  }
  setText($("#welfare"), parts.join(" "));
}

function renderPanic() {
  const mine = [...alarms.values()].filter((a) => a.unit === unitId && a.alarm === "panic");
  const box = $("#panic-state");
  box.hidden = mine.length === 0;
  if (!mine.length) return;
  const alarm = mine[0];
  box.replaceChildren(
    h("span", {}, `PANIC SENT ${clock(alarm.raised_at)}: dispatch and ${alarm.cover?.length ? alarm.cover.join(", ") : "nearby units"} alerted.`),
    h("br"),
    h("button", { type: "button", id: "panic-cancel", onclick: () => cancelPanic(alarm.id) }, "Cancel: false alarm"),
  );
}

async function cancelPanic(alarmId) {
  if (!confirm("Cancel the panic alarm? Only if you are safe and it was pressed by mistake.")) return;
  try {
    await hub.command({ type: "alarm.cancel", alarm: alarmId, reason: "cancelled by officer: false alarm" }, { queue: true });
    announce("Panic cancelled");
  } catch (err) {
    problem(`Cancel: ${err.message}`);
  }
}

// ---- the panic control: hold to send ------------------------------------------------

const panic = $("#panic");
panic.style.setProperty("--hold-ms", `${HOLD_MS}ms`);
let holdTimer = null;
function startHold(ev) {
  if (holdTimer) return;
  ev?.preventDefault();
  enableAudio().catch(() => {});
  panic.classList.add("holding");
  setText(panic.lastChild, "Keep holding…");
  holdTimer = setTimeout(sendPanic, HOLD_MS);
}
function endHold() {
  if (!holdTimer) return;
  clearTimeout(holdTimer);
  holdTimer = null;
  panic.classList.remove("holding");
  setText(panic.lastChild, "PANIC: press and hold");
}
async function sendPanic() {
  holdTimer = null;
  panic.classList.remove("holding");
  setText(panic.lastChild, "PANIC SENT");
  navigator.vibrate?.([200, 100, 200]);
  playPanic();
  announce("Panic sent to dispatch", true);
  try {
    // queued: if the connection is down it goes first thing when it is back
    await hub.command({ type: "unit.panic", unit: unitId, reason: "panic button" }, { queue: true });
  } catch (err) {
    problem(`Panic: ${err.message}. Use the radio.`);
  } finally {
    setTimeout(() => setText(panic.lastChild, "PANIC: press and hold"), 3000);
  }
}
panic.addEventListener("pointerdown", startHold);
for (const type of ["pointerup", "pointerleave", "pointercancel"]) panic.addEventListener(type, endHold);
panic.addEventListener("keydown", (ev) => {
  if ((ev.key === " " || ev.key === "Enter") && !ev.repeat) startHold(ev);
  else if (ev.key === " " || ev.key === "Enter") ev.preventDefault();
});
panic.addEventListener("keyup", (ev) => (ev.key === " " || ev.key === "Enter") && endHold());
panic.addEventListener("click", (ev) => ev.preventDefault()); // a tap alone never sends
panic.addEventListener("contextmenu", (ev) => ev.preventDefault());

// ---- position from the browser ---------------------------------------------------------

let lastFix = null;
let lastSent = 0;
function sendPosition() {
  if (!lastFix || hub.state !== "live" || Date.now() - lastSent < POSITION_EVERY_MS) return;
  lastSent = Date.now();
  const { lat, lon, accuracy, heading, speed } = lastFix;
  const body = { type: "unit.position", unit: unitId, lat, lon };
  if (Number.isFinite(accuracy)) body.accuracy = Math.min(accuracy, 100000);
  if (Number.isFinite(heading) && heading >= 0 && heading < 360) body.heading = heading;
  if (Number.isFinite(speed) && speed >= 0 && speed <= 100) body.speed = speed;
  hub.fire(body); // not queued: the next fix replaces this one
  miniMap?.me.setLatLng([lat, lon]).addTo(miniMap.map);
}
if ("geolocation" in navigator) {
  navigator.geolocation.watchPosition(
    (pos) => {
      const c = pos.coords;
      lastFix = { lat: c.latitude, lon: c.longitude, accuracy: c.accuracy, heading: c.heading, speed: c.speed };
      setText($("#geo"), `Sharing your location (±${Math.round(c.accuracy)} m) while this app is open.`);
      sendPosition();
    },
    (err) => setText($("#geo"), `Location not shared: ${err.message}. Dispatch sees your last known position.`),
    { enableHighAccuracy: true, maximumAge: 5000, timeout: 20000 },
  );
  setInterval(sendPosition, POSITION_EVERY_MS);
} else {
  setText($("#geo"), "This browser cannot share location.");
}

// ---- the connection -------------------------------------------------------------------

const pill = $("#connection");
function showConnection() {
  const { text, cls } = connectionText(hub.state, hub.closeReason, hub.pending);
  pill.textContent = text;
  pill.className = `pill ${cls}`;
  pill.dataset.state = hub.state;
  renderStatus();
}
hub.addEventListener("state", showConnection);
hub.addEventListener("outbox", showConnection);
hub.addEventListener("rejected", (ev) => problem(`${ev.detail.frame.type} not accepted: ${ev.detail.error.message}`));
hub.addEventListener("final", (ev) => {
  if (ev.detail.code === 4001) location.assign(`/signin/?next=${encodeURIComponent(location.pathname)}`);
});

function unitChanged(next) {
  const before = unit;
  unit = next;
  if (unit.incident && unit.incident !== lastAssignment) {
    if (before) {
      playTone("double");
      announce(`New assignment: ${unit.incident}`, true);
    }
    navigator.vibrate?.(300);
  }
  lastAssignment = unit.incident || null;
  renderStatus();
  renderAssignment();
  renderWelfare();
}

hub.addEventListener("resync", (ev) => {
  const { topic, snapshot } = ev.detail;
  if (topic === "incidents") {
    incidents.clear();
    for (const i of snapshot) incidents.set(i.id, i);
    renderAssignment();
  } else if (topic === "units") {
    const mine = snapshot.find((u) => u.id === unitId);
    if (mine) unitChanged(mine);
  } else if (topic === "alarms") {
    alarms.clear();
    for (const a of snapshot) if (a.kind === "alarm") alarms.set(a.id, alarmOf(a));
    renderPanic();
  }
});

hub.addEventListener("event", (ev) => {
  const { topic, payload } = ev.detail;
  if (topic === "incidents") {
    incidents.set(payload.incident.id, payload.incident);
    if (payload.incident.id === unit?.incident) renderAssignment();
  } else if (topic === "units" && payload.unit.id === unitId) {
    unitChanged(payload.unit);
  } else if (topic === "alarms" && (payload.kind === "alarm.raised" || payload.kind === "alarm.updated")) {
    const alarm = alarmOf(payload.alarm);
    if (alarm.state === "active") alarms.set(alarm.id, alarm);
    else alarms.delete(alarm.id);
    renderPanic();
  }
});
hub.addEventListener("clock", (ev) => (me.skew = ev.detail.serverTime - Date.now()));

setInterval(renderWelfare, 1000);
showConnection();
hub.start();
window.officerApp = { hub }; // for the browser tests and the console
