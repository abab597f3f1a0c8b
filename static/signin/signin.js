// Sign in: POST /api/login sets the HttpOnly cookie; then go where the user was
// heading, or to the role's home (as server/web.py home_for: board for the desk,
// app for officers, the referral form for 311 staff, the portal for case staff).
const form = document.getElementById("signin");
const error = document.getElementById("signin-error");
const button = document.getElementById("signin-button");

const HOMES = {
  officer: "/officer/",
  intake_311: "/referral/",
  case_coordinator: "/complaint/",
  team_lead: "/complaint/",
};

function destination(role) {
  const home = HOMES[role] || "/board/";
  const next = new URLSearchParams(location.search).get("next");
  if (!next) return home;
  // Only a page of this site: whatever the browser would make of it, the origin must be ours.
  try {
    const url = new URL(next, location.origin);
    return url.origin === location.origin ? url.pathname + url.search : home;
  } catch {
    return home;
  }
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
    const resp = await fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ user, password }),
    });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      error.textContent = body.error || `Sign-in failed (${resp.status}).`;
      form.password.select();
      return;
    }
    location.assign(destination(body.role));
  } catch {
    error.textContent = "Cannot reach the hub. Check the network and try again.";
  } finally {
    button.disabled = false;
  }
});
