// The browser's connection to the hub: one WebSocket (dispatch.v1.json, the
// sign-in cookie authenticates it), reconnect with backoff, resume from the
// last offset of every topic, and an outbox of commands that are sent again
// with the same id until the hub answers (the hub treats a repeated id as a
// retry, so nothing is applied twice). See docs/protocol.md.

const SUBPROTOCOL = "dispatch.v1.json";
// Close codes after which reconnecting cannot help (docs/protocol.md, "Close codes").
const FINAL = new Set([1003, 1007, 1008, 1009, 4001, 4003]);
const PING_EVERY_MS = 15000;
// The hub recognises a repeated command id for 10 minutes; older unsent commands are not
// replayed (a status from long ago is not news), they are reported as not sent.
const OUTBOX_MAX_AGE_MS = 9 * 60 * 1000;
const PONG_WITHIN_MS = 10000;

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
   */
  constructor({ topics, outboxKey = null, url = null }) {
    super();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.url = url || `${scheme}://${location.host}/ws`;
    this.topics = topics;
    this.outboxKey = outboxKey;
    this.state = "idle"; // idle, connecting, syncing, live, reconnecting, stopped
    this.positions = new Map(); // topic -> {offset, epoch}
    this.outbox = this._loadOutbox(); // [{frame, resolve?, reject?}], oldest first
    this.inflight = new Map(); // id -> {resolve, reject}
    this.prefix = `${randomId()}-`;
    this.counter = 0;
    this.attempt = 0;
    this.ws = null;
    this.subscribeId = null;
    this.pingTimer = null;
    this.pongDeadline = null;
    this.retryTimer = null;
    this.closeReason = "";
    addEventListener("online", () => this.reconnectNow());
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
    if (this.ws) this.ws.close(4000, "dropped by the client");
  }

  /**
   * Send a command; resolves with the ack, rejects with the hub's error.
   * With queue: true a command made while offline waits in the outbox
   * (kept in localStorage when the connection has an outboxKey) and goes out on
   * reconnect; otherwise it is refused at once while offline.
   */
  command(body, { queue = false } = {}) {
    const frame = { id: this.nextId(), ...body };
    return new Promise((resolve, reject) => {
      if (this.state !== "live" && !queue) {
        reject(new Error("not connected: try again when the connection is back"));
        return;
      }
      const item = { frame, resolve, reject, at: Date.now() };
      this.outbox.push(item);
      this._saveOutbox();
      this._emit("outbox", { size: this.outbox.length });
      if (this.state === "live") this._send(item);
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
      return saved.filter((item) => item && item.frame).map(({ frame, at }) => ({ frame, at }));
    } catch {
      return [];
    }
  }

  _saveOutbox() {
    if (!this.outboxKey) return;
    localStorage.setItem(this.outboxKey, JSON.stringify(this.outbox.map(({ frame, at }) => ({ frame, at }))));
  }

  _open() {
    this.retryTimer = null;
    if (this.ws) {
      const old = this.ws;
      this.ws = null; // its handlers check this and fall silent
      old.close(4000, "replaced");
    }
    this._setState(this.attempt ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url, [SUBPROTOCOL]);
    this.ws = ws;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this._setState("syncing");
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

  _closed(ws, code, reason) {
    if (ws !== this.ws) return;
    this.ws = null;
    clearInterval(this.pingTimer);
    for (const [id, waiter] of this.inflight) {
      // Sent but not answered: it stays in the outbox and goes again with the same id.
      this.inflight.delete(id);
      void waiter;
    }
    if (FINAL.has(code)) {
      this._setState("stopped", reason || `closed (${code})`);
      this._emit("final", { code, reason });
      for (const item of this.outbox) item.reject?.(new Error(reason || `connection closed (${code})`));
      return;
    }
    this.attempt += 1;
    const delay = Math.min(10000, 300 * 2 ** Math.min(this.attempt - 1, 6)) * (0.5 + Math.random() / 2);
    this._setState("reconnecting", reason || (code === 1001 ? "hub restarting" : "connection lost"));
    this.retryTimer = setTimeout(() => this._open(), navigator.onLine === false ? 2000 : delay);
  }

  _startPings() {
    clearInterval(this.pingTimer);
    this.pongDeadline = null;
    this.pingTimer = setInterval(() => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
      if (this.pongDeadline && Date.now() > this.pongDeadline) {
        this.ws.close(4000, "no answer from the hub"); // a silent network: reconnect
        return;
      }
      this.ws.send(JSON.stringify({ type: "ping", id: this.nextId() }));
      this.pongDeadline = this.pongDeadline || Date.now() + PONG_WITHIN_MS;
    }, PING_EVERY_MS);
  }

  _send(item) {
    this.inflight.set(item.frame.id, item);
    this.ws.send(JSON.stringify(item.frame));
  }

  _settle(ref, ok, frame) {
    const index = this.outbox.findIndex((item) => item.frame.id === ref);
    if (index < 0) return;
    const [item] = this.outbox.splice(index, 1);
    this.inflight.delete(ref);
    this._saveOutbox();
    this._emit("outbox", { size: this.outbox.length });
    if (ok) {
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
    const stale = this.outbox.filter((item) => now - (item.at || 0) > OUTBOX_MAX_AGE_MS);
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
        this.pongDeadline = null;
        this._emit("clock", { serverTime: frame.server_time });
        break;
      case "ack":
        if (frame.ref === this.subscribeId) {
          this.attempt = 0;
          this._expireOutbox();
          this._setState("live");
          for (const item of this.outbox) this._send(item); // in order, same ids
        } else {
          this._settle(frame.ref, true, frame);
        }
        break;
      case "error":
        if (frame.ref && frame.ref === this.subscribeId) {
          this._emit("problem", frame);
          this.ws?.close(4000, frame.message); // e.g. Redis briefly unavailable: back off and retry
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
