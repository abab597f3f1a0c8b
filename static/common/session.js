// Who is signed in (GET /api/me) and signing out. Pages call signedIn() first.

export async function signedIn(expectRole) {
  const resp = await fetch("/api/me", { credentials: "same-origin" });
  if (resp.status === 401) {
    location.assign(`/signin/?next=${encodeURIComponent(location.pathname)}`);
    throw new Error("not signed in");
  }
  const me = await resp.json();
  if (expectRole && !expectRole(me.role)) {
    location.assign("/");
    throw new Error("wrong page for this role");
  }
  return me;
}

export async function signOut() {
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
    case "stopped":
      return { text: `Disconnected: ${reason}`, cls: "bad" };
    default:
      return { text: state, cls: "warn" };
  }
}
