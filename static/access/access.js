// Access-to-information requests: the log (GET /api/access), a request (GET /api/access/{n},
// audited) with its clock and the moves it allows, records gathered (from case files, letters,
// dispatch, or uploaded as they came), and the redaction viewer: each record's pages drawn by
// pdf.js, boxes drawn on them with a reason code (or every match of a text or pattern boxed at
// once), listed in the redaction log; then the second review and the release package.
import { $, h } from "/static/common/dom.js";
import { signOut, signedIn } from "/static/common/session.js";
import { api, keyRows, liveHub, problem, say, values } from "/static/desk/desk.js";
import * as pdfjs from "/vendor/pdfjs/pdf.min.mjs";

pdfjs.GlobalWorkerOptions.workerSrc = "/vendor/pdfjs/pdf.worker.min.mjs";
const ROLES = new Set(["access_staff", "case_coordinator", "team_lead"]);
const me = await signedIn((role) => ROLES.has(role));
$("#whoami").textContent = `${me.user} (${me.role.replace("_", " ")})`;
$("#signout").addEventListener("click", signOut);

const STAGES = { received: "Received", gathering: "Gathering", waiting: "Waiting on the requester", review: "Second review", released: "Released", withdrawn: "Withdrawn" };
const CLOCK = { running: "On time", warning: "Due soon", overdue: "Overdue", paused: "Paused (waiting)", extended: "Extended", met: "Met", stopped: "Stopped" };
const when = (ms) => (ms ? new Date(ms).toLocaleString([], { dateStyle: "medium", timeStyle: "short", hour12: false }) : "");
const announce = (text) => ($("#announce").textContent = text);
let shown = null; // the request view
let record = null; // the record open in the viewer
// The viewer's pages are drawn once per record and kept across re-renders of the request.
const viewerEl = h("div", { class: "viewer", id: "viewer", "aria-label": "Pages of the record" });

function row(r, clock) {
  return h("tr", { tabindex: "0", dataset: { key: r.number }, "aria-selected": String(shown?.request.request.number === r.number) },
    h("td", {}, h("strong", {}, r.number), h("br"), h("span", { class: "muted" }, `received ${when(r.received_at)}`)),
    h("td", {}, r.requester_name),
    h("td", {}, clock ? h("span", { class: `clock ${clock.state}` }, `${CLOCK[clock.state] || clock.state}: ${clock.due_day}`) : "-"),
    h("td", {}, STAGES[r.stage] || r.stage), h("td", {}, r.assignee || "Unassigned"));
}

async function loadLog() {
  try {
    const { requests, clocks } = await api("GET", "/api/access");
    $("#log").replaceChildren(...(requests.length ? requests.map((r, i) => row(r, clocks[i])) : [h("tr", {}, h("td", { colspan: "5", class: "empty" }, "No open requests."))]));
    $("#count").textContent = `(${requests.length})`;
  } catch (err) {
    problem(`The requests could not be loaded: ${err.message}`);
  }
}

async function openRequest(number, { focus = true } = {}) {
  try {
    show(await api("GET", `/api/access/${encodeURIComponent(number)}`));
    if (focus) $("#request").focus();
  } catch (err) {
    problem(`Request ${number} could not be opened: ${err.message}`);
  }
}

const MOVES = {
  received: ["assign", "gather", "wait", "extend", "withdraw"],
  gathering: ["assign", "wait", "extend", "submit", "withdraw"],
  waiting: ["assign", "resumed", "withdraw"],
  review: ["assign", "extend", "return", "release", "withdraw"],
};
const MOVE_WORDS = { assign: "Assign", gather: "Start gathering", wait: "Wait on the requester", resumed: "The requester answered",
  extend: "Extend the time", submit: "Submit for the second review", return: "Return with comments", release: "Sign off and release", withdraw: "Withdraw" };

function show(view) {
  shown = view;
  const { request: r, documents, boxes, timeline, releases } = view.request;
  const open = r.stage === "received" || r.stage === "gathering";
  $("#request-title").textContent = `${r.number} · ${STAGES[r.stage] || r.stage}`;
  const moves = (MOVES[r.stage] || []).filter((m) => !((m === "release" || m === "return") && r.submitted_by === me.user));
  const body = [
    h("p", {}, h("strong", {}, r.requester_name), ` · received ${when(r.received_at)} by ${r.channel} · reach by ${r.contact_by} · version ${r.version}`),
    h("p", { class: "narrative" }, r.scope),
    h("p", { class: "muted" }, `Search: ${r.systems.join(", ")}`),
    view.clock ? h("p", {}, "Response due: ", h("span", { class: `clock ${view.clock.state}` }, `${CLOCK[view.clock.state]} (by the end of ${view.clock.due_day})`)) : null,
    r.stage === "review" && r.submitted_by === me.user ? h("p", { class: "banner" }, "You submitted this package: another person reviews and releases it.") : null,
    h("div", { class: "actions", role: "group", "aria-label": "What you may do now" }, ...moves.map((m) => h("button", { type: "button", dataset: { move: m }, onclick: () => moveForm(m) }, MOVE_WORDS[m]))),
    h("div", { id: "move-area" }),
    h("section", { "aria-label": "Records" }, h("h3", {}, `Records (${documents.length})`),
      h("ul", { class: "records plain" }, ...documents.map((d) => h("li", {},
        h("button", { type: "button", class: "quiet", "aria-pressed": String(record?.id === d.id), onclick: () => openRecord(d) }, `${d.title}`),
        ` · ${d.pages} page${d.pages === 1 ? "" : "s"} · ${boxes.filter((b) => b.document === d.id).length} boxes · sha256 ${d.sha256.slice(0, 12)}…`))),
      open ? gatherForms(view) : null),
    open && documents.length ? h("section", { "aria-label": "Mark every match" }, h("h3", {}, "Mark every match across the package"), matchForm(view)) : null,
    h("section", { "aria-label": "The viewer" }, h("h3", { id: "viewer-title" }, record ? record.title : "Open a record to see and mark its pages"),
      open && record ? h("div", { class: "tools" }, h("div", {}, h("label", { for: "draw-reason" }, "Reason for boxes drawn"),
        h("select", { id: "draw-reason" }, ...reasonOptions(view))),
        h("p", { class: "help" }, "Drag on a page to draw a box.")) : null,
      viewerEl),
    h("section", { "aria-label": "Redaction log" }, h("h3", {}, `Redaction log (${boxes.length})`), redactionLog(view, open)),
    releases.length ? h("section", { "aria-label": "Issued" }, h("h3", {}, "Issued"), h("ul", {}, ...releases.map((x) => h("li", {},
      h("a", { href: `/api/access/${r.number}/releases/${x.id}`, class: x.kind }, `${x.kind === "release" ? "Release package" : "Extension notice"} ${x.number}`),
      ` · ${x.pages} pages · ${when(x.at)} · sha256 ${x.sha256.slice(0, 16)}…`)))) : null,
    h("section", { "aria-label": "Timeline" }, h("h3", {}, "Timeline"), h("ol", { class: "timeline" }, ...timeline.map((t) =>
      h("li", {}, h("span", { class: "muted" }, `${when(t.at)} · ${t.by}: `), `${t.act.replace(/_/g, " ")}${t.detail ? ` — ${t.detail}` : ""}`)))),
  ];
  $("#request-body").replaceChildren(...body.filter(Boolean));
  for (const tr of $("#log").querySelectorAll("tr[data-key]")) tr.setAttribute("aria-selected", String(tr.dataset.key === r.number));
  if (record && !documents.some((d) => d.id === record.id)) record = null;
  if (!record || viewerEl.dataset.request !== r.number) {
    viewerEl.replaceChildren();
    delete viewerEl.dataset.ready;
  }
  viewerEl.dataset.request = r.number;
  drawBoxes();
}

function redactionLog(view, open) {
  const { boxes, documents } = view.request;
  if (!boxes.length) return h("p", { class: "help" }, "Nothing marked yet.");
  const title = Object.fromEntries(documents.map((d) => [d.id, d.title]));
  return h("table", { class: "grid", id: "redaction-log" },
    h("thead", {}, h("tr", {}, ...["Record", "Page", "Reason", "How", "Who", "When", ""].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, ...boxes.map((b) => h("tr", { dataset: { box: String(b.id) } }, h("td", {}, title[b.document] || b.document), h("td", { class: "num" }, String(b.page + 1)),
      h("td", {}, `${b.reason} ${view.reasons[b.reason] || ""}`), h("td", {}, b.source), h("td", {}, b.by), h("td", {}, when(b.at)),
      h("td", {}, open ? h("button", { type: "button", class: "quiet", onclick: () => unbox(b.id) }, "Remove") : "")))));
}

function gatherForms(view) {
  const number = view.request.request.number;
  const form = h("form", { class: "tools", id: "gather", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", `/api/access/${number}/records`, values(ev.target));
      say("Gathered.");
      await openRequest(number, { focus: false });
    } catch (err) { problem(err.message); }
  } },
  h("div", {}, h("label", { for: "g-kind" }, "Gather"), h("select", { id: "g-kind", name: "kind" },
    h("option", { value: "complaint" }, "A complaint file (number)"), h("option", { value: "letter" }, "An issued letter (id)"), h("option", { value: "incident" }, "A dispatch incident (id)"))),
  h("div", {}, h("label", { for: "g-ref" }, "Which"), h("input", { id: "g-ref", name: "ref", required: true, maxlength: "64" })),
  h("div", {}, h("button", { type: "submit" }, "Gather")));
  const upload = h("form", { class: "tools", id: "upload", onsubmit: async (ev) => {
    ev.preventDefault();
    const file = $("#u-file").files[0];
    if (!file) return;
    try {
      const resp = await fetch(`/api/access/${number}/uploads?title=${encodeURIComponent(file.name)}`, { method: "POST", body: file, headers: { "Content-Type": file.type || "application/pdf" } });
      if (!resp.ok) throw new Error((await resp.json()).error);
      say(`${file.name} gathered as it came.`);
      await openRequest(number, { focus: false });
    } catch (err) { problem(err.message); }
  } },
  h("div", {}, h("label", { for: "u-file" }, "Upload a document (PDF, PNG, JPEG)"), h("input", { id: "u-file", type: "file", accept: "application/pdf,image/png,image/jpeg" })),
  h("div", {}, h("button", { type: "submit" }, "Upload")));
  return h("div", {}, form, upload);
}

// The reason codes, personal privacy first chosen: what most boxes withhold.
const reasonOptions = (view) =>
  Object.entries(view.reasons).map(([k, v]) => h("option", { value: k, selected: k === "s.17" }, `${k} ${v}`));

function matchForm(view) {
  const number = view.request.request.number;
  return h("form", { class: "tools", id: "match", onsubmit: async (ev) => {
    ev.preventDefault();
    const ask = values(ev.target);
    try {
      const { ids } = await api("POST", `/api/access/${number}/matches`, ask);
      say(`${ids.length} place${ids.length === 1 ? "" : "s"} boxed.`);
      announce(`${ids.length} places boxed.`);
      await openRequest(number, { focus: false });
    } catch (err) { problem(err.message); }
  } },
  h("div", {}, h("label", { for: "m-text" }, "Every place this text appears"), h("input", { id: "m-text", name: "text", maxlength: "200" })),
  h("div", {}, h("label", { for: "m-pattern" }, "or every"), h("select", { id: "m-pattern", name: "pattern" }, h("option", { value: "" }, "(a text above)"),
    ...view.patterns.map((p) => h("option", { value: p }, p.replace(/_/g, " "))))),
  h("div", {}, h("label", { for: "m-reason" }, "Reason"), h("select", { id: "m-reason", name: "reason" }, ...reasonOptions(view))),
  h("div", {}, h("button", { type: "submit" }, "Box them all")));
}

function moveForm(move) {
  const view = shown;
  const needs = { assign: ["to", "Assign to"], wait: ["note", "What we asked the requester"], return: ["note", "What should change"], withdraw: ["note", "Why"] };
  const area = $("#move-area");
  const send = async (more = {}) => {
    try {
      const done = await api("POST", `/api/access/${view.request.request.number}/moves`, { version: view.request.request.version, move, ...more });
      show(done);
      say(`${MOVE_WORDS[move]}: done.`);
      announce(`${MOVE_WORDS[move]}: done.`);
      loadLog();
    } catch (err) { problem(err.message); }
  };
  if (move === "extend") {
    area.replaceChildren(h("form", { class: "act-form", onsubmit: (ev) => (ev.preventDefault(), send({ days: Number($("#x-days").value), ground: $("#x-ground").value, note: $("#x-note").value })) },
      h("label", { for: "x-days" }, "Business days more (at most 30)"), h("input", { id: "x-days", type: "number", min: "1", max: "30", value: "30" }),
      h("label", { for: "x-ground" }, "Ground"), h("select", { id: "x-ground" }, ...Object.entries(view.grounds).map(([k, v]) => h("option", { value: k }, v))),
      h("label", { for: "x-note" }, "Anything more for the requester"), h("textarea", { id: "x-note", rows: "2" }),
      h("p", { class: "help" }, "The requester is sent a notice with the new date, the reason and their right to ask the Commissioner for a review."),
      h("button", { type: "submit" }, "Extend and issue the notice")));
  } else if (needs[move]) {
    const [field, label] = needs[move];
    area.replaceChildren(h("form", { class: "act-form", onsubmit: (ev) => (ev.preventDefault(), send({ [field]: $("#mv-input").value })) },
      h("label", { for: "mv-input" }, label), field === "to" ? h("input", { id: "mv-input", required: true, value: me.user }) : h("textarea", { id: "mv-input", rows: "2", required: true }),
      h("button", { type: "submit" }, MOVE_WORDS[move])));
  } else {
    send();
    return;
  }
  area.querySelector("input, textarea, select")?.focus();
}

// ---- the viewer -------------------------------------------------------------------------

async function openRecord(doc) {
  const number = shown.request.request.number;
  record = doc;
  show(shown);
  const viewer = viewerEl;
  viewer.replaceChildren(h("p", { class: "help" }, "Loading the pages…"));
  try {
    const pdf = await pdfjs.getDocument({ url: `/api/access/${number}/records/${doc.id}`, isEvalSupported: false }).promise;
    const sheets = [];
    for (let n = 1; n <= pdf.numPages; n++) {
      const page = await pdf.getPage(n);
      const viewport = page.getViewport({ scale: 1.3 });
      const canvas = h("canvas", { width: String(Math.floor(viewport.width)), height: String(Math.floor(viewport.height)), "aria-label": `Page ${n}` });
      await page.render({ canvasContext: canvas.getContext("2d"), viewport }).promise;
      const overlay = h("div", { class: "overlay", dataset: { page: String(n - 1) } });
      const sheet = h("div", { class: "sheet", style: `width:${canvas.width}px;height:${canvas.height}px`, dataset: { page: String(n - 1) } }, canvas, overlay);
      drawable(overlay, n - 1);
      sheets.push(sheet);
    }
    viewer.replaceChildren(...sheets);
    viewer.dataset.ready = doc.id;
    drawBoxes();
  } catch (err) {
    problem(`The record could not be shown: ${err.message}`);
  }
}

function drawBoxes() {
  if (!record || !shown) return;
  for (const overlay of document.querySelectorAll("#viewer .overlay")) {
    const page = Number(overlay.dataset.page);
    overlay.replaceChildren(...shown.request.boxes.filter((b) => b.document === record.id && b.page === page).map((b) =>
      h("div", { class: "box", dataset: { box: String(b.id) }, title: `${b.reason} ${shown.reasons[b.reason] || ""}`,
        style: `left:${b.x0 * 100}%;top:${b.y0 * 100}%;width:${(b.x1 - b.x0) * 100}%;height:${(b.y1 - b.y0) * 100}%` }, b.reason)));
  }
}

function drawable(overlay, page) {
  let start = null;
  let ghost = null;
  const at = (ev) => {
    const r = overlay.getBoundingClientRect();
    return [Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width)), Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height))];
  };
  overlay.addEventListener("pointerdown", (ev) => {
    const stage = shown?.request.request.stage;
    if (stage !== "received" && stage !== "gathering") return;
    start = at(ev);
    overlay.setPointerCapture(ev.pointerId);
    ghost = h("div", { class: "box drawing" });
    overlay.append(ghost);
  });
  overlay.addEventListener("pointermove", (ev) => {
    if (!start) return;
    const [x, y] = at(ev);
    Object.assign(ghost.style, { left: `${Math.min(x, start[0]) * 100}%`, top: `${Math.min(y, start[1]) * 100}%`,
      width: `${Math.abs(x - start[0]) * 100}%`, height: `${Math.abs(y - start[1]) * 100}%` });
  });
  overlay.addEventListener("pointerup", async (ev) => {
    if (!start) return;
    const [x, y] = at(ev);
    const box = { document: record.id, page, x0: Math.min(x, start[0]), y0: Math.min(y, start[1]), x1: Math.max(x, start[0]), y1: Math.max(y, start[1]), reason: $("#draw-reason").value };
    start = null;
    ghost.remove();
    if (box.x1 - box.x0 < 0.005 || box.y1 - box.y0 < 0.005) return;
    const number = shown.request.request.number;
    try {
      await api("POST", `/api/access/${number}/boxes`, { boxes: [box] });
      say(`Box drawn on page ${page + 1}: ${box.reason}.`);
      await openRequest(number, { focus: false });
    } catch (err) { problem(err.message); }
  });
}

async function unbox(id) {
  const number = shown.request.request.number;
  try {
    await api("DELETE", `/api/access/${number}/boxes/${id}`);
    say("Box removed.");
    await openRequest(number, { focus: false });
  } catch (err) { problem(err.message); }
}

$("#receive").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const ask = Object.fromEntries(Object.entries(values(ev.target)).filter(([, v]) => v !== ""));
  try {
    const view = await api("POST", "/api/access", ask);
    ev.target.reset();
    $("#new-request").open = false;
    say(`Logged as ${view.request.request.number}.`);
    await loadLog();
    show(view);
  } catch (err) { problem(err.message); }
});

const hub = liveHub(["access"]);
hub.addEventListener("event", (ev) => {
  const { topic, payload } = ev.detail;
  if (topic !== "access") return;
  loadLog();
  if (shown && payload.request === shown.request.request.number && payload.by !== me.user) openRequest(payload.request, { focus: false });
});
keyRows($("#log"), (key) => openRequest(key));
await loadLog();
hub.start();
document.body.dataset.ready = "1";
