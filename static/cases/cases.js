// The case workspace: the queue by clock risk (GET /api/cases), the team lead's caseload, and a
// file (GET /api/cases/{file}, audited) with the actions its stage allows this person now
// (POST /api/cases/{file}/acts, each saved against the version shown: a file changed by someone
// else answers 409 and nothing is overwritten). Live over the WebSocket: the `cases` topic says
// which file changed, and the page reloads what it shows.
import { $, h } from "/static/common/dom.js";
import { signOut, signedIn } from "/static/common/session.js";
import { api, fillSelect, keyRows, liveHub, problem, say, values } from "/static/desk/desk.js";

const CASE_ROLES = new Set(["case_coordinator", "team_lead", "admin"]);
const me = await signedIn((role) => CASE_ROLES.has(role));
$("#whoami").textContent = `${me.user} (${me.role.replace("_", " ")})`;
$("#signout").addEventListener("click", signOut);

const STAGES = {
  received: "Received",
  screening: "Screening",
  waiting: "Waiting on complainant",
  jurisdiction: "Jurisdiction review",
  routed: "Routed",
  concluded: "Concluded",
  closed: "Closed",
  withdrawn: "Withdrawn",
  dismissed: "Dismissed",
};
const CLOCK_NAMES = { acknowledge: "Acknowledgement", status_update: "Status update", decision: "Decision target" };
const CLOCK_WORDS = {
  overdue: "Overdue",
  warning: "Due soon",
  running: "On time",
  paused: "Paused (waiting)",
  extended: "Extended",
  referred: "Referred out",
  met: "Met",
  stopped: "Stopped",
};
let reference = null;
let zone; // the agency's time zone (from /api/cases/reference): every date is shown in it
const when = (ms) =>
  ms ? new Date(ms).toLocaleString([], { dateStyle: "medium", timeStyle: "short", hour12: false, timeZone: zone }) : "";
let openFile = null; // the file view shown
let skew = 0; // server time - our time
let dirty = false; // a form of the open file has unsaved typing

const announce = (text) => ($("#announce").textContent = text);
const clockName = (n) => CLOCK_NAMES[n] || (n.startsWith("referral-") ? `Referral follow-up ${n.slice(9)}` : n);

function left(due) {
  const ms = due - (Date.now() + skew);
  const days = Math.floor(Math.abs(ms) / 86_400_000);
  const hours = Math.floor((Math.abs(ms) % 86_400_000) / 3_600_000);
  const span = days ? `${days} day${days === 1 ? "" : "s"}` : `${hours} hour${hours === 1 ? "" : "s"}`;
  return ms >= 0 ? `${span} left` : `overdue by ${span}`;
}

function clockBadge(state, due) {
  const words = CLOCK_WORDS[state] || "";
  const counting = state === "running" || state === "warning" || state === "overdue" || state === "extended";
  const text = counting && due ? `${words}: ${left(due)}` : words;
  return h("span", { class: `clock ${state}`, dataset: counting && due ? { due: String(due), state } : {} }, text);
}

// ---- the queue ---------------------------------------------------------------------

function queueRow(item) {
  const f = item.file;
  return h(
    "tr",
    { tabindex: "0", dataset: { key: f.file_number }, "aria-selected": String(f.file_number === openFile?.file.file_number) },
    h("td", {}, h("strong", {}, f.file_number), h("br"), h("span", { class: "muted" }, f.kind)),
    h("td", {}, item.state ? clockBadge(item.state, f.next_due) : "-"),
    h("td", {}, STAGES[f.stage] || f.stage, f.level ? ` · level ${f.level}` : ""),
    h("td", { class: "wrap" }, f.police_service),
    h("td", {}, f.assignee || "Unassigned"),
    h("td", { class: "wrap" }, f.flags.map((x) => x.replace(/_/g, " ")).join(", ")),
  );
}

let queueTimer = null;
async function loadQueue(message = null) {
  const ask = values($("#filter"));
  const query = new URLSearchParams(Object.entries(ask).filter(([, v]) => v));
  try {
    const { files, server_time: serverTime } = await api("GET", `/api/cases?${query}`);
    skew = serverTime - Date.now();
    const rows = files.map(queueRow);
    $("#rows").replaceChildren(
      ...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "6", class: "empty" }, "No files match."))]),
    );
    $("#count").textContent = `(${files.length})`;
    if (message !== false) say(message ?? `${files.length} file${files.length === 1 ? "" : "s"} shown.`);
  } catch (err) {
    problem(`The queue could not be loaded: ${err.message}`);
  }
  if (me.role === "team_lead") loadCaseload();
}
const soon = () => {
  clearTimeout(queueTimer);
  queueTimer = setTimeout(() => loadQueue(false), 300);
};

async function loadFlags() {
  try {
    const { warnings } = await api("GET", "/api/cases/warnings");
    const unseen = warnings.filter((w) => !w.seen_at).length;
    const box = $("#flags");
    box.hidden = !unseen;
    box.replaceChildren(h("a", { href: "/cases/reports/#warnings-title" },
      `${unseen} early-warning flag${unseen === 1 ? "" : "s"} on officers to look at`));
  } catch (err) {
    problem(`The early-warning flags could not be loaded: ${err.message}`);
  }
}

async function loadCaseload() {
  try {
    const { coordinators } = await api("GET", "/api/cases/caseload");
    $("#caseload").hidden = false;
    $("#caseload-rows").replaceChildren(
      ...coordinators.map((c) =>
        h("tr", {}, h("td", {}, c.assignee || "Unassigned"), h("td", { class: "num" }, String(c.open)),
          h("td", { class: "num" }, String(c.at_risk)), h("td", { class: "num" }, String(c.overdue))),
      ),
    );
  } catch (err) {
    problem(`The caseload could not be loaded: ${err.message}`);
  }
}

// ---- a file --------------------------------------------------------------------------

async function openFileNumber(number, { focus = true } = {}) {
  try {
    const view = await api("GET", `/api/cases/${encodeURIComponent(number)}`);
    showFile(view);
    if (focus) $("#file").focus();
  } catch (err) {
    problem(`File ${number} could not be opened: ${err.message}`);
  }
}

function section(title, ...body) {
  return h("section", { "aria-label": title }, h("h3", {}, title), ...body);
}

function needsBox(f) {
  const c = f.complainant;
  const lines = [];
  if (c.accessibility) lines.push(h("p", {}, h("strong", {}, "Accessibility and accommodation: "), c.accessibility));
  if (c.interpreter) lines.push(h("p", {}, h("strong", {}, "Interpreter: "), c.interpreter));
  const how = { email: `email ${c.email}`, phone: `phone ${c.phone}`, text: `text ${c.phone}`, mail: `mail to ${c.mailing_address}`, none: "does not want to be contacted" };
  lines.push(h("p", {}, h("strong", {}, "Contact: "), how[c.contact_by] || c.contact_by,
    c.safe_times ? ` (safe times: ${c.safe_times})` : "", c.ok_to_leave_message ? "; a message may be left" : ""));
  return h("div", { class: "needs", id: "needs", role: "region", "aria-label": "The complainant's needs" },
    h("h3", {}, c.name || "Name not given"), ...lines);
}

function showFile(view) {
  openFile = view;
  dirty = false;
  skew = view.server_time - Date.now();
  const f = view.file;
  const can = new Set(view.acts);
  $("#file-title").textContent = `${f.file_number} · ${f.kind} · ${STAGES[f.stage] || f.stage}`;
  const body = [
    view.acting_for ? h("p", { class: "banner" }, `You are acting for the team lead (${view.acting_for}).`) : null,
    h("p", { class: "muted" }, `Received ${when(f.received_at)} (${f.channel}) · ${f.police_service} · `,
      f.assignee ? `assigned to ${f.assignee}` : "unassigned", ` · version ${f.version}`),
    h("p", { class: "muted" }, h("strong", {}, "The complainant sees: "), view.public_words),
    needsBox(f),
    h("div", { class: "actions", role: "group", "aria-label": "Actions allowed now" }, ...actionButtons(view, can)),
    h("div", { id: "act-area" }),
    section("Clocks", h("ul", { class: "clocks" }, ...view.clocks.map((k) =>
      h("li", {}, `${clockName(k.name)}: `, clockBadge(k.state, k.due_at), ` (due by the end of ${k.due_day})`)))),
    section("What happened", h("p", { class: "narrative" }, f.narrative),
      f.desired_outcome ? h("p", {}, h("strong", {}, "What they hope for: "), f.desired_outcome) : null,
      h("p", { class: "muted" }, `When: ${f.occurred_on || "not given"} ${f.occurred_time} · Where: ${f.location || "not given"}`),
      f.officers_named.length ? h("p", {}, "Officers named: ", f.officers_named.map((o) => [o.name, o.badge && `#${o.badge}`, o.description].filter(Boolean).join(" ")).join("; ")) : null,
      f.summary ? h("p", {}, h("strong", {}, "Summary: "), f.summary) : null),
    section("Completeness", checklist(view, can.has("edit"))),
    section("Allegations", allegations(view, can.has("edit"))),
    f.recommendation ? section("Recommendation", recommendation(f.recommendation)) : null,
    f.referrals.length ? section("Referrals", h("ul", {}, ...f.referrals.map((r) => h("li", {},
      `#${r.id} to ${r.body}, sent ${when(r.sent_at)}; follow up by ${when(r.follow_up_due)}; `,
      r.outcome ? `outcome: ${r.outcome}` : "no outcome yet", r.notified_at ? "; complainant told" : "; complainant not told yet")))) : null,
    section("Timeline", h("ol", { class: "timeline" }, ...f.timeline.map((t) => h("li", {},
      h("span", { class: "muted" }, `${when(t.at)} · ${t.by}${t.acting_for ? ` (acting for ${t.acting_for})` : ""}: `),
      `${t.act.replace(/_/g, " ")}${t.detail ? ` — ${t.detail}` : ""}`)))),
    f.messages.length ? section("Messages", h("ul", {}, ...f.messages.map((m) => h("li", {},
      h("span", { class: "muted" }, `${when(m.at)} ${m.direction === "out" ? "to" : "from"} the complainant by ${m.channel}${m.address ? ` (${m.address})` : ""}: `), m.text)))) : null,
    section("Letters", h("div", { id: "letters" }, h("p", { class: "help" }, "Loading the letters…"))),
    f.evidence.length ? section("Evidence", h("ul", {}, ...f.evidence.map((e) => h("li", {},
      h("a", { href: `/api/cases/${f.file_number}/evidence/${e.id}` }, `${e.kind} ${e.ref}`), ` · sha256 ${e.sha256.slice(0, 16)}… · ${e.attached_by}`)))) : null,
  ];
  $("#file-body").replaceChildren(...body.filter(Boolean));
  for (const el of $("#file-body").querySelectorAll("input, textarea, select")) {
    el.addEventListener("input", () => (dirty = true));
  }
  for (const tr of $("#rows").querySelectorAll("tr[data-key]")) tr.setAttribute("aria-selected", String(tr.dataset.key === f.file_number));
  loadLetters(f.file_number);
}

const LETTER_KINDS = {
  acknowledgement: "Acknowledgement", request_info: "Request for more information", jurisdiction: "Jurisdiction decision",
  referral_notice: "Referral notice", police_notice: "Notice to the police service", status_update: "Status update",
  delay_notice: "Delay notice", dismissal: "Dismissal with reasons", decision: "Decision", disposition: "Disposition",
  closing: "Closing letter",
};
const LETTER_STATES = { draft: "draft", submitted: "waiting for the team lead", returned: "returned", issued: "issued" };

async function loadLetters(number) {
  const box = $("#letters");
  if (!box) return;
  let letters = [];
  try {
    ({ letters } = await api("GET", `/api/cases/${encodeURIComponent(number)}/letters`));
  } catch (err) {
    box.replaceChildren(h("p", { class: "error-text" }, `The letters could not be loaded: ${err.message}`));
    return;
  }
  if (openFile?.file.file_number !== number) return;
  const list = letters.length
    ? h("ul", {}, ...letters.map((l) => h("li", {}, h("a", { href: `/cases/letters/#${l.id}` }, `${LETTER_KINDS[l.kind] || l.kind}`),
        ` · ${l.number || `#${l.id}`} · ${LETTER_STATES[l.state] || l.state} · ${l.author}`)))
    : h("p", { class: "help" }, "No letters yet.");
  const writer = me.role === "case_coordinator" || me.role === "team_lead";
  const form = writer ? h("form", { class: "filters", id: "draft-letter", onsubmit: (ev) => (ev.preventDefault(), draftLetter(number)) },
    h("div", {}, h("label", { for: "letter-kind" }, "Draft a letter"),
      h("select", { id: "letter-kind" }, ...Object.entries(LETTER_KINDS).map(([k, v]) => h("option", { value: k }, v)))),
    h("div", {}, h("button", { type: "submit" }, "Draft"))) : null;
  box.replaceChildren(list, ...(form ? [form] : []));
}

async function draftLetter(number) {
  try {
    const page = await api("POST", `/api/cases/${encodeURIComponent(number)}/letters`, { kind: $("#letter-kind").value });
    location.assign(`/cases/letters/#${page.letter.id}`);
  } catch (err) {
    problem(err.message);
  }
}

function recommendation(rec) {
  return h("div", {},
    h("p", {}, `Level ${rec.level ?? "none (redirect)"} · ${String(rec.route).replace(/_/g, " ")} · ${rec.body}`),
    h("ul", {}, ...(rec.reasons || []).map((r) => h("li", {}, r))),
    rec.note ? h("p", {}, `Coordinator: ${rec.note}`) : null,
    rec.confirmed_by ? h("p", {}, h("strong", {}, `Confirmed by ${rec.confirmed_by}`),
      rec.changed ? ` (changed to level ${rec.confirmed_level ?? "-"}, ${rec.confirmed_route}: ${rec.lead_reasons})` : "") : h("p", { class: "muted" }, "Waiting for the team lead to confirm."),
  );
}

function checklist(view, editable) {
  return h("ul", { class: "checklist" }, ...view.checklist.map((item) => h("li", {},
    `${item.met ? "✓" : "✗"} ${item.label}${item.present ? "" : " (not given)"}${item.mark ? ` — marked ${item.mark}` : ""} `,
    editable ? ["ok", "waived", "missing"].map((mark) => h("button", {
      type: "button", class: "quiet", "aria-label": `Mark “${item.label}” ${mark}`,
      onclick: () => act({ act: "checklist", marks: { [item.key]: mark } }),
    }, mark)) : null)));
}

function typeSelect(value) {
  const byTier = new Map();
  for (const t of reference.allegation_types) {
    const label = t.tier ? `Tier ${t.tier}` : "Other";
    if (!byTier.has(label)) byTier.set(label, []);
    byTier.get(label).push(t);
  }
  const groups = [...byTier.entries()].map(([label, types]) =>
    h("optgroup", { label }, ...types.map((t) => h("option", { value: t.code, selected: t.code === value }, t.label))));
  return h("select", { name: "type", "aria-label": "Allegation type" }, ...groups);
}

function allegations(view, editable) {
  const rows = view.file.allegations.map((a, i) => allegationRow(a, i + 1, editable));
  if (editable) rows.push(allegationRow(null, rows.length + 1, true));
  return h("table", { class: "grid allegations" },
    h("caption", { class: "sr-only" }, "One row per allegation"),
    h("thead", {}, h("tr", {}, ...["Type", "Officer", "Badge", "Summary", "Level", "Finding", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...rows));
}

function allegationRow(a, n, editable) {
  const typeName = (code) => reference.allegation_types.find((t) => t.code === code)?.label || code;
  if (!editable) {
    return h("tr", {}, h("td", {}, typeName(a.type)), h("td", {}, a.officer_name), h("td", {}, a.officer_badge),
      h("td", { class: "wrap" }, a.summary), h("td", {}, a.level ? String(a.level) : "-"),
      h("td", {}, a.finding.replace(/_/g, " ") || "-"), h("td", {}, a.officer ? h("a", { href: "#", onclick: (ev) => (ev.preventDefault(), officerHistory(a.officer)) }, "History") : ""));
  }
  const label = a ? `allegation ${n}` : "new allegation";
  const type = typeSelect(a?.type);
  const name = h("input", { type: "text", name: "officer_name", value: a?.officer_name || "", maxlength: "200", "aria-label": `Officer's name, ${label}` });
  const badge = h("input", { type: "text", name: "officer_badge", value: a?.officer_badge || "", maxlength: "20", "aria-label": `Badge, ${label}` });
  const summary = h("input", { type: "text", name: "summary", value: a?.summary || "", maxlength: "10000", "aria-label": `Summary, ${label}` });
  type.setAttribute("aria-label", `Type, ${label}`);
  const save = h("button", { type: "button", onclick: () => act({ act: "allegation", ...(a ? { id: a.id } : {}),
    type: type.value, officer_name: name.value.trim(), officer_badge: badge.value.trim(), summary: summary.value.trim() }) }, a ? "Save" : "Add");
  const remove = a ? h("button", { type: "button", class: "quiet", onclick: () => act({ act: "remove_allegation", id: a.id }), "aria-label": `Remove ${label}` }, "Remove") : null;
  return h("tr", { dataset: { allegation: a ? String(a.id) : "new" } }, h("td", {}, type), h("td", {}, name), h("td", {}, badge),
    h("td", {}, summary), h("td", {}, a?.level ? String(a.level) : "-"), h("td", {}, a?.finding?.replace(/_/g, " ") || "-"),
    h("td", {}, save, remove));
}

async function officerHistory(id) {
  try {
    const { allegations: rows } = await api("GET", `/api/cases/officers/${id}`);
    const area = $("#act-area");
    area.replaceChildren(h("div", { class: "act-form" }, h("h3", {}, `Officer ${id}: history across files`),
      h("ul", {}, ...rows.map((r) => h("li", {}, `${r.file_number} (${when(r.received_at)}): ${r.type} tier ${r.tier}, ${STAGES[r.stage] || r.stage}${r.finding ? `, ${r.finding}` : ""}`)))));
  } catch (err) {
    problem(`The officer's history could not be loaded: ${err.message}`);
  }
}

// ---- the actions ---------------------------------------------------------------------

const T = (name, label, more = {}) => ({ name, label, kind: "textarea", ...more });
const S = (name, label, options) => ({ name, label, kind: "select", options });
function formsFor(view) {
  const f = view.file;
  const clocks = view.clocks.filter((k) => !["met", "stopped"].includes(k.state)).map((k) => [k.name, clockName(k.name)]);
  const referrals = f.referrals.map((r) => [String(r.id), `#${r.id} ${r.body}`]);
  const missing = view.checklist.filter((i) => !i.met).map((i) => i.key);
  return {
    start_screening: { label: "Start screening", fields: [] },
    request_info: { label: "Ask the complainant for more", fields: [T("message", "What we ask (sent by the way they chose; shown on their status check)")], extra: { missing } },
    info_received: { label: "Record their reply", fields: [T("text", "What they told us"), S("channel", "How", [["phone", "Phone"], ["email", "Email"], ["mail", "Mail"], ["in_person", "In person"], ["text", "Text"]])] },
    screened: { label: "Complete: to jurisdiction review", fields: [] },
    edit: { label: "Edit summary and facts", fields: [T("summary", "Summary of the allegations", { value: f.summary }),
      S("service_kind", "Kind of service", [["", "Keep"], ["municipal", "Municipal"], ["first_nations", "First Nations"], ["rcmp", "RCMP"], ["peace_officer", "Peace officer"], ["not_police", "Not police"]]),
      { name: "facts", label: "Facts", kind: "checks", options: [["death", "A death"], ["serious_injury", "A serious injury"], ["sensitive", "Sensitive"]], checked: f.flags }] },
    recommend: { label: "Recommend level", fields: [T("reasons", "Your reasons (the rule's are added)")] },
    route: { label: "Confirm level and route", fields: [T("reasons", "Reasons (required if you change it)"),
      S("level", "Level", [["", "As recommended"], ["1", "1"], ["2", "2"], ["3", "3"], ["4", "4"], ["5", "5"]]),
      S("route", "Route", [["", "As recommended"], ["resolution", "Resolution"], ["investigation", "Investigation"], ["serious_incident", "Serious incident team"], ["referred_out", "Referred out"]]),
      { name: "body", label: "Body (if changed)", kind: "text" }] },
    refer: { label: "Refer out", fields: [{ name: "body", label: "To", kind: "text" }] },
    referral_outcome: { label: "Record a referral's outcome", fields: [S("referral", "Referral", referrals), T("outcome", "What they reported")] },
    notify: { label: "Tell the complainant", fields: [S("referral", "About referral", [["", "None"], ...referrals]), T("message", "Message")] },
    finding: { label: "Record a finding", fields: [S("allegation", "Allegation", f.allegations.map((a) => [String(a.id), `${a.id}: ${a.type}`])), S("finding", "Finding", reference.findings.map((x) => [x, x.replace(/_/g, " ")]))] },
    conclude: { label: "Conclude", fields: [] },
    close: { label: "Close the file", fields: [] },
    withdraw: { label: "Withdrawn", fields: [T("reason", "Why (the complainant's words)")] },
    dismiss: { label: "Dismiss", fields: [S("ground", "Ground", Object.keys(reference.grounds).map((g) => [g, g.replace(/_/g, " ")])), T("reasons", "Reasons (in the letter)")], help: Object.values(reference.grounds) },
    assign: { label: "Assign", fields: [{ name: "to", label: "To coordinator", kind: "text" }] },
    take: { label: "Take this file", fields: [] },
    escalate: { label: "Escalate to the team lead", fields: [S("flag", "Why", [["high_priority", "High priority"], ["complex", "Complex"], ["contentious", "Contentious"], ["possibly_frivolous", "Possibly frivolous or vexatious"]]), T("why", "Details")], help: Object.values(reference.grounds) },
    clear_flag: { label: "Clear a flag", fields: [S("flag", "Flag", f.flags.map((x) => [x, x.replace(/_/g, " ")]))] },
    extend: { label: "Extend a clock", fields: [S("clock", "Clock", clocks), { name: "days", label: "Days", kind: "number" }, T("grounds", "Grounds"), T("notice", "Notice to the complainant")] },
    delay_reason: { label: "Reason for delay", fields: [S("clock", "Clock", clocks), T("reason", "Why it is late")] },
    acknowledge: { label: "Acknowledgement sent", fields: [T("message", "What we said")] },
    status_update: { label: "Status update sent", fields: [T("message", "What we said")] },
    note: { label: "Add a note", fields: [T("text", "Note (staff only)")] },
  };
}

function actionButtons(view, can) {
  const forms = formsFor(view);
  return view.acts.filter((a) => forms[a]).map((name) =>
    h("button", { type: "button", dataset: { act: name }, onclick: () => openForm(name, forms[name]) }, forms[name].label));
}

function field(spec) {
  const id = `a-${spec.name}`;
  let input;
  if (spec.kind === "select") input = h("select", { id, name: spec.name }, ...spec.options.map(([v, l]) => h("option", { value: v }, l)));
  else if (spec.kind === "textarea") input = h("textarea", { id, name: spec.name, rows: "3", maxlength: "10000" }, spec.value || "");
  else if (spec.kind === "checks") {
    return h("fieldset", {}, h("legend", {}, spec.label), ...spec.options.map(([v, l]) =>
      h("label", {}, h("input", { type: "checkbox", name: spec.name, value: v, checked: spec.checked.includes(v) }), ` ${l}`)));
  } else input = h("input", { id, name: spec.name, type: spec.kind === "number" ? "number" : "text", maxlength: "200" });
  return [h("label", { for: id }, spec.label), input];
}

function openForm(name, spec) {
  const area = $("#act-area");
  const said = h("p", { class: "error-text", role: "alert" });
  const form = h("form", { class: "act-form", dataset: { act: name } },
    h("h3", {}, spec.label), ...(spec.help || []).map((t) => h("p", { class: "grounds" }, t)),
    ...spec.fields.map(field), said,
    h("div", { class: "buttons" }, h("button", { type: "submit" }, spec.fields.length ? "Save" : "Confirm"),
      h("button", { type: "button", class: "quiet", onclick: () => area.replaceChildren() }, "Cancel")));
  form.addEventListener("keydown", (ev) => ev.key === "Escape" && area.replaceChildren());
  form.addEventListener("input", () => (dirty = true));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { act: name, ...(spec.extra || {}) };
    for (const spec_ of spec.fields) {
      if (spec_.kind === "checks") body[spec_.name] = [...form.querySelectorAll(`input[name=${spec_.name}]:checked`)].map((c) => c.value);
      else {
        const v = form.elements.namedItem(spec_.name).value.trim();
        if (v === "") continue;
        body[spec_.name] = ["level", "days", "referral", "allegation"].includes(spec_.name) ? Number(v) : v;
      }
    }
    await act(body, said);
  });
  area.replaceChildren(form);
  (form.querySelector("input, textarea, select") || form.querySelector("button")).focus();
}

async function act(body, where = null) {
  if (!openFile) return;
  const number = openFile.file.file_number;
  const resp = await fetch(`/api/cases/${encodeURIComponent(number)}/acts`, {
    method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ version: openFile.file.version, act: body }),
  }).catch(() => null);
  const data = resp ? await resp.json().catch(() => ({})) : {};
  if (resp?.ok) {
    showFile(data);
    say(`Saved: ${body.act.replace(/_/g, " ")}.`);
    announce(`Saved ${body.act.replace(/_/g, " ")} on ${number}.`);
    soon();
  } else if (resp?.status === 409) {
    conflict(data.error);
  } else {
    const message = resp ? data.error || `the hub answered ${resp.status}` : "the hub could not be reached";
    if (where) where.textContent = message;
    problem(`Not saved: ${message}`);
    announce(`Not saved: ${message}`);
  }
}

function conflict(message) {
  const banner = h("div", { class: "banner", id: "conflict", role: "alert" }, h("p", {}, message),
    h("button", { type: "button", onclick: () => openFileNumber(openFile.file.file_number) }, "Reload the file"));
  $("#file-body").prepend(banner);
  announce(message);
  banner.querySelector("button").focus();
}

// ---- live ----------------------------------------------------------------------------

const hub = liveHub(me.role === "team_lead" ? ["cases", "case-warnings"] : ["cases"]);
hub.addEventListener("resync", () => soon());
hub.addEventListener("event", (ev) => {
  const { topic, payload } = ev.detail;
  if (topic === "case-warnings" && payload.kind === "case.warning") {
    announce(`Early warning: an officer crossed "${payload.rule}".`);
    loadFlags();
    return;
  }
  if (topic !== "cases") return;
  if (payload.kind === "case.letter") {
    if (openFile && payload.file === openFile.file.file_number) loadLetters(payload.file);
    return;
  }
  soon();
  if (payload.kind === "case.clock") announce(`${payload.file}: ${clockName(payload.clock)} ${payload.state === "overdue" ? "is overdue" : "is due soon"}.`);
  if (!openFile || payload.file !== openFile.file.file_number) return;
  if (payload.kind === "case.changed" && payload.version <= openFile.file.version) return;
  if (dirty) {
    if (!$("#changed")) {
      $("#file-body").prepend(h("div", { class: "banner", id: "changed", role: "status" },
        `${payload.by} changed this file. What you typed is kept; reload to see their change.`,
        h("button", { type: "button", onclick: () => openFileNumber(openFile.file.file_number) }, "Reload")));
    }
    return;
  }
  openFileNumber(openFile.file.file_number, { focus: false });
});

setInterval(() => {
  for (const el of document.querySelectorAll(".clock[data-due]")) {
    const due = Number(el.dataset.due);
    const state = due >= Date.now() + skew ? el.dataset.state : "overdue"; // an extension missed is overdue too
    const words = CLOCK_WORDS[state];
    const text = `${words}: ${left(due)}`;
    if (el.textContent !== text) el.textContent = text;
    el.className = `clock ${state}`;
  }
}, 1000);

// ---- starting up ---------------------------------------------------------------------

try {
  reference = await api("GET", "/api/cases/reference");
  zone = reference.timezone;
  fillSelect($("#f-stage"), Object.entries(STAGES), { blank: "Any open" });
  fillSelect($("#f-service"), reference.police_services, { blank: "Any" });
} catch (err) {
  problem(`The workspace could not load its lists: ${err.message}`);
}
keyRows($("#rows"), (key) => openFileNumber(key));
$("#filter").addEventListener("submit", (ev) => (ev.preventDefault(), loadQueue()));
$("#filter").addEventListener("change", () => loadQueue());
await loadQueue();
if (me.role === "team_lead") await loadFlags();
if (location.hash.length > 1) await openFileNumber(decodeURIComponent(location.hash.slice(1)));
hub.start();
