// The response-time report (GET /api/reports/response-times) for a range of
// days: a table per priority (calls, percentiles of time to first dispatch,
// target, share within target) that holds every number the charts draw, then
// Chart.js charts of the 90th percentile against each priority's target and of
// the share within target against the 90% goal; and tables per day and type.
import { $, h } from "/static/common/dom.js";
import { deskPage, api, markFields, problem, say } from "/static/desk/desk.js";

const me = await deskPage();

const GOAL = 0.9; // NFPA 1225: 90% of calls dispatched within target
const DAY = 86_400_000;
const form = $("#range-form");
const charts = { p90: null, share: null };

/** Seconds as a dispatcher reads them: "42.0 s", "6.5 min", "2.0 h"; "-" for none. */
function secs(s) {
  if (s === null || s === undefined) return "-";
  if (s < 90) return `${s.toFixed(1)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
const pct = (x) => (x === null || x === undefined ? "-" : `${(x * 100).toFixed(1)}%`);

/** A <input type=date> value as the local midnight that starts it (ms). */
function dayStart(text) {
  const [y, m, d] = text.split("-").map(Number);
  return new Date(y, m - 1, d).getTime();
}
function dayText(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}
function lastDays(n) {
  const today = new Date();
  form.elements.until.value = dayText(today);
  form.elements.since.value = dayText(new Date(today.getFullYear(), today.getMonth(), today.getDate() - (n - 1)));
}

/** NFPA-style: the goal is met when 90% of the calls were dispatched within target (a call never
 * dispatched counts against it, so a 90th percentile under target with calls left waiting can still miss). */
function verdict(row) {
  if (!row.calls) return h("span", { class: "muted" }, "no calls");
  const none = row.dispatched ? "" : " (none dispatched)";
  return row.within_target >= GOAL
    ? h("span", { class: "met" }, "\u2713 Met")
    : h("span", { class: "missed" }, `\u2717 Missed${none}`);
}

/** Every priority of the policy, with the report's numbers where it had calls. */
function priorityRows(report) {
  return Object.entries(me.priorities)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([n, level]) => ({
      key: `P${n}`,
      label: level.label,
      colour: level.colour,
      calls: 0,
      dispatched: 0,
      ...report.by_priority[`P${n}`],
      target_s: report.by_priority[`P${n}`]?.target_s ?? level.target_dispatch_s,
    }));
}

function showPriorities(rows) {
  $("#priority-rows").replaceChildren(
    ...rows.map((r) =>
      h(
        "tr",
        { dataset: { priority: r.key } },
        h("th", { scope: "row" }, r.label),
        h("td", { class: "num" }, String(r.calls)),
        h("td", { class: "num" }, String(r.dispatched)),
        h("td", { class: "num" }, secs(r.p50_s)),
        h("td", { class: "num p90" }, secs(r.p90_s)),
        h("td", { class: "num" }, secs(r.p95_s)),
        h("td", { class: "num" }, secs(r.max_s)),
        h("td", { class: "num target" }, secs(r.target_s)),
        h("td", { class: "num within" }, r.calls ? pct(r.within_target) : "-"),
        h("td", { class: "verdict" }, verdict(r)),
      ),
    ),
  );
}

function showSummaries(tbody, summaries, empty) {
  const entries = Object.entries(summaries);
  tbody.replaceChildren(
    ...(entries.length
      ? entries.map(([name, s]) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, name),
            h("td", { class: "num" }, String(s.calls)),
            h("td", { class: "num" }, String(s.dispatched)),
            h("td", { class: "num" }, secs(s.p50_s)),
            h("td", { class: "num" }, secs(s.p90_s)),
          ),
        )
      : [h("tr", {}, h("td", { colspan: "5", class: "empty" }, empty))]),
  );
}

// ---- charts -------------------------------------------------------------------------

function drawCharts(rows) {
  const Chart = window.Chart;
  if (!Chart) {
    problem("The charts could not be drawn: Chart.js did not load (make serve installs it). The table has every number.", "#chart-problem");
    return;
  }
  Chart.defaults.color = "#f1f5f9";
  Chart.defaults.borderColor = "#334155";
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  const labels = rows.map((r) => r.key);
  const common = { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: "bottom" } } };
  // a log scale has no zero: a call dispatched at once is drawn at 0.1 s (its tooltip and the table say what it was)
  const p90 = {
    data: {
      labels,
      datasets: [
        { type: "bar", label: "90th percentile (s)", data: rows.map((r) => (r.p90_s === undefined || r.p90_s === null ? null : Math.max(r.p90_s, 0.1))), backgroundColor: rows.map((r) => r.colour), order: 2 },
        { type: "line", label: "Target (s)", data: rows.map((r) => r.target_s), borderColor: "#fde047", backgroundColor: "#fde047",
          borderDash: [6, 4], pointStyle: "rectRot", pointRadius: 5, order: 1 },
      ],
    },
    options: {
      ...common,
      scales: {
        y: {
          type: "logarithmic",
          title: { display: true, text: "time to dispatch (log scale)" },
          ticks: { callback: (v) => (Number.isInteger(Math.log10(v)) ? secs(v) : "") },
        },
      },
      plugins: { ...common.plugins, tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${secs(c.datasetIndex ? rows[c.dataIndex].target_s : rows[c.dataIndex].p90_s)}` } } },
    },
  };
  const share = {
    data: {
      labels,
      datasets: [
        { type: "bar", label: "Within target (%)", data: rows.map((r) => (r.calls ? +(r.within_target * 100).toFixed(1) : null)),
          backgroundColor: rows.map((r) => r.colour), order: 2 },
        { type: "line", label: "Goal: 90%", data: rows.map(() => GOAL * 100), borderColor: "#fde047", borderDash: [6, 4],
          pointRadius: 0, order: 1 },
      ],
    },
    options: { ...common, scales: { y: { min: 0, max: 100, title: { display: true, text: "% of calls" } } } },
  };
  for (const [name, config, canvas] of [["p90", p90, "#p90-chart"], ["share", share, "#share-chart"]]) {
    if (charts[name]) {
      charts[name].data = config.data;
      charts[name].update();
    } else {
      charts[name] = new Chart($(canvas), config);
    }
  }
  problem("", "#chart-problem");
}

// ---- loading ---------------------------------------------------------------------------

async function load() {
  markFields(form, null);
  const { since: from, until: to } = Object.fromEntries(new FormData(form));
  if (!from || !to) {
    markFields(form, from ? { until: 1 } : { since: 1 });
    return problem("No report: choose both days.");
  }
  const since = dayStart(from);
  const until = dayStart(to) + DAY;
  if (since >= until) {
    markFields(form, { since: 1, until: 1 });
    return problem("No report: the first day must not be after the last.");
  }
  history.replaceState(null, "", `?since=${from}&until=${to}`);
  say("Loading the report…");
  try {
    const report = await api("GET", `/api/reports/response-times?since=${since}&until=${until}`);
    const rows = priorityRows(report);
    showPriorities(rows);
    showSummaries($("#day-rows"), report.by_day, "No calls on these days.");
    showSummaries($("#type-rows"), report.by_type, "No calls on these days.");
    drawCharts(rows);
    const calls = rows.reduce((n, r) => n + r.calls, 0);
    const missed = rows.filter((r) => r.calls && r.within_target < GOAL).map((r) => r.key);
    const goal = missed.length ? `Under 90% within target: ${missed.join(", ")}.` : "Every priority with calls met the 90% goal.";
    say(calls ? `${calls} call${calls === 1 ? "" : "s"} from ${from} to ${to}. ${goal}` : `No calls from ${from} to ${to}.`);
  } catch (err) {
    say("");
    problem(`The report could not be made: ${err.message}`);
  }
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  void load();
});
for (const button of form.querySelectorAll("button[data-days]")) {
  button.addEventListener("click", () => {
    lastDays(Number(button.dataset.days));
    void load();
  });
}

const given = new URLSearchParams(location.search);
if (/^\d{4}-\d\d-\d\d$/.test(given.get("since") || "") && /^\d{4}-\d\d-\d\d$/.test(given.get("until") || "")) {
  form.elements.since.value = given.get("since");
  form.elements.until.value = given.get("until");
} else {
  lastDays(7);
}
await load();
