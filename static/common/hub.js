// The browser's connection to the hub: one WebSocket (dispatch.v1.json, the
// sign-in cookie authenticates it), reconnect with backoff, resume from the
// last offset of every topic, and an outbox of commands that are sent again
// with the same id until the hub answers (the hub treats a repeated id as a
// retry, so nothing is applied twice). See docs/protocol.md.
//
// The state is honest about the network: the window's offline event (and
// navigator.onLine) puts it in "offline" at once, without waiting for a socket
// to time out, and a ping that the hub does not answer with a pong in time
// drops a connection that only looks open. An urgent command (a panic) goes to
// the head of the outbox, never expires, and is sent as soon as a socket opens,
// before the subscription's catch-up.

const SUBPROTOCOL = "dispatch.v1.json";
const PING_EVERY_MS = 15000;
const PONG_WITHIN_MS = 10000;
// While the browser says it has no network: how often to look again (the online event may not come).
const OFFLINE_RECHECK_MS = 2000;
// The hub recognises a repeated command id for 10 minutes; older unsent commands are not
// replayed (a status from long ago is not news), they are reported as not sent.
const OUTBOX_MAX_AGE_MS = 9 * 60 * 1000;

/**
 * Whether reconnecting cannot help after this close code, by the hub's rules (the
 * `close_codes` of /api/me; docs/protocol.md, "Close codes"). Without them (a sign-in kept
 * from a hub that did not send them) nothing is final: keep trying, with backoff.
 */
export function isFinal(code, rules) {
  if (!rules) return false;
  return rules.final.includes(code) || rules.final_ranges.some(([first, last]) => first <= code && code <= last);
}

function randomId() {
  const bytes = new Uint8Array(4);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class HubConnection extends EventTarget {
  /**
   * @param {object} opts
   * @param {string[]} opts.topics        topics to follow
   * @param {string} [opts.outboxKey]     localStorage key: keep unsent commands across reloads
   * @param {string} [opts.url]           defaults to this page's host, /ws
   * @param {number} [opts.pingEveryMs]   liveness: a ping this often while connected...
   * @param {number} [opts.pongWithinMs]  ...and the connection is dropped when its pong is this late
   * @param {object} [opts.closeCodes]    the close codes and their rules, from /api/me (close_codes)
   */
  constructor({
    topics,
    outboxKey = null,
    url = null,
    pingEveryMs = PING_EVERY_MS,
    pongWithinMs = PONG_WITHIN_MS,
    closeCodes = null,
  }) {
    super();
    this.closeRules = closeCodes;
    this.codes = closeCodes?.codes ?? {};
    // Closing its own socket to reconnect (no pong, no network, replaced): a code that says so.
    this.dropCode = this.codes.CLIENT_RECONNECT ?? 1000;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.url = url || `${scheme}://${location.host}/ws`;
    this.topics = topics;
    this.outboxKey = outboxKey;
    this.state = "idle"; // idle, connecting, syncing, live, reconnecting, offline, stopped
    this.positions = new Map(); // topic -> {offset, epoch}
    this.outbox = this._loadOutbox(); // [{frame, at, urgent?, resolve?, reject?}]: urgent first, then oldest first
    this.inflight = new Map(); // id -> {resolve, reject}
    this.prefix = `${randomId()}-`;
    this.counter = 0;
    this.attempt = 0;
    this.ws = null;
    this.subscribeId = null;
    this.pingEveryMs = pingEveryMs;
    this.pongWithinMs = pongWithinMs;
    this.pingTimer = null;
    this.pongTimer = null; // set while a ping waits for its pong
    this.retryTimer = null;
    this.closeReason = "";
    addEventListener("online", () => {
      this.attempt = Math.min(this.attempt, 1); // the network is back: no long backoff
      this.reconnectNow();
    });
    addEventListener("offline", () => this._networkGone());
    // A phone that wakes up: find out now whether the connection survived the sleep.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") return;
      if (this.retryTimer !== null) this.reconnectNow();
      else this._ping();
    });
  }

  nextId() {
    this.counter += 1;
    return `${this.prefix}${this.counter}`;
  }

  start() {
    if (this.state === "idle" || this.state === "stopped") this._open();
  }

  /** Reconnect at once (the network came back, or the user asked). */
  reconnectNow() {
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this._open();
    }
  }

  /** Drop the connection as if the network went away (tests and the "go offline" control). */
  drop() {
    if (this.ws) this.ws.close(this.dropCode, "dropped by the client");
  }

  /**
   * Send a command; resolves with the ack, rejects with the hub's error.
   * With queue: true a command made while offline waits in the outbox
   * (kept in localStorage when the connection has an outboxKey) and goes out on
   * reconnect; otherwise it is refused at once while offline.
   * With urgent: true (implies queue) it goes ahead of everything not urgent,
   * is never expired, and is sent the moment a socket opens.
   * A body may bring its own id (from nextId()) to follow the command in the outbox.
   */
  command(body, { queue = false, urgent = false } = {}) {
    const frame = { id: this.nextId(), ...body };
    return new Promise((resolve, reject) => {
      if (this.state !== "live" && !queue && !urgent) {
        reject(new Error("not connected: try again when the connection is back"));
        return;
      }
      const item = { frame, resolve, reject, at: Date.now(), urgent };
      const behind = urgent ? this.outbox.findIndex((i) => !i.urgent) : -1;
      if (behind < 0) this.outbox.push(item);
      else this.outbox.splice(behind, 0, item);
      this._saveOutbox();
      this._emit("outbox", { size: this.outbox.length });
      if (this.ws?.readyState === WebSocket.OPEN && (this.state === "live" || urgent)) this._send(item);
    });
  }

  /** Send now if connected, else drop: for reports the next one replaces (positions). */
  fire(body) {
    if (this.state !== "live" || !this.ws) return false;
    this.ws.send(JSON.stringify({ id: this.nextId(), ...body }));
    return true;
  }

  get pending() {
    return this.outbox.length;
  }

  // ---- internals ----------------------------------------------------------

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _setState(state, reason = "") {
    this.state = state;
    this.closeReason = reason;
    this._emit("state", { state, reason, attempt: this.attempt });
  }

  _loadOutbox() {
    if (!this.outboxKey) return [];
    try {
      const saved = JSON.parse(localStorage.getItem(this.outboxKey) || "[]");
      return saved.filter((item) => item && item.frame).map(({ frame, at, urgent }) => ({ frame, at, urgent: !!urgent }));
    } catch {
      return [];
    }
  }

  _saveOutbox() {
    if (!this.outboxKey) return;
    const kept = this.outbox.map(({ frame, at, urgent }) => (urgent ? { frame, at, urgent } : { frame, at }));
    localStorage.setItem(this.outboxKey, JSON.stringify(kept));
  }

  _open() {
    this.retryTimer = null;
    if (this.ws) {
      const old = this.ws;
      this.ws = null; // its handlers check this and fall silent
      old.close(this.dropCode, "replaced");
    }
    if (navigator.onLine === false) {
      // No network at all: say so, and look again soon (or at once on the online event).
      if (this.state !== "offline") this._setState("offline", "no network");
      this.retryTimer = setTimeout(() => this._open(), OFFLINE_RECHECK_MS);
      return;
    }
    this._setState(this.attempt ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url, [SUBPROTOCOL]);
    this.ws = ws;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this._setState("syncing");
      // Urgent commands first, before the catch-up (the hub takes a connection's frames in order).
      for (const item of this.outbox) if (item.urgent) this._send(item);
      this.subscribeId = this.nextId();
      const topics = this.topics.map((topic) => {
        const at = this.positions.get(topic);
        return at ? { topic, offset: at.offset, epoch: at.epoch } : { topic };
      });
      ws.send(JSON.stringify({ type: "subscribe", id: this.subscribeId, topics }));
      this._startPings();
    };
    ws.onmessage = (msg) => ws === this.ws && this._receive(JSON.parse(msg.data));
    ws.onclose = (ev) => this._closed(ws, ev.code, ev.reason);
  }

  /** Give up on a socket now (no network, or no answer), without waiting for its close handshake. */
  _abandon(ws, reason) {
    this._closed(ws, this.dropCode, reason);
    ws.close(this.dropCode, reason.slice(0, 100));
  }

  _networkGone() {
    if (this.ws) this._abandon(this.ws, "no network");
    else if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this._open(); // says offline and waits for the network
    }
  }

  _closed(ws, code, reason) {
    if (ws !== this.ws) return;
    this.ws = null;
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pongTimer = null;
    for (const [id, waiter] of this.inflight) {
      // Sent but not answered: it stays in the outbox and goes again with the same id.
      this.inflight.delete(id);
      void waiter;
    }
    if (isFinal(code, this.closeRules)) {
      this._setState("stopped", reason || `closed (${code})`);
      this._emit("final", { code, reason, signIn: code === this.codes.UNAUTHENTICATED });
      for (const item of this.outbox) item.reject?.(new Error(reason || `connection closed (${code})`));
      return;
    }
    this.attempt += 1;
    if (navigator.onLine === false) {
      this._setState("offline", "no network");
      this.retryTimer = setTimeout(() => this._open(), OFFLINE_RECHECK_MS);
      return;
    }
    const delay = Math.min(10000, 300 * 2 ** Math.min(this.attempt - 1, 6)) * (0.5 + Math.random() / 2);
    this._setState("reconnecting", reason || (code === this.codes.GOING_AWAY ? "hub restarting" : "connection lost"));
    this.retryTimer = setTimeout(() => this._open(), delay);
  }

  _startPings() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pongTimer = null;
    this.pingTimer = setInterval(() => this._ping(), this.pingEveryMs);
  }

  /** Ask the hub for a pong (unless a ping already waits for one); no pong in time: a silent network, reconnect. */
  _ping() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.pongTimer !== null) return;
    ws.send(JSON.stringify({ type: "ping", id: this.nextId() }));
    this.pongTimer = setTimeout(() => {
      this.pongTimer = null;
      if (ws === this.ws) this._abandon(ws, "no answer from the hub");
    }, this.pongWithinMs);
  }

  _send(item) {
    if (this.inflight.has(item.frame.id)) return;
    this.inflight.set(item.frame.id, item);
    this.ws.send(JSON.stringify(item.frame));
    this._ping(); // a command with no answer is a connection to doubt: check it now
  }

  _settle(ref, ok, frame) {
    const index = this.outbox.findIndex((item) => item.frame.id === ref);
    if (index < 0) return;
    const [item] = this.outbox.splice(index, 1);
    this.inflight.delete(ref);
    this._saveOutbox();
    this._emit("outbox", { size: this.outbox.length });
    if (ok) {
      this._emit("sent", { frame: item.frame, ack: frame }); // saved or not: who waits for it hears
      item.resolve?.(frame);
    } else {
      const err = new Error(frame.message);
      err.code = frame.code;
      if (item.reject) item.reject(err);
      else this._emit("rejected", { frame: item.frame, error: frame }); // from a saved outbox
    }
  }

  _expireOutbox() {
    const now = Date.now();
    // An urgent command (a panic) is news however late it is: it never expires.
    const stale = this.outbox.filter((item) => !item.urgent && now - (item.at || 0) > OUTBOX_MAX_AGE_MS);
    if (!stale.length) return;
    this.outbox = this.outbox.filter((item) => !stale.includes(item));
    this._saveOutbox();
    this._emit("outbox", { size: this.outbox.length });
    for (const item of stale) {
      const error = { code: "expired", message: "not sent: made more than 9 minutes ago without a connection" };
      if (item.reject) item.reject(Object.assign(new Error(error.message), { code: error.code }));
      else this._emit("rejected", { frame: item.frame, error });
    }
  }

  _keep(topic, offset, epoch) {
    this.positions.set(topic, { offset, epoch });
  }

  _receive(frame) {
    switch (frame.type) {
      case "welcome":
        this._emit("welcome", frame);
        break;
      case "resync":
        this._keep(frame.topic, frame.offset, frame.epoch);
        this._emit("resync", frame);
        break;
      case "event": {
        this._keep(frame.topic, frame.offset, frame.epoch);
        this._emit("event", frame);
        break;
      }
      case "positions":
        this._keep(frame.topic, frame.offset, frame.epoch);
        this._emit("positions", frame);
        break;
      case "pong":
        clearTimeout(this.pongTimer);
        this.pongTimer = null;
        this._emit("clock", { serverTime: frame.server_time });
        break;
      case "ack":
        if (frame.ref === this.subscribeId) {
          this.attempt = 0;
          this._expireOutbox();
          this._setState("live");
          for (const item of this.outbox) this._send(item); // in order, same ids (urgent ones went already)
        } else {
          this._settle(frame.ref, true, frame);
        }
        break;
      case "error":
        if (frame.ref && frame.ref === this.subscribeId) {
          this._emit("problem", frame);
          this.ws?.close(this.dropCode, frame.message); // e.g. Redis briefly unavailable: back off and retry
        } else if (frame.ref) {
          this._settle(frame.ref, false, frame);
        } else {
          this._emit("problem", frame);
        }
        break;
      default:
        break;
    }
  }
}
