// Times and durations as a dispatcher reads them.

export function clock(ms) {
  if (!ms) return "";
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

/** 75000 -> "1:15"; 3_700_000 -> "1:01:40"; negative durations get a minus sign. */
export function duration(ms) {
  const sign = ms < 0 ? "-" : "";
  let s = Math.floor(Math.abs(ms) / 1000);
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const minutes = Math.floor(s / 60);
  const seconds = String(s - minutes * 60).padStart(2, "0");
  return hours ? `${sign}${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${sign}${minutes}:${seconds}`;
}

export const STATUS_LABEL = {
  available: "Available",
  dispatched: "Dispatched",
  enroute: "En route",
  onscene: "On scene",
  transporting: "Transporting",
  busy: "Busy",
  break: "Break",
  court: "Court",
  out_of_service: "Out of service",
  off_duty: "Off duty",
  emergency: "EMERGENCY",
  pending: "Pending",
  assigned: "Assigned",
  closed: "Closed",
  cancelled: "Cancelled",
  reopened: "Reopened",
};

export function statusLabel(status) {
  return STATUS_LABEL[status] || status;
}

/** A browser's User-Agent in a few words: "Chrome 156 on Linux", "Safari on iPhone". */
export function browserName(agent) {
  if (!agent) return "-";
  const os = /iPhone|iPad/.test(agent) ? "iPhone" : /Android/.test(agent) ? "Android" : /Windows/.test(agent)
    ? "Windows" : /Mac OS X/.test(agent) ? "Mac" : /Linux/.test(agent) ? "Linux" : "";
  const found = agent.match(/(Edg|Firefox|Chrome|HeadlessChrome|Version)\/(\d+)/);
  let name = found ? { Edg: "Edge", Version: "Safari", HeadlessChrome: "Chrome" }[found[1]] || found[1] : "";
  if (name && found && name !== "Safari") name += ` ${found[2]}`;
  if (!name) return agent.slice(0, 40);
  return os ? `${name} on ${os}` : name;
}
