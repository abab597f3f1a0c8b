// Case reports: the trend and caseload tables (GET /api/cases/reports/trends) with charts and a
// CSV of each; the publishable delay report for a day; for the team lead, early-warning flags;
// reviews of concluded files and the month's file audit, each with its checklist.
import { $, h } from "/static/common/dom.js";
import { signOut, signedIn } from "/static/common/session.js";
import { api, problem, say } from "/static/desk/desk.js";

const CASE_ROLES = new Set(["case_coordinator", "team_lead", "admin"]);
const me = await signedIn((role) => CASE_ROLES.has(role));
$("#whoami").textContent = `${me.user} (${me.role.replace("_", " ")})`;
$("#signout").addEventListener("click", signOut);
const lead = me.role === "team_lead";
const when = (ms) => (ms ? new Date(ms).toLocaleString([], { dateStyle: "medium", timeStyle: "short", hour12: false }) : "");
const iso = (d) => d.toISOString().slice(0, 10);
const charts = {};
const COLOURS = ["#60a5fa", "#f472b6", "#34d399", "#fbbf24", "#a78bfa", "#f87171", "#2dd4bf", "#fb923c", "#94a3b8", "#e879f9"];

function table(t, query) {
  const csv = `/api/cases/reports/trends.csv?${new URLSearchParams({ ...query, table: t.name })}`;
  return h("section", { class: "report-table", "aria-label": t.title },
    h("h3", {}, t.title, " ", h("a", { href: csv, download: "", class: "csv", dataset: { table: t.name } }, "Download CSV")),
    h("table", { class: "grid" }, h("caption", { class: "sr-only" }, t.title),
      h("thead", {}, h("tr", {}, ...t.columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, ...(t.rows.length ? t.rows.map((r) => h("tr", {}, ...r.map((v, i) => h(i ? "td" : "th", i ? { class: "num" } : { scope: "row" }, v === null ? "-" : String(v)))))
        : [h("tr", {}, h("td", { colspan: String(t.columns.length), class: "empty" }, "Nothing in this period."))]))));
}

function draw(name, canvas, config) {
  const Chart = window.Chart;
  if (!Chart) {
    problem("The charts could not be drawn: Chart.js did not load (make serve installs it). The tables have every number.", "#chart-problem");
    return;
  }
  Chart.defaults.color = "#f1f5f9";
  Chart.defaults.borderColor = "#334155";
  if (charts[name]) charts[name].destroy();
  charts[name] = new Chart($(canvas), { ...config, options: { responsive: true, maintainAspectRatio: false, animation: false,
    plugins: { legend: { position: "bottom" } }, ...(config.options || {}) } });
}

function drawTrends(byName) {
  const svc = byName.by_service;
  const months = svc.columns.slice(1, -1);
  draw("service", "#service-chart", { type: "bar", data: { labels: months, datasets: svc.rows.slice(0, 10).map((r, i) =>
    ({ label: r[0], data: r.slice(1, -1), backgroundColor: COLOURS[i % COLOURS.length] })) },
    options: { scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "files" } } } } });
  const types = byName.by_allegation_type;
  draw("type", "#type-chart", { type: "bar", data: { labels: types.rows.map((r) => r[0]),
    datasets: [{ label: "allegations", data: types.rows.map((r) => r[r.length - 1]), backgroundColor: "#60a5fa" }] },
    options: { indexAxis: "y" } });
  const clocks = byName.clocks;
  draw("clock", "#clock-chart", { type: "bar", data: { labels: clocks.rows.map((r) => r[0]),
    datasets: [{ label: "% met on time", data: clocks.rows.map((r) => r[r.length - 1]), backgroundColor: "#34d399" }] },
    options: { scales: { y: { min: 0, max: 100 } } } });
  const ms = byName.milestones;
  draw("milestone", "#milestone-chart", { type: "bar", data: { labels: ms.rows.map((r) => r[0]), datasets: [
    { label: "median days", data: ms.rows.map((r) => r[2]), backgroundColor: "#60a5fa" },
    { label: "90th percentile days", data: ms.rows.map((r) => r[3]), backgroundColor: "#fbbf24" }] } });
  problem("", "#chart-problem");
}

async function loadTrends() {
  const query = Object.fromEntries(new FormData($("#window")));
  try {
    const { tables } = await api("GET", `/api/cases/reports/trends?${new URLSearchParams(query)}`);
    const byName = Object.fromEntries(tables.map((t) => [t.name, t]));
    $("#tables").replaceChildren(...tables.map((t) => table(t, query)));
    drawTrends(byName);
    say(`Trends for files received ${query.since} to ${query.until}.`);
  } catch (err) {
    problem(`The trends could not be loaded: ${err.message}`);
  }
}

async function loadDelay() {
  const on = $("#delay-on").value;
  $("#delay-html").href = `/api/cases/reports/delay?on=${on}&format=html`;
  $("#delay-pdf").href = `/api/cases/reports/delay?on=${on}&format=pdf`;
  try {
    const report = await api("GET", `/api/cases/reports/delay?on=${on}`);
    const cols = ["File", "Police service", "Received", "Days open", "Days past target", "Why it is late", "Expected", "What is being done"];
    $("#delay-rows").replaceChildren(h("p", {}, `${report.files.length} file${report.files.length === 1 ? "" : "s"} past the ${report.target_days}-day target on ${report.day}.`),
      h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ...cols.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, ...report.files.map((r) => h("tr", {}, ...[r.file_number, r.police_service, r.received, r.days_open, r.days_late, r.reason || "not recorded", r.expected || "not set", r.doing || "not recorded"].map((v) => h("td", {}, String(v))))))));
  } catch (err) {
    problem(`The delay report could not be loaded: ${err.message}`);
  }
}

async function loadWarnings() {
  if (!lead) return;
  $("#warnings").hidden = false;
  try {
    const { warnings } = await api("GET", "/api/cases/warnings");
    $("#warning-rows").replaceChildren(warnings.length ? h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ...["Raised", "Officer", "Service", "Threshold", "Allegations", "Files", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, ...warnings.map((w) => h("tr", {}, h("td", {}, when(w.raised_at)),
        h("td", {}, h("button", { type: "button", class: "quiet", onclick: () => history(w) },
          [w.officer_name, w.officer_badge && `#${w.officer_badge}`].filter(Boolean).join(" ") || `officer ${w.officer}`)),
        h("td", {}, w.service), h("td", {}, w.rule), h("td", { class: "num" }, String(w.count)), h("td", {}, w.files.join(", ")),
        h("td", {}, w.seen_at ? `seen by ${w.seen_by}` : h("button", { type: "button", onclick: () => seen(w.id) }, "Mark seen"))))))
      : h("p", { class: "help" }, "No flags."));
  } catch (err) {
    problem(`The flags could not be loaded: ${err.message}`);
  }
}

async function history(w) {
  try {
    const { allegations } = await api("GET", `/api/cases/officers/${w.officer}`);
    const name = [w.officer_name, w.officer_badge && `#${w.officer_badge}`].filter(Boolean).join(" ");
    $("#officer-history").replaceChildren(h("h3", { tabindex: "-1", id: "history-title" }, `${name}, ${w.service}: every allegation, oldest first`),
      h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ...["Received", "File", "Allegation", "Tier", "Level", "Finding", "Stage"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, ...allegations.map((a) => h("tr", {}, h("td", {}, when(a.received_at)), h("td", {}, h("a", { href: `/cases/#${a.file_number}` }, a.file_number)),
          h("td", {}, a.type.replace(/_/g, " ")), h("td", { class: "num" }, String(a.tier)), h("td", { class: "num" }, a.level ? String(a.level) : "-"),
          h("td", {}, (a.finding || "not decided").replace(/_/g, " ")), h("td", {}, a.stage))))));
    $("#history-title").focus();
  } catch (err) {
    problem(`The officer's history could not be loaded: ${err.message}`);
  }
}

async function seen(id) {
  try {
    await api("POST", `/api/cases/warnings/${id}/seen`);
    await loadWarnings();
  } catch (err) {
    problem(err.message);
  }
}

let reviewLists = null;
async function loadReviews() {
  $("#draw").hidden = !lead;
  try {
    reviewLists = await api("GET", "/api/cases/reviews");
    const rows = reviewLists.reviews;
    $("#review-rows").replaceChildren(rows.length ? h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ...["Review", "File", "Service", "Period", "Findings", "State"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, ...rows.map((r) => h("tr", {}, h("td", {}, r.kind === "audit" ? "File audit" : "Compliance"),
        h("td", {}, h("a", { href: `/cases/#${r.file_number}` }, r.file_number)), h("td", {}, r.police_service), h("td", {}, r.period),
        h("td", {}, r.findings.join(", ") || "-"),
        h("td", {}, r.done_at ? `done by ${r.reviewer}` : h("button", { type: "button", onclick: () => reviewForm(r) }, "Review"))))))
      : h("p", { class: "help" }, "No reviews yet."));
  } catch (err) {
    problem(`The reviews could not be loaded: ${err.message}`);
  }
}

function reviewForm(r) {
  const items = reviewLists.checklists[r.kind];
  const form = h("form", { class: "act-form", id: "review", onsubmit: (ev) => (ev.preventDefault(), saveReview(r, form)) },
    h("h3", {}, `${r.kind === "audit" ? "File audit" : "Compliance review"} of ${r.file_number}`),
    ...items.map((i) => h("fieldset", {}, h("legend", {}, i.label), ...["yes", "no", "n/a"].map((v) =>
      h("label", {}, h("input", { type: "radio", name: i.key, value: v, checked: r.checklist[i.key] === v }), ` ${v}`)))),
    h("label", { for: "review-notes" }, "Notes"), h("textarea", { id: "review-notes", name: "notes", rows: "3" }, r.notes),
    h("label", {}, h("input", { type: "checkbox", name: "done" }), " This review is done"),
    h("button", { type: "submit" }, "Save the review"));
  $("#review-form").replaceChildren(form);
  form.querySelector("input")?.focus();
}

async function saveReview(r, form) {
  const data = new FormData(form);
  const answers = {};
  for (const i of reviewLists.checklists[r.kind]) if (data.get(i.key)) answers[i.key] = data.get(i.key);
  try {
    await api("POST", `/api/cases/reviews/${r.id}`, { answers, notes: data.get("notes") || "", done: data.get("done") === "on" });
    $("#review-form").replaceChildren();
    say("Review saved.");
    await loadReviews();
  } catch (err) {
    problem(err.message);
  }
}

const today = new Date();
$("#until").value = iso(new Date(today.getTime() + 86_400_000));
$("#since").value = iso(new Date(today.getTime() - 365 * 86_400_000));
$("#delay-on").value = iso(today);
$("#draw-month").value = iso(today).slice(0, 7);
$("#window").addEventListener("submit", (ev) => (ev.preventDefault(), loadTrends()));
$("#delay").addEventListener("submit", (ev) => (ev.preventDefault(), loadDelay()));
$("#draw").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const got = await api("POST", "/api/cases/reviews/draw", { period: $("#draw-month").value });
    say(`${got.reviews.length} file${got.reviews.length === 1 ? "" : "s"} drawn for the ${got.period} audit.`);
    await loadReviews();
  } catch (err) {
    problem(err.message);
  }
});
await Promise.all([loadTrends(), loadDelay(), loadWarnings(), loadReviews()]);
document.body.dataset.ready = "1";
