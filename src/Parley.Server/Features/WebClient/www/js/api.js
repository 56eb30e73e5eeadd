// REST calls against the same origin (API.md). The session (tokens) lives in localStorage so a
// reload keeps the user signed in; a 401 is answered once with POST /v1/auth/refresh.

const SESSION_KEY = "parley.session";

/** An error answer of the API (problem+json), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem?.detail || problem?.title || (status === 0 ? "The server cannot be reached." : `HTTP ${status}`));
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  /** Worth another try with the same request: no answer, 429, 503 or another 5xx. */
  get retryable() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export function loadSession() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
    return s && s.accessToken && s.userId ? s : null;
  } catch {
    return null;
  }
}

function saveSession(session) {
  if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else localStorage.removeItem(SESSION_KEY);
}

let session = loadSession();
let refreshing = null;
const listeners = new Set();

/** Called with null when the session ends (logout, or a refresh the server refused). */
export function onSessionEnded(listener) {
  listeners.add(listener);
}

export const currentSession = () => session;

async function raw(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, null, null);
  }
  if (response.ok) {
    if (response.status === 204) return null;
    return response.json();
  }
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    // not JSON: keep the status
  }
  throw new ApiError(response.status, problem, Number(response.headers.get("Retry-After")) || null);
}

async function refresh() {
  if (!session?.refreshToken) throw new ApiError(401, null, null);
  refreshing ??= raw("POST", "/v1/auth/refresh", { refreshToken: session.refreshToken })
    .then((r) => {
      session = { ...session, accessToken: r.accessToken, refreshToken: r.refreshToken, expiresAt: Date.now() + r.expiresIn * 1000 };
      saveSession(session);
    })
    .finally(() => (refreshing = null));
  await refreshing;
}

function endSession() {
  session = null;
  saveSession(null);
  for (const listener of listeners) listener(null);
}

/** An authenticated call; on 401 the access token is refreshed once and the call repeated. */
export async function call(method, path, body) {
  if (!session) throw new ApiError(401, null, null);
  try {
    return await raw(method, path, body, session.accessToken);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
    try {
      await refresh();
    } catch (r) {
      if (r instanceof ApiError && r.status === 401) endSession();
      throw r;
    }
    return raw(method, path, body, session.accessToken);
  }
}

/** A fresh access token for the WebSocket (it carries the token as ?access_token=). */
export async function freshToken() {
  await refresh();
  return session.accessToken;
}

export async function register(handle, password, displayName) {
  await raw("POST", "/v1/auth/register", displayName ? { handle, password, displayName } : { handle, password });
}

export async function login(handle, password) {
  const r = await raw("POST", "/v1/auth/login", { handle, password });
  session = { accessToken: r.accessToken, refreshToken: r.refreshToken, userId: r.userId, expiresAt: Date.now() + r.expiresIn * 1000 };
  saveSession(session);
  session.me = await call("GET", "/v1/me");
  saveSession(session);
  return session;
}

export async function logout() {
  const token = session?.refreshToken;
  endSession();
  if (token) await raw("POST", "/v1/auth/logout", { refreshToken: token }).catch(() => {});
}

const q = (params) =>
  Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join("&");

export const api = {
  me: () => call("GET", "/v1/me"),
  userByHandle: (handle) => call("GET", `/v1/users?${q({ handle })}`),
  user: (id) => call("GET", `/v1/users/${id}`),
  conversations: (cursor, limit = 50) => call("GET", `/v1/conversations?${q({ limit, cursor })}`),
  conversation: (id) => call("GET", `/v1/conversations/${id}`),
  createConversation: (title, participantIds) => call("POST", "/v1/conversations", { title: title || undefined, participantIds }),
  addParticipant: (id, userId) => call("POST", `/v1/conversations/${id}/participants`, { userId }),
  removeParticipant: (id, userId) => call("DELETE", `/v1/conversations/${id}/participants/${userId}`),
  history: (id, cursor, limit = 30) => call("GET", `/v1/conversations/${id}/messages?${q({ limit, cursor })}`),
  after: (id, after, limit = 100) => call("GET", `/v1/conversations/${id}/messages?${q({ after, limit })}`),
  send: (id, body, clientMessageId) => call("POST", `/v1/conversations/${id}/messages`, { body, clientMessageId }),
  markRead: (id, messageId) => call("POST", `/v1/conversations/${id}/read`, { messageId }),
  search: (text, cursor) => call("GET", `/v1/search/messages?${q({ q: text, limit: 20, cursor })}`),
};
