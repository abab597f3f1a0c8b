// The public complaint portal: a complaint, concern or compliment about police,
// sent to POST /api/complaints, and a status check for a file already sent.
//
// What a person types is never lost: it is kept as a draft in this tab's
// sessionStorage (with the submission id the hub gave the form, so a reload or
// a second press of Send is the same submission and is filed once), and every
// refusal (422 by field, 413, 429, no network) leaves the form as it was.
import { $, h } from "/static/common/dom.js";

const DRAFT_KEY = "complaint-portal:draft";
const RECEIPT_KEY = "complaint-portal:receipt";
const TEXT_FIELDS = [
  "police_service",
  "occurred_on",
  "occurred_time",
  "location",
  "narrative",
  "desired_outcome",
  "name",
  "email",
  "phone",
  "mailing_address",
  "safe_times",
  "accessibility",
  "interpreter",
];
const CHOICES = ["kind", "contact_by"];
const FLAGS = ["ok_to_leave_message", "consent_share"];
// How each answer is named in the summary of problems at the top of the form.
const SHORT = {
  kind: "What you would like to tell us",
  police_service: "Police service",
  officers: "Officers involved",
  narrative: "What happened",
  occurred_on: "Date",
  occurred_time: "Time",
  location: "Where it happened",
  desired_outcome: "What you would like to happen",
  attachments: "Photos or documents",
  contact_by: "How to contact you",
  name: "Your name",
  email: "Email address",
  phone: "Phone number",
  mailing_address: "Mailing address",
  safe_times: "When it is safe to contact you",
  ok_to_leave_message: "Leaving a message",
  accessibility: "What would make this easier",
  interpreter: "Interpreter",
  consent_share: "Your permission",
  channel: "How the person got in touch",
};
const OFFICER_PARTS = { name: "name", badge: "badge number", description: "description" };
const SUBMISSION_ID = /^[A-Za-z0-9-]{8,64}$/; // as the hub checks it

const form = $("#complaint-form");
const submitButton = $("#submit");
const summary = $("#error-summary");
const problemBox = $("#form-problem");
const receipt = $("#receipt");

let config = null; // GET /api/complaints/form
let submissionId = "";
let sending = false;

// ---- storage (a tab's sessionStorage; absent in some private modes) -------------

function readStored(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

function store(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Not kept across a reload then; the page itself still works.
  }
}

// ---- officers ------------------------------------------------------------------

const rows = $("#officer-rows");

function officerField(i, part, label, value, hint) {
  const id = `c-officers-${i}-${part}`;
  const limit = config?.limits?.[`officer_${part}`];
  const described = [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
  return [
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
    h("p", { class: "field-error", id: `${id}-error` }),
    h("input", {
      id,
      dataset: { part },
      value: value || "",
      maxlength: limit,
      autocomplete: "off",
      "aria-describedby": described,
    }),
  ];
}

function officerRow(i, officer) {
  return h(
    "fieldset",
    { class: "officer", id: `c-officers-${i}`, "aria-describedby": `c-officers-${i}-error` },
    h("legend", {}, `Officer ${i + 1}`),
    h("p", { class: "field-error", id: `c-officers-${i}-error` }),
    officerField(i, "name", "Name", officer.name),
    officerField(i, "badge", "Badge or regimental number", officer.badge),
    officerField(
      i,
      "description",
      "Description",
      officer.description,
      "What they looked like or what they did, if you do not know a name or number.",
    ),
    h("button", { type: "button", class: "quiet remove", onclick: () => removeOfficer(i) }, `Remove officer ${i + 1}`),
  );
}

function officers() {
  return [...rows.querySelectorAll("fieldset.officer")].map((row) => {
    const value = (part) => row.querySelector(`[data-part="${part}"]`).value;
    return { name: value("name"), badge: value("badge"), description: value("description") };
  });
}

function renderOfficers(list) {
  rows.replaceChildren(...list.map((o, i) => officerRow(i, o)));
  const most = config?.limits?.officers ?? 10;
  const full = list.length >= most;
  $("#add-officer").hidden = full;
  $("#add-officer").textContent = list.length ? "Add another officer" : "Add an officer";
  const note = $("#officer-limit");
  note.hidden = !full;
  note.textContent = full ? `This form takes up to ${most} officers. Tell us about anyone else in “What happened”.` : "";
}

function addOfficer() {
  const list = officers();
  list.push({ name: "", badge: "", description: "" });
  renderOfficers(list);
  $(`#c-officers-${list.length - 1}-name`).focus();
  saveDraft();
}

function removeOfficer(i) {
  const list = officers();
  list.splice(i, 1);
  renderOfficers(list);
  (list.length ? $(`#c-officers-${Math.min(i, list.length - 1)}-name`) : $("#add-officer")).focus();
  saveDraft();
}

// ---- what the form holds ---------------------------------------------------------

function field(name) {
  return form.elements.namedItem(name);
}

function answers() {
  const body = { submission_id: submissionId };
  for (const name of TEXT_FIELDS) body[name] = field(name).value;
  for (const name of CHOICES) {
    const value = field(name).value;
    if (value) body[name] = value;
  }
  for (const name of FLAGS) body[name] = field(name).checked;
  body.officers = officers();
  if (config?.staff) body.channel = field("channel").value;
  return body;
}

function restore(draft) {
  for (const name of TEXT_FIELDS) if (typeof draft[name] === "string") field(name).value = draft[name];
  for (const name of CHOICES) {
    const radio = form.querySelector(`input[name="${name}"][value="${CSS.escape(draft[name] || "")}"]`);
    if (radio) radio.checked = true;
  }
  for (const name of FLAGS) field(name).checked = draft[name] === true;
  if (config?.staff && draft.channel) field("channel").value = draft.channel;
  renderOfficers(Array.isArray(draft.officers) ? draft.officers : []);
}

function saveDraft() {
  if (config && receipt.hidden) store(DRAFT_KEY, answers()); // once sent, the receipt replaces the draft
}

let draftTimer = 0;
function saveDraftSoon() {
  clearTimeout(draftTimer);
  draftTimer = setTimeout(saveDraft, 250);
}

// ---- problems --------------------------------------------------------------------

/** The element an error key is about: "officers.0.badge" -> #c-officers-0-badge;
 *  "attachments.1" (no such element) -> #c-attachments; unknown -> null. */
function placeOf(key) {
  const parts = key.split(".");
  while (parts.length) {
    const el = document.getElementById(`c-${parts.join("-")}`);
    if (el) return el;
    parts.pop();
  }
  return null;
}

function focusTarget(el) {
  if (el.tagName !== "FIELDSET") return el;
  return el.querySelector("input:checked") || el.querySelector("input, select, textarea, button");
}

function summaryLabel(key) {
  const [top, index, part] = key.split(".");
  if (top === "officers" && index !== undefined) {
    return `Officer ${Number(index) + 1}${part ? `, ${OFFICER_PARTS[part] || part}` : ""}`;
  }
  return SHORT[top] || "The form";
}

function clearProblems() {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  $("#error-list").replaceChildren();
  summary.hidden = true;
  problemBox.hidden = true;
  problemBox.textContent = "";
}

function showProblem(text) {
  problemBox.textContent = text;
  problemBox.hidden = false;
  problemBox.focus();
}

function showFieldErrors(errors) {
  const shown = [];
  for (const [key, message] of Object.entries(errors || {})) {
    const place = placeOf(key);
    if (place) {
      const box = document.getElementById(`${place.id}-error`);
      if (box) box.textContent = box.textContent ? `${box.textContent}\n${message}` : message;
      if (place.tagName === "FIELDSET" && place.getAttribute("role") !== "radiogroup") {
        for (const input of place.querySelectorAll("input, select, textarea")) input.setAttribute("aria-invalid", "true");
      } else {
        place.setAttribute("aria-invalid", "true");
      }
    }
    shown.push({ key, message, place });
  }
  // In the order the questions come on the page; problems with no question first.
  shown.sort((a, b) => {
    if (!a.place || !b.place) return a.place ? 1 : b.place ? -1 : 0;
    return a.place.compareDocumentPosition(b.place) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
  });
  const items = shown.map(({ key, message, place }) => {
    const text = `${summaryLabel(key)}: ${message}`;
    if (!place) return h("li", {}, text);
    const target = focusTarget(place);
    const go = (ev) => {
      ev.preventDefault();
      target.focus();
    };
    return h("li", {}, h("a", { href: `#${target.id}`, onclick: go }, text));
  });
  $("#error-list").replaceChildren(...items);
  summary.hidden = false;
  const first = shown.find((s) => s.place);
  if (first) {
    const target = focusTarget(first.place);
    target.scrollIntoView({ block: "center" });
    target.focus({ preventScroll: true });
  } else {
    summary.focus();
  }
}

/** Problems the page can see without sending anything: files too many or too large. */
function attachmentProblems(files) {
  const errors = {};
  const most = config.attachments.max;
  const maxBytes = config.attachments.max_bytes;
  if (files.length > most) errors.attachments = `Please choose at most ${most} files.`;
  files.forEach((file, i) => {
    if (file.size > maxBytes) {
      errors[`attachments.${i}`] = `${file.name} is larger than ${Math.floor(maxBytes / (1024 * 1024))} MB.`;
    } else if (!file.size) {
      errors[`attachments.${i}`] = `${file.name} is empty.`;
    }
  });
  return errors;
}

// ---- sending ---------------------------------------------------------------------

function post(body, files) {
  const options = { method: "POST", credentials: "same-origin" };
  if (!files.length) {
    return fetch("/api/complaints", { ...options, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  }
  const data = new FormData();
  data.append("complaint", JSON.stringify(body));
  for (const file of files) data.append("attachments", file, file.name);
  return fetch("/api/complaints", { ...options, body: data });
}

async function send(ev) {
  ev.preventDefault();
  if (sending || !config) return;
  clearProblems();
  const body = answers();
  const files = [...field("attachments").files];
  const local = attachmentProblems(files);
  if (Object.keys(local).length) {
    showFieldErrors(local);
    return;
  }
  saveDraft();
  sending = true;
  submitButton.disabled = true;
  $("#sending").textContent = "Sending…";
  try {
    let resp;
    try {
      resp = await post(body, files);
    } catch {
      showProblem(
        "We could not reach our server, so we cannot tell whether your form arrived. Nothing you typed has been" +
          " lost. Check your connection and press Send again: it will not be filed twice.",
      );
      return;
    }
    const answer = await resp.json().catch(() => ({}));
    if (resp.status === 200 || resp.status === 201) {
      store(RECEIPT_KEY, answer);
      store(DRAFT_KEY, null);
      showReceipt(answer);
    } else if (resp.status === 422 && answer.errors) {
      showFieldErrors(answer.errors);
    } else if (resp.status === 409) {
      // An earlier send of this form reached us, with other answers: these go as a new file.
      const fresh = await loadConfig();
      if (fresh) submissionId = fresh.submission_id;
      showProblem(answer.error);
    } else {
      showProblem(
        answer.error ||
          `Something went wrong on our side (${resp.status}). Nothing you typed has been lost. Please try again` +
            " in a few minutes, or call us.",
      );
    }
  } finally {
    sending = false;
    submitButton.disabled = false;
    $("#sending").textContent = "";
  }
}

// ---- the receipt -----------------------------------------------------------------

function showReceipt(r) {
  $("#file-number").textContent = r.file_number;
  $("#status-code").textContent = r.status_code;
  $("#receipt-message").textContent = r.message || "";
  $("#receipt-repeat").hidden = r.received !== false;
  form.hidden = true;
  receipt.hidden = false;
  $("#s-file").value = r.file_number;
  $("#s-code").value = r.status_code;
  $("#receipt-title").focus();
}

async function startNew() {
  store(RECEIPT_KEY, null);
  store(DRAFT_KEY, null);
  const fresh = await loadConfig();
  if (!fresh) return;
  config = fresh;
  submissionId = fresh.submission_id;
  form.reset();
  clearProblems();
  renderOfficers([]);
  receipt.hidden = true;
  form.hidden = false;
  field("kind")[0].focus();
}

// ---- the status check ------------------------------------------------------------

const statusForm = $("#status-form");
const statusResult = $("#status-result");
const statusError = $("#status-error");
let statusAnswers = 0;

async function checkStatus(ev) {
  ev.preventDefault();
  const fileInput = $("#s-file");
  const codeInput = $("#s-code");
  const file_number = fileInput.value.trim().toUpperCase();
  const status_code = codeInput.value.trim().toUpperCase();
  statusError.textContent = "";
  for (const input of [fileInput, codeInput]) input.removeAttribute("aria-invalid");
  if (!file_number || !status_code) {
    const empty = file_number ? codeInput : fileInput;
    empty.setAttribute("aria-invalid", "true");
    statusError.textContent = "Enter both the file number and the status code.";
    empty.focus();
    return;
  }
  const button = $("#status-check");
  button.disabled = true;
  try {
    const resp = await fetch("/api/complaints/status", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ file_number, status_code }),
    });
    const answer = await resp.json().catch(() => ({}));
    if (resp.ok) {
      statusResult.dataset.stage = answer.stage || "";
      statusResult.replaceChildren(
        h("h3", {}, `File ${answer.file_number}`),
        h("p", {}, answer.message || ""),
        answer.next ? h("p", {}, answer.next) : null,
        answer.received ? h("p", { class: "hint" }, `Received ${answer.received}.`) : null,
      );
    } else {
      statusResult.replaceChildren();
      statusError.textContent = answer.error || `We could not check right now (${resp.status}). Please try again.`;
    }
  } catch {
    statusError.textContent = "We could not reach our server. Check your connection and try again.";
  } finally {
    button.disabled = false;
    statusResult.dataset.answers = String(++statusAnswers);
  }
}

// ---- starting up -----------------------------------------------------------------

async function loadConfig() {
  try {
    const resp = await fetch("/api/complaints/form", { credentials: "same-origin" });
    if (!resp.ok) throw new Error(String(resp.status));
    return await resp.json();
  } catch {
    const box = $("#load-problem");
    box.textContent =
      "We cannot load the form right now. Please reload the page in a few minutes, or call us instead. If you" +
      " had started typing, it is still kept in this tab.";
    box.hidden = false;
    return null;
  }
}

function staffMode(user) {
  $("#staff-name").textContent = user;
  $("#staff-panel").hidden = false;
  const consent = $("#consent-label");
  consent.replaceChildren(
    "The person agreed verbally that what they told us can be shared with the police service involved, so that it" +
      " can be looked into. ",
    h("span", { class: "req" }, "(required)"),
  );
  document.body.classList.add("staff-entry");
}

function applyLimits(limits) {
  for (const name of TEXT_FIELDS) {
    const el = field(name);
    // Single lines only: a long narrative pasted in must never be cut short without a word.
    if (el.tagName === "INPUT" && el.type !== "date" && limits[name]) el.maxLength = limits[name];
  }
}

async function start() {
  form.addEventListener("submit", send);
  form.addEventListener("input", saveDraftSoon);
  form.addEventListener("change", saveDraftSoon);
  window.addEventListener("pagehide", saveDraft);
  $("#add-officer").addEventListener("click", addOfficer);
  $("#print").addEventListener("click", () => window.print());
  $("#start-new").addEventListener("click", startNew);
  $("#check-this").addEventListener("click", () => {
    $("#status-title").scrollIntoView({ block: "start" });
    $("#status-check").focus();
  });
  $("#clear-form").addEventListener("click", async () => {
    if (!window.confirm("Clear everything you have typed in this form?")) return;
    store(DRAFT_KEY, null);
    form.reset();
    renderOfficers([]);
    clearProblems();
    // What is typed next is a new submission, not a retry of the one cleared.
    const fresh = await loadConfig();
    if (fresh) submissionId = fresh.submission_id;
    field("kind")[0].focus();
  });
  statusForm.addEventListener("submit", checkStatus);
  field("occurred_on").max = new Date().toLocaleDateString("en-CA"); // YYYY-MM-DD, local

  const loaded = await loadConfig();
  if (!loaded) return;
  config = loaded;
  const select = field("police_service");
  select.append(...config.police_services.map((name) => h("option", { value: name }, name)));
  applyLimits(config.limits);
  const mb = Math.floor(config.attachments.max_bytes / (1024 * 1024));
  $("#c-attachments-hint").prepend(`Up to ${config.attachments.max} files of up to ${mb} MB each. `);
  if (config.staff) staffMode(config.staff);

  const draft = readStored(DRAFT_KEY);
  const kept = typeof draft?.submission_id === "string" && SUBMISSION_ID.test(draft.submission_id);
  submissionId = kept ? draft.submission_id : config.submission_id;
  if (draft) restore(draft);
  else renderOfficers([]);
  submitButton.disabled = false;
  const done = readStored(RECEIPT_KEY);
  if (done?.file_number) showReceipt(done);
}

start();
