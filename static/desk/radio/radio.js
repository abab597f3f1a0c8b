// Radio-log search (GET /api/radio): words (full text, every word required),
// a unit, an incident and a time range; the results in a table, newest first.
// The search is kept in the address, so a reload or a shared link shows it again.
import { $, h } from "/static/common/dom.js";
import { api, deskPage, markFields, problem, say } from "/static/desk/desk.js";

await deskPage();

const form = $("#search-form");
const FIELDS = ["q", "unit", "incident", "since", "until", "limit"];
const stamp = (ms) =>
  new Date(ms).toLocaleString([], { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

/** datetime-local text (local time) -> ms, or null when empty. */
function ms(text) {
  if (!text) return null;
  const t = new Date(text).getTime();
  return Number.isNaN(t) ? NaN : t;
}

function row(e) {
  return h(
    "tr",
    {},
    h("td", {}, h("time", { datetime: new Date(e.at).toISOString() }, stamp(e.at))),
    h("td", {}, e.channel),
    h("td", {}, e.unit || ""),
    h("td", {}, e.incident || ""),
    h("td", {}, e.by),
    h("td", { class: "wrap" }, e.text),
  );
}

async function search() {
  const get = (name) => form.elements[name].value.trim();
  const query = new URLSearchParams();
  for (const name of ["q", "unit", "incident"]) if (get(name)) query.set(name, get(name));
  const since = ms(get("since"));
  const until = ms(get("until"));
  markFields(form, null);
  if (Number.isNaN(since) || Number.isNaN(until)) {
    markFields(form, Number.isNaN(since) ? { since: 1 } : { until: 1 });
    return problem("Not searched: a time is not a date and time.");
  }
  if (since !== null && until !== null && since >= until) {
    markFields(form, { since: 1, until: 1 });
    return problem("Not searched: From must be before To.");
  }
  if (since !== null) query.set("since", String(since));
  if (until !== null) query.set("until", String(until));
  query.set("limit", get("limit"));
  const kept = new URLSearchParams(FIELDS.filter((n) => get(n)).map((n) => [n, get(n)]));
  history.replaceState(null, "", `?${kept}`);
  say("Searching…");
  try {
    const { entries } = await api("GET", `/api/radio?${query}`);
    $("#rows").replaceChildren(
      ...(entries.length ? entries.map(row) : [h("tr", {}, h("td", { colspan: "6", class: "empty" }, "No entries match."))]),
    );
    const more = entries.length === Number(get("limit")) ? " (the most shown: narrow the search for older ones)" : "";
    say(entries.length ? `${entries.length} entr${entries.length === 1 ? "y" : "ies"} found${more}.` : "No entries match this search.");
  } catch (err) {
    say("");
    markFields(form, err.errors);
    problem(`The search failed: ${err.message}`);
  }
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  void search();
});
$("#clear").addEventListener("click", () => {
  form.reset();
  markFields(form, null);
  $("#rows").replaceChildren();
  history.replaceState(null, "", location.pathname);
  say("");
  $("#q").focus();
});

const given = new URLSearchParams(location.search);
for (const name of FIELDS) if (given.get(name)) form.elements[name].value = given.get(name);
await search(); // the newest entries first, or the search in the address
