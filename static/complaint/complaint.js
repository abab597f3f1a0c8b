// The public complaint portal: a complaint, concern or compliment about police,
// sent to POST /api/complaints, and a status check for a file already sent.
//
// What a person types is never lost: it is kept as a draft in this tab's
// sessionStorage (with the submission id the hub gave the form, so a reload or
// a second press of Send is the same submission and is filed once), and every
// refusal (422 by field, 413, 429, no network) leaves the form as it was.
//
// The form comes in four short parts. The public see one part at a time, as a
// phone needs (Back/Next, "Step 2 of 4", the focus on the part's heading), and
// anyone may show every question on one page instead: the parts are the same
// form, only hidden, so moving between them loses nothing.
import { $, h } from "/static/common/dom.js";

const DRAFT_KEY = "complaint-portal:draft";
const RECEIPT_KEY = "complaint-portal:receipt";
const STEP_KEY = "complaint-portal:step"; // the part on screen, so a reload comes back to it
const LAYOUT_KEY = "complaint-portal:layout"; // "steps" or "page", once the person has chosen
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
  received_on: "Day it was received",
};
// What the review before sending lists, part by part (the last part is the review itself). Staff's own
// questions (how it came in, the day received) stay on screen above every part, so are not repeated.
const REVIEWED = [
  ["kind", "narrative", "occurred_on", "occurred_time", "location", "desired_outcome", "attachments"],
  ["police_service", "officers"],
  [
    "contact_by",
    "name",
    "email",
    "phone",
    "mailing_address",
    "safe_times",
    "ok_to_leave_message",
    "accessibility",
    "interpreter",
  ],
];
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
  if (config?.staff) {
    body.channel = field("channel").value;
    body.received_on = field("received_on").value; // the public door ignores it
  }
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
  if (config?.staff && typeof draft.received_on === "string") field("received_on").value = draft.received_on;
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

// ---- one part at a time ------------------------------------------------------------

const steps = [...form.querySelectorAll("section.step")];
const LAST = steps.length - 1;
let stepped = false; // one part at a time (else every question on one page)
let current = 0; // the part on screen when stepped

/** The part an element is in (the one on screen for anything outside the parts). */
function stepOf(el) {
  const i = steps.findIndex((step) => step.contains(el));
  return i < 0 ? current : i;
}

function stepTitle(i) {
  return steps[i].querySelector(".step-title").lastChild.textContent.trim(); // after "Step n of 4"
}

/** Show part ``i`` (0-based); ``focus``: move the focus to its heading, so the next thing read is where one is. */
function showStep(i, { focus = true } = {}) {
  current = Math.max(0, Math.min(LAST, i));
  steps.forEach((step, j) => (step.hidden = stepped && j !== current));
  if (!stepped) return;
  store(STEP_KEY, current);
  if (current === LAST) renderReview();
  if (focus) {
    steps[current].scrollIntoView({ block: "start" }); // the part's top edge too, not only its heading
    steps[current].querySelector(".step-title").focus({ preventScroll: true });
  }
}

function setLayout(oneAtATime) {
  stepped = oneAtATime;
  form.classList.toggle("stepped", stepped);
  $("#layout-toggle").textContent = stepped ? "Show all the questions on one page" : "Show one part at a time";
  showStep(current, { focus: false });
}

function toggleLayout() {
  setLayout(!stepped);
  store(LAYOUT_KEY, stepped ? "steps" : "page");
}

/** On one page, the part last worked in is the one to come back to in parts. */
function followFocus(ev) {
  if (stepped) return;
  const i = steps.findIndex((step) => step.contains(ev.target));
  if (i >= 0) current = i;
}

/** Back, Next and the review's Change buttons: each names the part it goes to. */
function goToPart(ev) {
  const button = ev.target.closest("button[data-go]");
  if (button) showStep(Number(button.dataset.go) - 1);
}

/** Enter in a field moves on to the next part instead of sending what is not finished. */
function enterMovesOn(ev) {
  const el = ev.target;
  if (ev.key !== "Enter" || !stepped || current === LAST || el.tagName !== "INPUT") return;
  if (["button", "submit", "file"].includes(el.type)) return;
  ev.preventDefault();
  showStep(current + 1);
}

// ---- the review before sending ------------------------------------------------------

/** The words of the chosen radio's label ("A complaint", "By email"), without its hint. */
function chosenLabel(name) {
  const radio = form.querySelector(`input[name="${name}"]:checked`);
  const label = radio && form.querySelector(`label[for="${radio.id}"]`);
  return label ? label.firstChild.textContent.trim() : "";
}

function readableDate(iso) {
  if (!iso) return "";
  const day = new Date(`${iso}T12:00:00`);
  return Number.isNaN(day.getTime()) ? iso : day.toLocaleDateString([], { dateStyle: "long" });
}

/** Whether the review marks an empty answer as still needed (the hub decides at Send; this only points). */
function needed(key, body) {
  if (["kind", "narrative", "police_service", "contact_by"].includes(key)) return true;
  if (key === "email") return body.contact_by === "email";
  if (key === "phone") return body.contact_by === "phone" || body.contact_by === "text";
  return key === "mailing_address" && body.contact_by === "mail";
}

function shownAnswer(key, body) {
  switch (key) {
    case "kind":
    case "contact_by":
      return chosenLabel(key);
    case "occurred_on":
      return readableDate(body[key]);
    case "attachments":
      return [...field("attachments").files].map((file) => file.name).join(", ");
    case "officers":
      return body.officers
        .map((o, i) => [i, [o.name, o.badge && `badge ${o.badge}`, o.description].filter((t) => t?.trim())])
        .filter(([, said]) => said.length)
        .map(([i, said]) => `Officer ${i + 1}: ${said.join(", ")}`)
        .join("\n");
    case "ok_to_leave_message":
      return body.ok_to_leave_message ? "Yes" : "";
    default:
      return (body[key] || "").trim();
  }
}

function renderReview() {
  const body = answers();
  const parts = REVIEWED.map((keys, i) => {
    const title = stepTitle(i);
    const rows = keys.flatMap((key) => {
      const text = shownAnswer(key, body);
      if (!text && !needed(key, body)) return [];
      const answer = text ? h("dd", {}, text) : h("dd", { class: "missing" }, "Not answered yet (required)");
      return [h("dt", {}, SHORT[key]), answer];
    });
    return h(
      "section",
      { class: "review-part", "aria-labelledby": `review-part-${i + 1}` },
      h(
        "div",
        { class: "review-head" },
        h("h4", { id: `review-part-${i + 1}` }, title),
        h(
          "button",
          { type: "button", class: "quiet", "data-go": String(i + 1) },
          "Change",
          h("span", { class: "sr-only" }, ` ${title}`),
        ),
      ),
      h("dl", {}, rows),
    );
  });
  $("#review-parts").replaceChildren(...parts);
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
      if (stepped) showStep(stepOf(target), { focus: false });
      target.focus();
    };
    return h("li", {}, h("a", { href: `#${target.id}`, onclick: go }, text));
  });
  $("#error-list").replaceChildren(...items);
  summary.hidden = false;
  const first = shown.find((s) => s.place);
  if (first) {
    const target = focusTarget(first.place);
    if (stepped) showStep(stepOf(target), { focus: false }); // the part the first problem is in
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
  if (stepped && current !== LAST) {
    showStep(current + 1); // a part not finished yet is not sent
    return;
  }
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
      const kept = { ...answer, contact_by: body.contact_by }; // what the receipt may promise
      store(RECEIPT_KEY, kept);
      store(DRAFT_KEY, null);
      store(STEP_KEY, null);
      showReceipt(kept);
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

/** What happens next, as the person chose it: never a promise of contact to someone who asked for none. */
function contactWords(contactBy) {
  if (contactBy === "none") {
    return {
      next:
        "A case coordinator will read what you sent. You asked us not to contact you, so we will not. To see where" +
        " your file stands, come back to this page at any time and check its status with your file number and" +
        " status code.",
      repeat: "If you changed anything after your first try, you can call us to add it.",
    };
  }
  return {
    next: contactBy
      ? "A case coordinator will read what you sent, and will contact you in the way you chose."
      : "A case coordinator will read what you sent. If you asked us to contact you, we will, in the way you chose.",
    repeat: "If you changed anything after your first try, please tell us about it when we contact you.",
  };
}

function showReceipt(r) {
  $("#file-number").textContent = r.file_number;
  $("#status-code").textContent = r.status_code;
  $("#receipt-message").textContent = r.message || "";
  const words = contactWords(r.contact_by);
  $("#receipt-contact").textContent = words.next;
  $("#receipt-repeat-more").textContent = words.repeat;
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
  if (config.staff) staffDays();
  receipt.hidden = true;
  form.hidden = false;
  showStep(0, { focus: false });
  field("kind")[0].focus();
}

// ---- the status check ------------------------------------------------------------

const statusForm = $("#status-form");
const statusResult = $("#status-result");
const statusError = $("#status-error");
let statusAnswers = 0;

async function checkStatus(ev) {
  ev?.preventDefault();
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
        answer.asked ? replyForm(file_number, status_code, answer.asked) : null,
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

/** While the file waits on the person: what we asked, and a box to answer it in. */
function replyForm(file_number, status_code, asked) {
  const text = h("textarea", { id: "reply-text", rows: "4", maxlength: "5000", required: "" });
  const said = h("p", { id: "reply-said", role: "status", "aria-live": "polite" });
  const send = h("button", { type: "submit", id: "reply-send" }, "Send my answer");
  const form = h(
    "form",
    { id: "reply-form", class: "reply" },
    h("p", {}, h("strong", {}, "We asked you: "), asked),
    h("label", { for: "reply-text" }, "Your answer (you can also call us)"),
    text,
    send,
    said,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!text.value.trim()) {
      said.textContent = "Write your answer first.";
      text.focus();
      return;
    }
    send.disabled = true;
    try {
      const resp = await fetch("/api/complaints/reply", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ file_number, status_code, text: text.value }),
      });
      const answer = await resp.json().catch(() => ({}));
      said.textContent = answer.message || answer.error || `We could not send it (${resp.status}). Please try again.`;
      if (resp.ok) text.disabled = true;
    } catch {
      said.textContent = "We could not reach our server. What you wrote is still here; try again.";
    } finally {
      send.disabled = text.disabled;
    }
  });
  return form;
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

/** Today (YYYY-MM-DD) on this device. Staff's dates use the hub's (config.today) where there is one: the
 *  hub checks them in the agency's time zone. */
function localToday() {
  return new Date().toLocaleDateString("en-CA");
}

function daysBefore(iso, days) {
  const day = new Date(`${iso}T12:00:00Z`);
  day.setUTCDate(day.getUTCDate() - days);
  return day.toISOString().slice(0, 10);
}

/** The day a complaint taken by staff was received: today unless changed, within the last year, never ahead. */
function staffDays() {
  const received = field("received_on");
  const today = config.today || localToday();
  received.max = today;
  received.min = daysBefore(today, 365);
  received.defaultValue = today; // what a reset (a new caller) comes back to
  latestOccurred();
}

/** Staff entry: the day it happened cannot come after the day it was received. */
function latestOccurred() {
  field("occurred_on").max = field("received_on").value || config.today || localToday();
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
    // Check the file just sent, as if its number and code had been typed in and "Check status" pressed.
    $("#s-file").value = $("#file-number").textContent;
    $("#s-code").value = $("#status-code").textContent;
    const title = $("#status-title");
    title.scrollIntoView({ block: "start" });
    title.focus({ preventScroll: true });
    checkStatus();
  });
  $("#clear-form").addEventListener("click", async () => {
    if (!window.confirm("Clear everything you have typed in this form?")) return;
    store(DRAFT_KEY, null);
    form.reset();
    renderOfficers([]);
    clearProblems();
    if (config?.staff) latestOccurred();
    showStep(0, { focus: false });
    // What is typed next is a new submission, not a retry of the one cleared.
    const fresh = await loadConfig();
    if (fresh) submissionId = fresh.submission_id;
    field("kind")[0].focus();
  });
  statusForm.addEventListener("submit", checkStatus);
  form.addEventListener("click", goToPart);
  form.addEventListener("keydown", enterMovesOn);
  form.addEventListener("focusin", followFocus);
  $("#layout-toggle").addEventListener("click", toggleLayout);
  field("occurred_on").max = localToday(); // YYYY-MM-DD, local
  // One part at a time until told otherwise; from where this tab last was.
  const layout = readStored(LAYOUT_KEY);
  const step = readStored(STEP_KEY);
  current = Number.isInteger(step) ? step : 0;
  setLayout(layout !== "page");
  $("#form-tools").hidden = false;

  const loaded = await loadConfig();
  if (!loaded) return;
  config = loaded;
  const select = field("police_service");
  select.append(...config.police_services.map((name) => h("option", { value: name }, name)));
  applyLimits(config.limits);
  const mb = Math.floor(config.attachments.max_bytes / (1024 * 1024));
  $("#c-attachments-hint").prepend(`Up to ${config.attachments.max} files of up to ${mb} MB each. `);
  if (config.staff) {
    staffMode(config.staff);
    field("received_on").addEventListener("change", latestOccurred);
    if (layout === null) setLayout(false); // taking a call, the caller jumps around: every question at once
  }

  const draft = readStored(DRAFT_KEY);
  const kept = typeof draft?.submission_id === "string" && SUBMISSION_ID.test(draft.submission_id);
  submissionId = kept ? draft.submission_id : config.submission_id;
  if (config.staff) staffDays();
  if (draft) restore(draft);
  else renderOfficers([]);
  if (config.staff) latestOccurred();
  submitButton.disabled = false;
  const done = readStored(RECEIPT_KEY);
  if (done?.file_number) showReceipt(done);
}

start();
