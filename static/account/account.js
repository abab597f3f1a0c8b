// Your own account: turn on a second factor (a QR code for an authenticator app,
// checked with one code, then recovery codes shown once), replace it or its
// recovery codes, and see or end where you are signed in. A role that must have
// a second factor lands here after its password until it has set one up.
import { $, announce, h } from "/static/common/dom.js";
import { browserName } from "/static/common/format.js";
import { signOut } from "/static/common/session.js";

const when = (ms) => new Date(ms).toLocaleString();

function problem(text) {
  const el = $("#problem");
  el.textContent = text || "";
  el.hidden = !text;
}

async function call(method, url, body) {
  const init = { method, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(url, init);
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401) {
    location.assign(`/signin/?next=${encodeURIComponent(location.pathname)}`);
    throw new Error("signed out");
  }
  return { ok: resp.ok, status: resp.status, data };
}

let me = null;

function showState() {
  const factor = me.second_factor;
  const state = $("#factor-state");
  if (factor.enrolled) {
    state.replaceChildren(
      h("span", { class: "state-on" }, "✔ On."),
      ` Signing in asks for a code from your phone. Recovery codes left: ${factor.recovery_codes_left}.`,
    );
  } else if (factor.required) {
    state.replaceChildren(
      h("span", { class: "state-off" }, "⚠ Needed."),
      ` As a ${me.role.replace("_", " ")} you must sign in with a second factor. Set it up now to go on.`,
    );
  } else {
    state.replaceChildren(
      h("span", { class: "state-off" }, "Off."),
      " You may turn it on: signing in will then ask for a code from your phone as well as your password.",
    );
  }
  $("#manage").hidden = !factor.enrolled;
  $("#remove").hidden = factor.required;
  $("#home").hidden = me.scope === "enrol";
  $("#start").hidden = factor.enrolled || !$("#enrol").hidden || !$("#codes").hidden;
}

function showSessions() {
  const rows = me.sessions.map((s) =>
    h(
      "tr",
      { class: s.current ? "current" : "" },
      h("td", {}, when(s.issued_at)),
      h("td", {}, when(s.expires_at)),
      h("td", {}, s.via.replaceAll("_", " ")),
      h("td", { class: "nowrap" }, s.address || "-"),
      h("td", { title: s.agent || "" }, browserName(s.agent)),
    ),
  );
  $("#sessions").replaceChildren(...rows);
}

async function load() {
  const got = await call("GET", "/api/account");
  if (!got.ok) {
    problem(got.data.error || `Your account could not be loaded (${got.status}).`);
    return;
  }
  me = got.data;
  $("#whoami").textContent = `${me.user} (${me.role})`;
  showState();
  showSessions();
}

async function start() {
  problem("");
  const got = await call("POST", "/api/account/second-factor", {});
  if (!got.ok) {
    problem(got.data.error || `The set-up could not start (${got.status}).`);
    return;
  }
  $("#qr").src = got.data.qr;
  $("#secret").textContent = got.data.secret.replace(/(.{4})/g, "$1 ").trim();
  $("#enrol").hidden = false;
  $("#manage").hidden = true;
  $("#start").hidden = true;
  $("#confirm-code").value = "";
  $("#confirm-code").focus();
  announce("Scan the QR code with your authenticator app, then type the code it shows.");
}

function showCodes(codes) {
  $("#code-list").replaceChildren(...codes.map((c) => h("li", {}, c)));
  $("#codes").hidden = false;
  $("#codes-done").focus();
}

$("#confirm").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  problem("");
  const got = await call("POST", "/api/account/second-factor/confirm", { code: $("#confirm-code").value.trim() });
  if (!got.ok) {
    problem(got.data.error || `That did not work (${got.status}).`);
    $("#confirm-code").select();
    return;
  }
  $("#enrol").hidden = true;
  me.second_factor = { ...me.second_factor, enrolled: true, recovery_codes_left: got.data.recovery_codes.length };
  showCodes(got.data.recovery_codes);
  showState();
  $("#manage").hidden = true;
  announce("Second factor on. Keep your recovery codes.");
});

$("#codes-done").addEventListener("click", async () => {
  $("#codes").hidden = true;
  if (me.scope === "enrol") {
    location.assign("/");
    return;
  }
  await load();
});

$("#restart").addEventListener("click", start);
$("#start").addEventListener("click", start);

$("#new-codes").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  problem("");
  const got = await call("POST", "/api/account/recovery-codes", { code: $("#new-codes-code").value.trim() });
  if (!got.ok) {
    problem(got.data.error || `That did not work (${got.status}).`);
    return;
  }
  $("#new-codes-code").value = "";
  showCodes(got.data.recovery_codes);
});

$("#remove").addEventListener("click", async () => {
  problem("");
  if (!confirm("Turn off the second factor? Signing in will then take your password alone.")) return;
  const got = await call("POST", "/api/account/second-factor/remove", { code: $("#new-codes-code").value.trim() });
  if (!got.ok) {
    problem(got.data.error || `That did not work (${got.status}). Type a current code first.`);
    return;
  }
  $("#new-codes-code").value = "";
  announce("Second factor turned off.");
  await load();
});

$("#everywhere").addEventListener("click", async () => {
  if (!confirm("Sign out on every device, this one too?")) return;
  await call("POST", "/api/account/sign-out-everywhere", {}).catch(() => {});
  location.assign("/signin/");
});

$("#signout").addEventListener("click", signOut);
await load();
if (new URLSearchParams(location.search).has("enrol") && me && !me.second_factor.enrolled) await start();
