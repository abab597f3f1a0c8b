// Sign in: POST /api/login sets the HttpOnly cookie; then go where the user was
// heading, or to the role's home (as server/http/pages.py home_for: board for the desk,
// app for officers, the referral form for 311 staff, the portal for case staff).
// An account with a second factor answers a challenge with a code first; a role
// that must have one and has none yet goes to the account page to set it up.
const form = document.getElementById("signin");
const error = document.getElementById("signin-error");
const button = document.getElementById("signin-button");
const codeForm = document.getElementById("second-factor");
const codeError = document.getElementById("code-error");
const codeButton = document.getElementById("code-button");

const HOMES = {
  officer: "/officer/",
  intake_311: "/referral/",
  case_coordinator: "/cases/",
  team_lead: "/cases/",
  access_staff: "/access/",
};

/** Where ?next= may send us: a path of this site only. "//host", "/\host" and the like are
 * refused before the browser can read them as another site, and what is followed is the
 * resolved absolute URL (never a path the browser could re-read as protocol-relative). */
export function safeNext(next, origin, fallback) {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return fallback;
  try {
    const url = new URL(next, origin);
    if (url.origin !== origin || url.pathname.startsWith("//")) return fallback;
    return url.href;
  } catch {
    return fallback;
  }
}

function destination(role) {
  const home = HOMES[role] || "/board/";
  return safeNext(new URLSearchParams(location.search).get("next"), location.origin, home);
}

let challenge = null;

async function post(url, body) {
  const resp = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  return { resp, body: await resp.json().catch(() => ({})) };
}

function signedIn(body) {
  if (body.scope === "enrol") location.assign("/account/?enrol=1");
  else location.assign(destination(body.role));
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.textContent = "";
  const user = form.user.value.trim();
  const password = form.password.value;
  if (!user || !password) {
    error.textContent = "Enter your user name and password.";
    (user ? form.password : form.user).focus();
    return;
  }
  button.disabled = true;
  try {
    const { resp, body } = await post("/api/login", { user, password });
    if (!resp.ok) {
      error.textContent = body.error || `Sign-in failed (${resp.status}).`;
      form.password.select();
      return;
    }
    if (body.second_factor === "required") {
      challenge = body.challenge;
      document.getElementById("code-user").textContent = body.user;
      form.hidden = true;
      codeForm.hidden = false;
      codeForm.code.value = "";
      codeForm.code.focus();
      return;
    }
    signedIn(body);
  } catch {
    error.textContent = "Cannot reach the hub. Check the network and try again.";
  } finally {
    button.disabled = false;
  }
});

codeForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  codeError.textContent = "";
  const code = codeForm.code.value.trim();
  if (!code) {
    codeError.textContent = "Enter the code from your authenticator app.";
    codeForm.code.focus();
    return;
  }
  codeButton.disabled = true;
  try {
    const { resp, body } = await post("/api/login/second-factor", { challenge, code });
    if (!resp.ok) {
      codeError.textContent = body.error || `Sign-in failed (${resp.status}).`;
      if (resp.status === 401 && /password/.test(body.error || "")) backToPassword();
      else codeForm.code.select();
      return;
    }
    signedIn(body);
  } catch {
    codeError.textContent = "Cannot reach the hub. Check the network and try again.";
  } finally {
    codeButton.disabled = false;
  }
});

function backToPassword() {
  challenge = null;
  codeForm.hidden = true;
  form.hidden = false;
  form.password.value = "";
  form.password.focus();
}

document.getElementById("code-back").addEventListener("click", backToPassword);
