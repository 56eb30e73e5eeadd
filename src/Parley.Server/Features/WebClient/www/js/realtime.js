// The /v1/ws connection: resumes with ?since=<last eventId>, drops repeated eventIds (delivery is
// at-least-once), reconnects with capped exponential backoff and jitter, and says when the app must
// catch up over REST (resync.required, or a reconnect with nothing to resume from).

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;
const PING_EVERY_MS = 25_000;
const PONG_WITHIN_MS = 10_000;

// Close codes after which reconnecting does not help (Features/Realtime/README.md).
const FINAL = new Map([
  [1000, "closed"],
  [1003, "client error"],
  [1008, "client error"],
  [1009, "client error"],
  [4003, "signed out"],
  [4004, "opened in too many places"],
]);
const TOKEN_EXPIRED = 4002;
const SESSION_REVOKED = 4003;

/** eventIds are "<ms>-<seq>": compared as a pair of integers, never as text. */
export function compareEventIds(a, b) {
  const [am, as] = a.split("-").map(BigInt);
  const [bm, bs] = b.split("-").map(BigInt);
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}

export class Realtime {
  /**
   * @param {object} handlers
   *   token(): Promise<string> access token; refreshToken(): Promise<string> a refreshed one;
   *   onEvent(event); onResync(); onState("connecting"|"live"|"reconnecting"|"stopped", detail);
   *   onSignedOut()
   */
  constructor(handlers) {
    this.h = handlers;
    this.lastEventId = null;
    this.attempt = 0;
    this.socket = null;
    this.stopped = false;
    this.timers = new Set();
    this.hadSocket = false;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    clearInterval(this.pinger);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
    this.h.onState("stopped");
  }

  /** Sends a small JSON frame when live (typing); dropped otherwise, it is ephemeral. */
  send(frame) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  later(ms, fn) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  async open(refreshFirst = false) {
    if (this.stopped) return;
    this.h.onState(this.hadSocket ? "reconnecting" : "connecting", this.attempt);
    let token;
    try {
      token = refreshFirst ? await this.h.refreshToken() : await this.h.token();
    } catch (e) {
      if (e?.status === 401) return this.h.onSignedOut();
      return this.retry();
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const since = this.lastEventId ? `&since=${encodeURIComponent(this.lastEventId)}` : "";
    const socket = new WebSocket(`${scheme}//${location.host}/v1/ws?access_token=${encodeURIComponent(token)}${since}`);
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      const resumed = this.lastEventId !== null;
      this.hadSocket = true;
      this.attempt = 0;
      this.h.onState("live");
      this.startPinging(socket);
      // Nothing to resume from (the first socket, or no event yet): what happened before it opened is only in REST.
      if (!resumed) this.h.onResync();
    };
    socket.onmessage = (m) => this.receive(m.data);
    socket.onclose = (e) => {
      clearInterval(this.pinger);
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      if (e.code === SESSION_REVOKED) return this.h.onSignedOut();
      if (FINAL.has(e.code) && opened) {
        this.h.onState("stopped", FINAL.get(e.code));
        return;
      }
      this.hadSocket = true;
      if (e.code === TOKEN_EXPIRED) return this.open(true);
      this.retry();
    };
  }

  retry() {
    if (this.stopped) return;
    this.attempt++;
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(this.attempt - 1, 10));
    const delay = cap / 2 + Math.random() * (cap / 2);
    this.h.onState("reconnecting", this.attempt);
    this.later(delay, () => this.open(this.attempt % 3 === 0));
  }

  // A client ping detects a connection that died without a close (the browser answers the server's pings itself).
  startPinging(socket) {
    clearInterval(this.pinger);
    this.pinger = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN) return;
      this.awaitingPong = true;
      socket.send('{"type":"ping"}');
      this.later(PONG_WITHIN_MS, () => {
        if (this.awaitingPong && this.socket === socket) socket.close(4001, "no pong");
      });
    }, PING_EVERY_MS);
  }

  receive(data) {
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (event.type === "pong") {
      this.awaitingPong = false;
      return;
    }
    if (event.type === "resync.required") {
      this.h.onResync();
      return;
    }
    if (event.eventId) {
      if (this.lastEventId && compareEventIds(event.eventId, this.lastEventId) <= 0) return; // a repeat
      this.lastEventId = event.eventId;
    }
    this.h.onEvent(event);
  }
}
