// The 311 referral form: 311 staff (signed in; the cookie stands in for an
// Open311 api_key) choose a service, answer its attributes, set a point on the
// map (or type its coordinates) or type an address, and post an Open311 service
// request. A point outside the service area is warned about as soon as it is set,
// and may still be sent: the caller may be right. The answer's request id is
// then polled for its status until the request is closed.
import { $, announce, h } from "/static/common/dom.js";
import { kmFrom, roughKm, serviceArea } from "/static/common/geo.js";
import { baseMap, L } from "/static/common/map.js";
import { signOut, signedIn } from "/static/common/session.js";

const POLL_MS = 3000;
const BASE = "/open311/v2";
const PLAIN_FIELDS = ["address_string", "description", "first_name", "last_name", "phone", "email"];

const me = await signedIn((role) => role === "intake_311" || role === "admin");
$("#whoami").textContent = `${me.user} (${me.role})`;
$("#agency").textContent = me.agency || "";
$("#signout").addEventListener("click", signOut);

const form = $("#referral-form");
const serviceSelect = $("#service");
const errorsBox = $("#errors");
const sendButton = $("#send");
let services = new Map(); // code -> service
let definition = null; // the chosen service's {service_code, attributes}
let asked = 0; // which definition request is the latest (a quick change of service wins)
let idempotencyKey = newKey();
let sending = false;

/** One key per request being entered: a retried post (lost answer, double click) makes one request. */
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function getJson(url) {
  const resp = await fetch(url, { credentials: "same-origin" });
  const body = await resp.json().catch(() => null);
  return { resp, body };
}

function describeErrors(body, status) {
  if (Array.isArray(body) && body.length) return body.map((e) => String(e.description ?? e));
  return [`The hub answered ${status}. Try again.`];
}

// ---- the map -----------------------------------------------------------------

const map = baseMap($("#map"), me, { zoom: 12 });
const area = serviceArea(me.area); // its polygons; none when the hub has no area
const corners = area.flatMap((rings) => rings[0].map(([lon, lat]) => [lat, lon]));
const areaBounds = corners.length ? L.latLngBounds(corners) : null;
let point = null;
let marker = null;

/** The warning for a point outside the service area ("" inside it, or with no area to check against). */
function outsideWarning(lat, lon) {
  if (!area.length) return "";
  const km = kmFrom(area, lat, lon);
  if (km === 0) return "";
  const far = km < 1 ? roughKm(km) : `about ${roughKm(km)}`;
  return `This point is outside the service area (${far} from it): check it, or send it anyway.`;
}

/** Set the point from a map click, the map centre or (``typed``) the coordinate boxes. */
function setPoint(latlng, { typed = false } = {}) {
  point = { lat: latlng.lat, lng: latlng.lng };
  $("#lat").value = point.lat.toFixed(6);
  $("#long").value = point.lng.toFixed(6);
  if (!marker) {
    marker = L.circleMarker(latlng, { radius: 9, color: "#fff", weight: 3, fillColor: "#ef4444", fillOpacity: 0.9 });
    marker.addTo(map);
  } else {
    marker.setLatLng(latlng);
  }
  $("#clear-point").disabled = false;
  const warning = outsideWarning(point.lat, point.lng);
  $("#area-warning").textContent = warning;
  if (typed && warning && areaBounds) map.fitBounds(areaBounds.pad(0.05).extend(latlng)); // how far, at a glance
  else if (typed) map.panTo(latlng);
  announce(`Point set at ${$("#lat").value}, ${$("#long").value}.`);
}

function clearPoint({ keepTyped = false } = {}) {
  point = null;
  if (!keepTyped) {
    $("#lat").value = "";
    $("#long").value = "";
  }
  marker?.remove();
  marker = null;
  $("#area-warning").textContent = "";
  $("#clear-point").disabled = !keepTyped;
}

const PAIR = /^(-?\d+(?:\.\d+)?)\s*[,;\s]\s*(-?\d+(?:\.\d+)?)$/; // "53.5461, -113.4938" pasted in one box

/** Typed coordinates: both boxes read as decimal degrees set the point; anything else leaves none set
 *  (and is told at Send), with what was typed left in place to correct. */
function typedPoint() {
  const latBox = $("#lat");
  const lonBox = $("#long");
  const pair = PAIR.exec(latBox.value.trim());
  if (pair && !lonBox.value.trim()) [latBox.value, lonBox.value] = [pair[1], pair[2]];
  const [latText, lonText] = [latBox.value.trim(), lonBox.value.trim()];
  if (!latText && !lonText) {
    clearPoint();
    return;
  }
  const lat = Number(latText);
  const lon = Number(lonText);
  if (latText && lonText && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) setPoint(L.latLng(lat, lon), { typed: true });
  else clearPoint({ keepTyped: true });
}

function typedWrongly() {
  return !point && Boolean($("#lat").value.trim() || $("#long").value.trim());
}

map.on("click", (ev) => setPoint(ev.latlng));
$("#use-centre").addEventListener("click", () => setPoint(map.getCenter()));
$("#lat").addEventListener("change", typedPoint);
$("#long").addEventListener("change", typedPoint);
$("#clear-point").addEventListener("click", () => {
  clearPoint();
  announce("Point cleared.");
});

// ---- services and their attributes --------------------------------------------

async function loadServices() {
  try {
    const { resp, body } = await getJson(`${BASE}/services.json`);
    if (!resp.ok || !Array.isArray(body)) throw new Error(describeErrors(body, resp.status).join(" "));
    services = new Map(body.map((s) => [s.service_code, s]));
    const groups = new Map();
    for (const s of body) {
      const group = s.group || "Other";
      if (!groups.has(group)) groups.set(group, h("optgroup", { label: group }));
      groups.get(group).append(h("option", { value: s.service_code }, s.service_name));
    }
    serviceSelect.append(...groups.values());
  } catch (exc) {
    const box = $("#load-problem");
    box.textContent = `Cannot load the list of services: ${exc.message || exc}. Reload the page to try again.`;
    box.hidden = false;
  }
}

function attributeControl(a) {
  const id = `attr-${a.code}`;
  const hintId = a.datatype_description ? `${id}-hint` : null;
  const label = [a.description || a.code, a.required ? " (required)" : " (optional)"];
  const hint = hintId ? h("p", { class: "muted", id: hintId }, a.datatype_description) : null;
  const common = { id, dataset: { code: a.code }, required: a.required, "aria-describedby": hintId };
  if (a.datatype === "multivaluelist") {
    return h(
      "fieldset",
      { class: "choices", id, dataset: { code: a.code }, "aria-describedby": hintId },
      h("legend", {}, ...label),
      hint,
      (a.values || []).map((v) =>
        h(
          "div",
          { class: "choice" },
          h("input", { type: "checkbox", id: `${id}-${v.key}`, value: v.key }),
          h("label", { for: `${id}-${v.key}` }, v.name),
        ),
      ),
    );
  }
  let control;
  if (a.datatype === "singlevaluelist") {
    control = h(
      "select",
      common,
      h("option", { value: "" }, "Choose…"),
      (a.values || []).map((v) => h("option", { value: v.key }, v.name)),
    );
  } else if (a.datatype === "number") {
    control = h("input", { ...common, type: "number", step: "any", inputmode: "decimal" });
  } else if (a.datatype === "datetime") {
    control = h("input", { ...common, type: "datetime-local" });
  } else if (a.datatype === "text") {
    control = h("textarea", { ...common, rows: 3, maxlength: 4000 });
  } else {
    control = h("input", { ...common, maxlength: 200 });
  }
  return h("div", { class: "attribute" }, h("label", { for: id }, ...label), hint, control);
}

async function chooseService() {
  const code = serviceSelect.value;
  const mine = ++asked;
  definition = null;
  const box = $("#attributes");
  const fields = $("#attribute-fields");
  $("#service-description").textContent = services.get(code)?.description || "";
  fields.replaceChildren();
  box.hidden = true;
  if (!code) return;
  const { resp, body } = await getJson(`${BASE}/services/${encodeURIComponent(code)}.json`);
  if (mine !== asked) return;
  if (!resp.ok) {
    showErrors(describeErrors(body, resp.status));
    return;
  }
  definition = body;
  const attributes = [...(body.attributes || [])].sort((a, b) => a.order - b.order);
  fields.replaceChildren(...attributes.map(attributeControl));
  box.hidden = attributes.length === 0;
}

serviceSelect.addEventListener("change", chooseService);

// ---- sending -----------------------------------------------------------------

/** The attribute's value(s) as Open311 wants them ("" / [] when not answered). */
function attributeValue(a) {
  const el = document.getElementById(`attr-${a.code}`);
  if (a.datatype === "multivaluelist") return [...el.querySelectorAll("input:checked")].map((i) => i.value);
  const value = el.value.trim();
  if (a.datatype === "datetime" && value) return new Date(value).toISOString(); // local time, sent as UTC
  return value;
}

function requestBody() {
  const params = new URLSearchParams();
  params.append("service_code", serviceSelect.value);
  if (point) {
    params.append("lat", point.lat.toFixed(6));
    params.append("long", point.lng.toFixed(6));
  }
  for (const name of PLAIN_FIELDS) {
    const value = form.elements.namedItem(name).value.trim();
    if (value) params.append(name, value);
  }
  for (const a of definition?.attributes || []) {
    const value = attributeValue(a);
    if (Array.isArray(value)) for (const v of value) params.append(`attribute[${a.code}][]`, v);
    else if (value) params.append(`attribute[${a.code}]`, value);
  }
  return params;
}

/** What can be told before sending: problems as [message, element]. */
function localProblems() {
  const problems = [];
  if (!serviceSelect.value) return [["Choose a service.", serviceSelect]];
  if (!definition) return [["The service's questions are still loading; send again in a moment.", serviceSelect]];
  for (const a of definition.attributes || []) {
    const value = attributeValue(a);
    if (a.required && (Array.isArray(value) ? !value.length : !value)) {
      problems.push([`Answer “${a.description || a.code}”.`, document.getElementById(`attr-${a.code}`)]);
    }
  }
  if (typedWrongly()) {
    problems.push([
      "Give both latitude and longitude in decimal degrees (for example 53.5461 and -113.4938), or clear them.",
      $("#lat"),
    ]);
  } else if (!point && !$("#address").value.trim()) {
    problems.push(["Click the map or type an address.", $("#address")]);
  }
  return problems;
}

function clearErrors() {
  errorsBox.hidden = true;
  $("#error-list").replaceChildren();
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/** Show every problem (the summary takes focus) and mark the controls they name (attribute[CODE], a field). */
function showErrors(problems) {
  clearErrors();
  const items = problems.map((p) => {
    const [text, el] = Array.isArray(p) ? p : [p, elementNamedIn(p)];
    el?.setAttribute("aria-invalid", "true");
    return h("li", {}, text);
  });
  $("#error-list").replaceChildren(...items);
  errorsBox.hidden = false;
  errorsBox.focus();
}

function elementNamedIn(text) {
  const attr = /attribute\[([^\]]+)\]/.exec(text);
  if (attr) return document.getElementById(`attr-${attr[1]}`);
  if (/^(lat|long|a location)\b/.test(text)) return $("#address");
  const name = /^(\w+) /.exec(text)?.[1];
  if (name === "service_code") return serviceSelect;
  return name && PLAIN_FIELDS.includes(name) ? form.elements.namedItem(name) : null;
}

async function send(ev) {
  ev.preventDefault();
  if (sending) return;
  const local = localProblems();
  if (local.length) {
    showErrors(local);
    return;
  }
  clearErrors();
  sending = true;
  sendButton.disabled = true;
  $("#sending").textContent = "Sending…";
  try {
    let resp;
    try {
      resp = await fetch(`${BASE}/requests.json`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Idempotency-Key": idempotencyKey },
        body: requestBody(), // URLSearchParams: sent as application/x-www-form-urlencoded
      });
    } catch {
      showErrors(["Cannot reach the hub. Check the network and send again: it will not make a second request."]);
      return;
    }
    const body = await resp.json().catch(() => null);
    if (resp.ok && Array.isArray(body) && body[0]?.service_request_id) {
      sent(body[0]);
    } else if (resp.status === 401 || resp.status === 403) {
      showErrors([
        "You are signed out, or this account may not send referrals. Sign in again in another tab, then send" +
          " again here: what you entered is kept.",
      ]);
    } else {
      showErrors(describeErrors(body, resp.status));
    }
  } finally {
    sending = false;
    sendButton.disabled = false;
    $("#sending").textContent = "";
  }
}

form.addEventListener("submit", send);

// ---- after sending: the request's status -----------------------------------------

let watching = 0; // which request is polled (a new one stops the old poll)
let pollTimer = 0;

function when(iso) {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : at.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/** What was sent, in a line: the service and where. */
function sentSummary() {
  const name = services.get(serviceSelect.value)?.service_name || serviceSelect.value;
  const where = [$("#address").value.trim(), point ? `${$("#lat").value}, ${$("#long").value}` : ""].filter(Boolean);
  const outside = point ? outsideWarning(point.lat, point.lng) : "";
  return `${name} at ${where.join(" / ")}.${outside ? " It is outside the service area." : ""}`;
}

function sent(answer) {
  const id = answer.service_request_id;
  $("#request-id").textContent = id;
  $("#sent-summary").textContent = sentSummary();
  $("#service-notice").textContent = answer.service_notice || "";
  $("#request-status").textContent = "Being filed…";
  $("#request-updated").textContent = "";
  form.hidden = true;
  $("#result").hidden = false;
  $("#result-title").focus();
  watch(id);
}

function watch(id) {
  const mine = ++watching;
  clearTimeout(pollTimer);
  const poll = async () => {
    let closed = false;
    try {
      const { resp, body } = await getJson(`${BASE}/requests/${encodeURIComponent(id)}.json`);
      if (mine !== watching) return;
      const r = Array.isArray(body) ? body[0] : null;
      if (resp.ok && r) {
        const text = `${r.status} — ${r.status_notes}`;
        const shown = $("#request-status");
        if (shown.textContent !== text) {
          shown.textContent = text;
          announce(`Request ${id}: ${text}`);
        }
        $("#request-updated").textContent = r.updated_datetime ? `Updated ${when(r.updated_datetime)}` : "";
        closed = r.status === "closed";
      } else if (resp.status !== 404) {
        $("#request-updated").textContent = `Could not check the status (${resp.status}); trying again.`;
      } // 404: queued, not filed yet
    } catch {
      $("#request-updated").textContent = "Cannot reach the hub; trying again.";
    }
    if (mine === watching && !closed) pollTimer = setTimeout(poll, POLL_MS);
  };
  poll();
}

$("#another").addEventListener("click", () => {
  watching++;
  clearTimeout(pollTimer);
  form.reset();
  clearPoint();
  clearErrors();
  chooseService();
  idempotencyKey = newKey();
  $("#result").hidden = true;
  form.hidden = false;
  serviceSelect.focus();
});

await loadServices();
