// Who is signed in (GET /api/me) and signing out. Pages call signedIn() first.

// Where a page that must open with no network (the officer app) keeps the last answer.
const KEPT_PREFIX = "dispatch-me:";

/**
 * Who is signed in. With `keep` (a name), the answer is kept in this browser's
 * storage and given back when there is no network, marked `offline: true`, with
 * `server_time` moved on by the time since; signing out forgets it.
 */
export async function signedIn(expectRole, { keep = null } = {}) {
  let resp;
  try {
    resp = await fetch("/api/me", { credentials: "same-origin" });
    if (resp.status >= 500) throw new Error(`the hub answered ${resp.status}`);
  } catch (err) {
    const kept = keep ? keptMe(keep) : null;
    if (!kept) throw err;
    return kept;
  }
  if (resp.status === 401) {
    if (keep) localStorage.removeItem(KEPT_PREFIX + keep);
    location.assign(`/signin/?next=${encodeURIComponent(location.pathname)}`);
    throw new Error("not signed in");
  }
  const me = await resp.json();
  if (expectRole && !expectRole(me.role)) {
    location.assign("/");
    throw new Error("wrong page for this role");
  }
  if (keep) localStorage.setItem(KEPT_PREFIX + keep, JSON.stringify({ me, kept_at: Date.now() }));
  return me;
}

function keptMe(name) {
  try {
    const { me, kept_at: keptAt } = JSON.parse(localStorage.getItem(KEPT_PREFIX + name) || "null") || {};
    if (!me) return null;
    return { ...me, server_time: me.server_time + (Date.now() - keptAt), offline: true };
  } catch {
    return null;
  }
}

export async function signOut() {
  for (const key of Object.keys(localStorage)) if (key.startsWith(KEPT_PREFIX)) localStorage.removeItem(key);
  await fetch("/api/logout", { method: "POST", credentials: "same-origin" });
  location.assign("/signin/");
}

/** The connection state as words and a class, for the header pill. */
export function connectionText(state, reason, pending = 0) {
  const waiting = pending ? ` (${pending} waiting to send)` : "";
  switch (state) {
    case "live":
      return { text: `Live${waiting}`, cls: "ok" };
    case "connecting":
    case "syncing":
      return { text: `Connecting${waiting}`, cls: "warn" };
    case "reconnecting":
      return { text: `Reconnecting: ${reason || "connection lost"}${waiting}`, cls: "bad" };
    case "offline":
      return { text: `Offline: no network${waiting}`, cls: "bad" };
    case "stopped":
      return { text: `Disconnected: ${reason}`, cls: "bad" };
    default:
      return { text: state, cls: "warn" };
  }
}
