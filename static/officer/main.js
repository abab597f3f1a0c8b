// The officer app: the current assignment with a map, one-tap status, check-in,
// a panic control that takes a deliberate one-second hold, position from the
// browser while the app is open, and an outbox that keeps status changes made
// without a connection (across reloads too) and sends them when it is back.
//
// It never claims more than it knows. The header says "Offline" the moment the
// network goes. A panic says SENT only once the hub has acked it; until then it
// says NOT SENT (use your radio) and keeps trying, ahead of everything else.
// Dispatch's acknowledgement and emergency traffic only are shown as they come.
// A service worker (sw.js) keeps the app itself, so it opens with no network.
import { HubConnection } from "/static/common/hub.js";
import { $, announce, h, setText } from "/static/common/dom.js";
import { clock, duration, statusLabel } from "/static/common/format.js";
import { connectionText, signOut, signedIn } from "/static/common/session.js";
import { enableAudio, playPanic, playTone } from "/static/common/tones.js";
import { alarmOf } from "/static/board/state.js";

const HOLD_MS = 1000;
const POSITION_EVERY_MS = 5000;
// Liveness on a phone: a ping every few seconds, and a connection whose pong is late is dropped.
const PING_EVERY_MS = 5000;
const PONG_WITHIN_MS = 5000;
// A panic out on a live connection with no answer after this long is shown NOT SENT (it keeps going).
const PANIC_ANSWER_MS = 3000;
// A panic the hub could not take (its store down, too many commands): pressed again for the officer.
const PANIC_RETRY_MS = 2000;
// Refusals that sending the same panic again cannot change.
const PANIC_REFUSED = new Set(["forbidden", "invalid_frame", "unauthenticated"]);
// The words on the panic button, each set whole (never appended to).
const PANIC_LABEL = {
  ready: "PANIC: press and hold",
  holding: "Keep holding…",
  sending: "SENDING…",
  unsent: "NOT SENT: use your radio",
  sent: "SENT",
};
const NOTE_ACTIONS = new Set(["note", "observation"]);
const NOTES_KEPT = 20;
const BUTTONS = [
  ["ack", "Acknowledge"],
  ["enroute", "En route"],
  ["onscene", "On scene"],
  ["available", "Clear: available"],
  ["busy", "Busy"],
  ["break", "Break"],
];

// Before anything else, so that a first visit already leaves the app shell behind for offline use.
navigator.serviceWorker?.register("/officer/sw.js", { scope: "/officer/" }).catch(() => {});

/** Replace an element's children, leaving out the ones that are not there (never the text "null"). */
function show(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

async function whoIsSignedIn() {
  try {
    return await signedIn((role) => role === "officer", { keep: "officer" });
  } catch (err) {
    if (navigator.onLine !== false && !(err instanceof TypeError)) throw err;
    // No network and no earlier visit to start from: say so, and start once the network is back.
    const pill = $("#connection");
    pill.textContent = "Offline: no network";
    pill.className = "pill bad";
    document.body.dataset.connection = "offline";
    show(
      $("#assignment-body"),
      h("p", { class: "error-text" }, "No connection, and this phone has no earlier sign-in to start from. Use your radio."),
      h("p", { class: "muted" }, "The app starts by itself when the network is back."),
    );
    await new Promise((resolve) => addEventListener("online", resolve, { once: true }));
    location.reload();
    return new Promise(() => {}); // the reload takes over
  }
}

const me = await whoIsSignedIn();
me.skew = me.server_time - Date.now();
const unitId = me.unit;
$("#unit-title").textContent = `Unit ${unitId}`;
document.title = `${unitId} · dispatch-hub`;
$("#signout").addEventListener("click", signOut);

const hub = new HubConnection({
  topics: ["alarms", "incidents", "units"],
  outboxKey: `dispatch-outbox:${me.user}`,
  pingEveryMs: PING_EVERY_MS,
  pongWithinMs: PONG_WITHIN_MS,
  closeCodes: me.close_codes,
});
const incidents = new Map();
const alarms = new Map();
let trafficMode = null;
let unit = null;
let synced = false; // the hub's units snapshot has arrived at least once
let lastAssignment = null;

const errorBox = $("#officer-error");
function problem(text) {
  errorBox.textContent = text;
  setTimeout(() => errorBox.textContent === text && (errorBox.textContent = ""), 8000);
}

/** Queued commands other than a panic (the panic has its own words, in the panic bar). */
function changesWaiting() {
  return hub.outbox.filter((i) => i.frame.type !== "unit.panic").length;
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
  let shown = status ? statusLabel(status) : "not on the roster yet: ask dispatch to add your unit";
  if (!status && !synced) shown = "not known yet: waiting for the connection";
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
  const n = changesWaiting();
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

// Dispatch's notes on a call as they arrive (the timeline itself is read at the desk): kept for
// this tab only, so that a reload does not lose them.
const notesKey = `dispatch-notes:${unitId}`;
const notes = new Map();
try {
  for (const [id, list] of Object.entries(JSON.parse(sessionStorage.getItem(notesKey) || "{}"))) notes.set(id, list);
} catch {
  sessionStorage.removeItem(notesKey); // unreadable: start again
}
function addNote(incidentId, entry) {
  const list = (notes.get(incidentId) || []).filter((n) => !(n.at === entry.at && n.detail === entry.detail));
  list.push({ at: entry.at, by: entry.by, detail: entry.detail });
  notes.set(incidentId, list.slice(-NOTES_KEPT));
  for (const id of notes.keys()) if (id !== incidentId && id !== unit?.incident) notes.delete(id);
  sessionStorage.setItem(notesKey, JSON.stringify(Object.fromEntries(notes)));
}

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

/** A callback number as a tel: link when it looks like one, else as it was written. */
function callbackLink(callback) {
  const number = callback.replace(/[^\d+*#-]/g, "");
  return (number.match(/\d/g) || []).length >= 3 ? h("a", { href: `tel:${number}` }, callback) : callback;
}

function renderAssignment() {
  const incident = unit?.incident ? incidents.get(unit.incident) : null;
  const title = $("#assignment-title");
  const body = $("#assignment-body");
  if (!synced) {
    setText(title, "Assignment");
    show(body, h("p", { class: "muted" }, "Not known yet: waiting for the connection to dispatch."));
    $("#mini-map").hidden = true;
    return;
  }
  if (!unit?.incident) {
    setText(title, "No assignment");
    show(body, h("p", { class: "muted" }, "You are not on a call. New assignments appear here with a tone."));
    $("#mini-map").hidden = true;
    return;
  }
  setText(title, incident ? `${incident.call_type} · P${incident.priority}` : `Call ${unit.incident}`);
  if (!incident) {
    show(body, h("p", {}, `Assigned to ${unit.incident}.`));
    return;
  }
  const where = incident.location || {};
  const mine = (incident.units || []).find((a) => a.unit === unitId);
  const others = (incident.units || []).filter((a) => a.unit !== unitId).map((a) => a.unit);
  const facts = [
    incident.caller ? ["Caller", incident.caller] : null,
    incident.callback ? ["Callback", callbackLink(incident.callback)] : null,
    ["Call", `${incident.id}${mine?.primary ? " · you are primary" : ""}${others.length ? ` · with ${others.join(", ")}` : ""}`],
    incident.created_at ? ["Received", clock(incident.created_at)] : null,
  ].filter(Boolean);
  const lines = [
    incident.narrative ? h("li", {}, incident.narrative) : null,
    ...(notes.get(incident.id) || []).map((n) => h("li", {}, `${clock(n.at)} ${n.detail}`)),
  ].filter(Boolean);
  const mapped = where.lat != null && where.lon != null;
  show(
    body,
    h("p", { class: "address" }, where.address || "No address"),
    where.district ? h("p", { class: "muted" }, where.district) : null,
    h("dl", { class: "assignment-facts" }, facts.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)])),
    h("h3", { class: "notes-title" }, "Notes from dispatch"),
    lines.length ? h("ul", { class: "notes" }, lines) : h("p", { class: "muted" }, "None."),
    mapped
      ? h(
          "p",
          {},
          h("a", { class: "directions", href: `https://www.openstreetmap.org/directions?to=${where.lat},${where.lon}`, target: "_blank", rel: "noopener" }, "Directions"),
          h("a", { class: "directions", href: `geo:${where.lat},${where.lon}` }, "Open in maps app"),
        )
      : null,
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

function renderTraffic() {
  const el = $("#traffic");
  el.hidden = !trafficMode;
  if (!trafficMode) return setText(el, "");
  const { unit: forUnit, reason } = trafficMode;
  const why = reason ? ` (${reason})` : "";
  setText(
    el,
    forUnit === unitId
      ? `EMERGENCY TRAFFIC ONLY: the radio is kept clear for you${why}.`
      : `EMERGENCY TRAFFIC ONLY${forUnit ? ` for ${forUnit}` : ""}: emergency calls only on the radio${why}.`,
  );
}

// ---- the officer's own panic: what the button and the bar say ---------------------------

const panic = $("#panic");
const panicLabel = $("#panic .label");
panic.style.setProperty("--hold-ms", `${HOLD_MS}ms`);
let holdTimer = null;
let panicOutAt = 0; // when the waiting panic last went out on an open connection
let panicAnswerTimer = null;
let panicRetry = null; // a timer: the hub could not take the last one, it goes again
let panicRefused = ""; // the hub refused it for good: why (until the next press)
const sentPanics = new Set(); // alarms the hub acked for this phone's presses, until they close
let closedPanic = null; // the last of this unit's panics to close (acknowledged, cancelled), until dismissed
let panicShown = "";

function waitingPanic() {
  return hub.outbox.find((i) => i.frame.type === "unit.panic") || null;
}

function myPanics() {
  return [...alarms.values()].filter((a) => a.unit === unitId && a.alarm === "panic" && a.state === "active");
}

function connected() {
  return hub.state === "live" || hub.state === "syncing";
}

/** Where the officer's panic stands: ready, holding, sending, unsent or sent. */
function panicStep({ holding = !!holdTimer } = {}) {
  if (holding) return "holding";
  const waiting = waitingPanic();
  if (waiting || panicRetry || panicRefused) {
    return waiting && connected() && Date.now() - panicOutAt < PANIC_ANSWER_MS ? "sending" : "unsent";
  }
  return sentPanics.size || myPanics().length ? "sent" : "ready";
}

/** Note that the waiting panic has just gone out, and look again when its answer is overdue. */
function panicWentOut() {
  panicOutAt = Date.now();
  clearTimeout(panicAnswerTimer);
  panicAnswerTimer = setTimeout(renderPanic, PANIC_ANSWER_MS + 50);
}

function renderPanic() {
  const step = panicStep();
  setText(panicLabel, PANIC_LABEL[step]);
  panic.dataset.state = step;
  renderPanicState(panicStep({ holding: false }));
}

/** The words above the button: what became of the officer's panics (whatever the hand is doing). */
function renderPanicState(step) {
  const box = $("#panic-state");
  const waiting = waitingPanic();
  const active = myPanics()[0] || null;
  const parts = [];
  let tone = "";
  if (step === "unsent") {
    tone = "unsent";
    parts.push(h("p", {}, "NOT SENT: use your radio."));
    parts.push(
      panicRefused
        ? h("p", {}, `The hub refused it: ${panicRefused}`)
        : h("p", {}, `No answer from dispatch${waiting ? ` since ${clock(waiting.at)}` : ""}. This phone keeps trying and sends it the moment it can.`),
    );
  } else if (step === "sending") {
    tone = "sent";
    parts.push(h("p", {}, "Sending your panic to dispatch…"));
  } else if (active || sentPanics.size) {
    tone = "sent";
    const alarmId = active ? active.id : [...sentPanics].find((id) => !id.startsWith("acked:"));
    parts.push(h("p", {}, `PANIC SENT${active ? ` ${clock(active.raised_at)}` : ""}: dispatch has it.`));
    if (active?.cover?.length) parts.push(h("p", {}, `Cover units: ${active.cover.join(", ")}.`));
    if (active?.police_requested_by) parts.push(h("p", {}, "Dispatch has asked for police support."));
    parts.push(h("p", {}, "Waiting for dispatch to acknowledge."));
    if (alarmId) parts.push(h("button", { type: "button", id: "panic-cancel", onclick: () => cancelPanic(alarmId) }, "Cancel: false alarm"));
  }
  if (closedPanic) {
    const only = !tone;
    tone = tone || (closedPanic.state === "acknowledged" ? "acknowledged" : "closed");
    parts.push(
      closedPanic.state === "acknowledged"
        ? h("p", {}, `Dispatch acknowledged your panic${closedPanic.acked_at ? ` at ${clock(closedPanic.acked_at)}` : ""}${closedPanic.acked_by ? ` (${closedPanic.acked_by})` : ""}.`)
        : h("p", {}, `Your panic was ${closedPanic.state}${closedPanic.cancel_reason ? `: ${closedPanic.cancel_reason}` : ""}.`),
    );
    if (only) {
      parts.push(h("button", { type: "button", id: "panic-dismiss", onclick: () => ((closedPanic = null), renderPanic()) }, "OK"));
    }
  }
  // Rebuilt only when it says something new: it is an alert region, read out on each change.
  const said = tone + parts.map((p) => p.textContent).join("|");
  if (said === panicShown) return;
  panicShown = said;
  box.hidden = parts.length === 0;
  box.className = `panic-state ${tone}`;
  show(box, parts);
  $("#panic-help").hidden = parts.length > 0; // room for what matters now
}

/** Send a panic, urgent: ahead of anything else waiting, and at once when a connection opens. */
function queuePanic(body) {
  const frame = { ...body, id: hub.nextId() };
  hub.command(frame, { urgent: true }).catch((err) => panicNotTaken(frame, err));
  if (hub.ws?.readyState === WebSocket.OPEN) panicWentOut();
}

function panicNotTaken(frame, error) {
  if (PANIC_REFUSED.has(error.code)) {
    panicRefused = `${error.message}.`;
    problem(`Panic refused: ${error.message}. Use your radio.`);
  } else if (!panicRetry && hub.state !== "stopped") {
    // (stopped: signed out under it; it is still in the saved outbox and goes after signing in)
    // Not applied (the store down, too many commands): the same press again, shortly.
    panicRetry = setTimeout(() => {
      panicRetry = null;
      queuePanic({ type: frame.type, unit: frame.unit, reason: frame.reason });
      renderPanic();
    }, PANIC_RETRY_MS);
  }
  renderPanic();
}

function sendPanic() {
  holdTimer = null;
  panic.classList.remove("holding");
  panicRefused = "";
  closedPanic = null;
  const online = connected();
  // Dispatch should know when a late one was really pressed.
  const reason = online ? "panic button" : `panic button (pressed ${clock(Date.now())} with no connection)`;
  queuePanic({ type: "unit.panic", unit: unitId, reason });
  navigator.vibrate?.([200, 100, 200]);
  playPanic();
  announce(online ? "Sending panic to dispatch" : "Panic NOT sent: no connection. Use your radio.", true);
  renderPanic();
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

/** One of this unit's panics closed: dispatch acknowledged it, or it was cancelled. */
function panicClosed(alarm) {
  if (alarm.unit !== unitId || alarm.alarm !== "panic") return;
  sentPanics.delete(alarm.id);
  for (const id of sentPanics) if (id.startsWith("acked:")) sentPanics.delete(id);
  closedPanic = alarm;
  if (alarm.state === "acknowledged") {
    playTone("double");
    navigator.vibrate?.(300);
    announce(`Dispatch acknowledged your panic${alarm.acked_by ? ` (${alarm.acked_by})` : ""}`, true);
  }
}

hub.addEventListener("sent", (ev) => {
  const { frame, ack } = ev.detail;
  if (frame.type !== "unit.panic") return;
  clearTimeout(panicAnswerTimer);
  // a resent press is acked without the alarm's id: "sent" all the same, until its alarm is seen
  if (ack.result?.alarm) sentPanics.add(ack.result.alarm);
  else if (!myPanics().length) sentPanics.add(`acked:${frame.id}`);
  announce("Panic SENT: dispatch has it", true);
  renderPanic();
});
// a panic from a saved outbox (pressed before a reload) has no promise to reject: it is heard here
hub.addEventListener("rejected", (ev) => ev.detail.frame.type === "unit.panic" && panicNotTaken(ev.detail.frame, ev.detail.error));

// ---- the panic control: hold to send ------------------------------------------------

function startHold(ev) {
  if (holdTimer) return;
  ev?.preventDefault();
  enableAudio().catch(() => {});
  panic.classList.add("holding");
  holdTimer = setTimeout(sendPanic, HOLD_MS);
  renderPanic();
}
function endHold() {
  if (!holdTimer) return;
  clearTimeout(holdTimer);
  holdTimer = null;
  panic.classList.remove("holding");
  renderPanic();
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
let geoProblem = "";
function renderGeo() {
  let text = geoProblem;
  if (!text && lastFix) {
    text = hub.state === "live"
      ? `Sharing your location (±${Math.round(lastFix.accuracy)} m) while this app is open.`
      : "Your location is not reaching dispatch: no connection. Dispatch sees your last known position.";
  }
  setText($("#geo"), text);
}
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
      geoProblem = "";
      renderGeo();
      sendPosition();
    },
    (err) => {
      geoProblem = `Location not shared: ${err.message}. Dispatch sees your last known position.`;
      renderGeo();
    },
    { enableHighAccuracy: true, maximumAge: 5000, timeout: 20000 },
  );
  setInterval(sendPosition, POSITION_EVERY_MS);
} else {
  geoProblem = "This browser cannot share location.";
  renderGeo();
}

// ---- the connection -------------------------------------------------------------------

const pill = $("#connection");
function showConnection() {
  const { text, cls } = connectionText(hub.state, hub.closeReason, changesWaiting());
  pill.textContent = text;
  pill.className = `pill ${cls}`;
  pill.dataset.state = hub.state;
  document.body.dataset.connection = hub.state;
  renderGeo();
  renderStatus();
  renderPanic();
}
hub.addEventListener("state", (ev) => {
  // the hub sends a waiting panic the moment a socket opens (before the catch-up)
  if (ev.detail.state === "syncing" && waitingPanic()) panicWentOut();
  showConnection();
});
hub.addEventListener("outbox", showConnection);
hub.addEventListener("rejected", (ev) => ev.detail.frame.type !== "unit.panic" && problem(`${ev.detail.frame.type} not accepted: ${ev.detail.error.message}`));
hub.addEventListener("final", (ev) => {
  if (ev.detail.signIn) location.assign(`/signin/?next=${encodeURIComponent(location.pathname)}`);
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
    synced = true;
    const mine = snapshot.find((u) => u.id === unitId);
    if (mine) unitChanged(mine);
    else renderAssignment();
  } else if (topic === "alarms") {
    alarms.clear();
    for (const a of snapshot) if (a.kind === "alarm") alarms.set(a.id, alarmOf(a));
    trafficMode = snapshot.find((a) => a.kind === "traffic_mode" && a.emergency_only) || null;
    // what closed while this phone was away is no longer "sent"
    for (const id of sentPanics) if (!alarms.has(id)) sentPanics.delete(id);
    renderTraffic();
    renderPanic();
  }
});

hub.addEventListener("event", (ev) => {
  const { topic, payload } = ev.detail;
  if (topic === "incidents") {
    incidents.set(payload.incident.id, payload.incident);
    if (payload.entry && NOTE_ACTIONS.has(payload.entry.action)) addNote(payload.incident.id, payload.entry);
    if (payload.incident.id === unit?.incident) renderAssignment();
  } else if (topic === "units" && payload.unit.id === unitId) {
    unitChanged(payload.unit);
  } else if (topic === "alarms" && (payload.kind === "alarm.raised" || payload.kind === "alarm.updated")) {
    const alarm = alarmOf(payload.alarm);
    if (alarm.state === "active") {
      alarms.set(alarm.id, alarm);
      if (alarm.unit === unitId) for (const id of sentPanics) if (id.startsWith("acked:")) sentPanics.delete(id);
    } else {
      alarms.delete(alarm.id);
      panicClosed(alarm);
    }
    renderPanic();
  } else if (topic === "alarms" && payload.kind === "traffic.mode") {
    trafficMode = payload.mode.emergency_only ? payload.mode : null;
    renderTraffic();
  }
});
hub.addEventListener("clock", (ev) => (me.skew = ev.detail.serverTime - Date.now()));

setInterval(renderWelfare, 1000);
showConnection();
renderAssignment();
hub.start();
window.officerApp = { hub }; // for the browser tests and the console
