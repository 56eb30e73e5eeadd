// Parley's web client: plain DOM, no framework. State lives here; api.js talks REST, realtime.js
// keeps the WebSocket. User text is only ever set with textContent, never parsed as HTML.

import { api, ApiError, currentSession, freshToken, loadSession, login, logout, onSessionEnded, register } from "./api.js";
import { Realtime } from "./realtime.js";

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role") node.setAttribute(k, v);
    else node[k] = v;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};

const PAGE = 30;
const SEND_RETRIES = 7; // about 40 s of backoff before a bubble is marked failed
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 6000;
const CATCH_UP_PAGES = 50;

const state = {
  me: null,
  conversations: new Map(), // id -> ConversationSummary
  listPages: 1,
  listCursor: null,
  users: new Map(), // id -> handle
  open: null, // see openConversation
  realtime: null,
};

// ---------- small helpers ----------

function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// Ids are UUID v7: their text order is their time order.
const newer = (a, b) => (a > b ? a : b);

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

let noticeTimer;
function notice(text) {
  const n = $("notice");
  n.textContent = text;
  n.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (n.hidden = true), 8000);
}

function describe(e) {
  return e instanceof ApiError ? e.message : String(e?.message || e);
}

function handleOf(userId) {
  if (userId === state.me?.id) return "You";
  return state.open?.participants.get(userId)?.handle || state.users.get(userId) || "someone";
}

// A sender no longer in the conversation: looked up once, then every bubble of theirs is relabelled.
const lookingUp = new Set();
function ensureUser(userId) {
  if (state.users.has(userId) || state.open?.participants.has(userId) || userId === state.me?.id || lookingUp.has(userId)) return;
  lookingUp.add(userId);
  api
    .user(userId)
    .then((u) => {
      state.users.set(userId, u.handle);
      for (const n of document.querySelectorAll(`[data-sender-id="${userId}"] .sender`)) n.textContent = u.handle;
    })
    .catch(() => {})
    .finally(() => lookingUp.delete(userId));
}

// ---------- sign in ----------

let registering = false;
function showSignIn() {
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-password").value = "";
  $("signin-handle").focus();
}

function toggleRegister() {
  registering = !registering;
  $("signin-title").textContent = registering ? "Create an account" : "Sign in";
  $("signin-submit").textContent = registering ? "Create account" : "Sign in";
  $("signin-toggle").textContent = registering ? "I have an account: sign in" : "Create an account instead";
  $("signin-display-row").hidden = !registering;
  $("signin-password").autocomplete = registering ? "new-password" : "current-password";
  $("signin-error").textContent = "";
}

async function submitSignIn(e) {
  e.preventDefault();
  const handle = $("signin-handle").value.trim();
  const password = $("signin-password").value;
  const error = $("signin-error");
  error.textContent = "";
  $("signin-submit").disabled = true;
  try {
    if (registering) await register(handle, password, $("signin-display").value.trim());
    const session = await login(handle, password);
    if (registering) toggleRegister();
    await startApp(session.me);
  } catch (err) {
    const fields = err instanceof ApiError && err.problem?.errors ? Object.values(err.problem.errors).flat().join(" ") : "";
    error.textContent = fields || (err.status === 401 ? "Wrong handle or password." : describe(err));
  } finally {
    $("signin-submit").disabled = false;
  }
}

// ---------- app shell ----------

async function startApp(me) {
  state.me = me;
  $("signin").hidden = true;
  $("app").hidden = false;
  $("me").textContent = `Signed in as ${me.handle}`;
  await refreshList();
  state.realtime = new Realtime({
    // A token about to expire is refreshed first: the server refuses an expired one at the upgrade.
    token: async () => {
      const s = currentSession();
      return s.expiresAt && Date.now() > s.expiresAt - 30_000 ? freshToken() : s.accessToken;
    },
    refreshToken: freshToken,
    onEvent,
    onResync: resync,
    onState: showConnection,
    onSignedOut: signedOut,
  });
  state.realtime.start();
}

function signedOut() {
  state.realtime?.stop();
  state.realtime = null;
  state.conversations.clear();
  closeConversation();
  renderList();
  showSignIn();
}

function showConnection(s, detail) {
  const c = $("connection");
  c.dataset.state = s;
  c.textContent =
    s === "live" ? "Live" : s === "connecting" ? "Connecting…" : s === "reconnecting" ? "Reconnecting…" : `Offline${detail ? ` (${detail})` : ""}`;
}

// ---------- conversation list ----------

const activity = (c) => c.lastMessage?.createdAt || c.updatedAt || "";

async function refreshList() {
  const pages = Math.max(1, state.listPages);
  const next = new Map();
  let cursor = null;
  let loaded = 0;
  do {
    const page = await api.conversations(cursor);
    for (const c of page.items) next.set(c.id, c);
    cursor = page.nextCursor;
    loaded++;
  } while (cursor && loaded < pages);
  state.conversations = next;
  state.listPages = loaded;
  state.listCursor = cursor;
  renderList();
}

async function moreConversations() {
  if (!state.listCursor) return;
  const page = await api.conversations(state.listCursor);
  for (const c of page.items) if (!state.conversations.has(c.id)) state.conversations.set(c.id, c);
  state.listCursor = page.nextCursor;
  state.listPages++;
  renderList();
}

const titleOf = (c) => c?.title || "Untitled conversation";

function renderList() {
  const list = $("conversation-list");
  const items = [...state.conversations.values()].sort((a, b) => (activity(a) < activity(b) ? 1 : -1));
  list.replaceChildren(
    ...items.map((c) => {
      const unread = c.unreadCount || 0;
      const preview = c.lastMessage ? `${handleOf(c.lastMessage.senderId) === "You" ? "You: " : ""}${c.lastMessage.body}` : "No messages yet";
      const button = el(
        "button",
        { type: "button", class: "conversation-item", "data-conversation-id": c.id },
        el("span", { class: "conversation-title", text: titleOf(c) }),
        el("span", { class: "conversation-preview", text: preview.length > 80 ? `${preview.slice(0, 80)}…` : preview }),
        unread > 0 ? el("span", { class: "unread", text: unread > 99 ? "99+" : String(unread), "aria-label": `${unread} unread` }) : null,
      );
      if (state.open?.id === c.id) button.setAttribute("aria-current", "true");
      button.addEventListener("click", () => openConversation(c.id));
      return el("li", {}, button);
    }),
  );
  $("conversation-empty").hidden = items.length > 0;
  $("conversations-more").hidden = !state.listCursor;
}

// ---------- one conversation ----------

let openSeq = 0;

async function openConversation(id) {
  const seq = ++openSeq;
  closeConversation(false);
  const summary = state.conversations.get(id);
  state.open = {
    id,
    seq,
    title: titleOf(summary),
    ownerId: null,
    participants: new Map(),
    messages: new Map(), // id -> Message (confirmed)
    pending: new Map(), // clientMessageId -> {body, attempts, timer}
    cursor: null,
    exhausted: false,
    loadingOlder: false,
    readPosted: "",
    readCandidate: "",
    visible: new Set(),
    typers: new Map(),
    lastTypingSent: 0,
  };
  document.body.classList.add("show-conversation");
  $("placeholder").hidden = true;
  $("conversation").hidden = false;
  $("conversation-title").textContent = state.open.title;
  $("message-list").replaceChildren();
  $("history-status").textContent = "Loading…";
  $("typing").textContent = "";
  renderList();
  try {
    const [conversation, page] = await Promise.all([api.conversation(id), api.history(id, null, PAGE)]);
    if (seq !== openSeq) return;
    applyConversation(conversation);
    addMessages(page.items);
    state.open.cursor = page.nextCursor;
    state.open.exhausted = !page.nextCursor;
    historyStatus();
    scrollToBottom();
    observeHistoryTop();
    $("composer-input").focus();
  } catch (e) {
    if (seq !== openSeq) return;
    if (e instanceof ApiError && (e.status === 403 || e.status === 404)) return lostConversation(id, "You are no longer in this conversation.");
    $("history-status").textContent = `Could not load the conversation: ${describe(e)}`;
  }
}

function closeConversation(showList = true) {
  if (state.open) {
    for (const p of state.open.pending.values()) clearTimeout(p.timer);
    clearTimeout(state.open.typingTimer);
  }
  state.open = null;
  historyObserver?.disconnect();
  readObserver?.disconnect();
  $("conversation").hidden = true;
  $("placeholder").hidden = false;
  $("jump-new").hidden = true;
  if (showList) document.body.classList.remove("show-conversation");
}

function applyConversation(c) {
  const o = state.open;
  if (!o || o.id !== c.id) return;
  o.title = titleOf(c);
  o.ownerId = c.ownerId;
  o.participants = new Map(c.participants.map((p) => [p.userId, p]));
  for (const p of c.participants) state.users.set(p.userId, p.handle);
  $("conversation-title").textContent = o.title;
  const summary = state.conversations.get(c.id);
  if (summary && summary.title !== c.title) {
    summary.title = c.title;
    renderList();
  }
  if ($("participants-dialog").open) renderParticipants();
}

function lostConversation(id, why) {
  const title = titleOf(state.conversations.get(id));
  state.conversations.delete(id);
  renderList();
  if (state.open?.id === id) {
    closeConversation();
    if ($("participants-dialog").open) $("participants-dialog").close();
    notice(`${why} (“${title}”)`);
  }
}

function historyStatus() {
  const o = state.open;
  $("history-status").textContent = o.loadingOlder
    ? "Loading older messages…"
    : o.exhausted
      ? o.messages.size === 0 && o.pending.size === 0
        ? "No messages yet. Say hello."
        : "This is the beginning of the conversation."
      : "";
}

const messagesBox = () => $("messages");
const atBottom = () => {
  const m = messagesBox();
  return m.scrollHeight - m.scrollTop - m.clientHeight < 48;
};
function scrollToBottom() {
  const m = messagesBox();
  m.scrollTop = m.scrollHeight;
  $("jump-new").hidden = true;
}

function messageElement(message, pending) {
  const mine = message.senderId === state.me.id;
  const time = message.createdAt ? new Date(message.createdAt) : null;
  const li = el(
    "li",
    { class: `message${mine ? " mine" : ""}${pending ? " pending" : ""}`, "data-sender-id": message.senderId },
    el("span", { class: "sender", text: handleOf(message.senderId) }),
    el("p", { class: "body", text: message.body }),
    el(
      "span",
      { class: "meta" },
      time ? el("time", { dateTime: message.createdAt, title: dateFormat.format(time), text: timeFormat.format(time) }) : null,
      el("span", { class: "status", text: pending ? "Sending…" : "" }),
    ),
  );
  if (pending) li.dataset.clientId = message.clientMessageId;
  else li.dataset.messageId = message.id;
  if (!mine && !pending) ensureUser(message.senderId);
  return li;
}

// Confirmed messages in id order; pending bubbles stay after them.
function placeConfirmed(li, id) {
  const list = $("message-list");
  let after = null;
  for (let n = list.lastElementChild; n; n = n.previousElementSibling) {
    if (n.dataset.messageId && n.dataset.messageId < id) {
      after = n;
      break;
    }
  }
  if (after) after.after(li);
  else list.prepend(li);
  readObserver?.observe(li);
}

/** Adds confirmed messages (any order); repeats are ignored. Returns how many were new. */
function addMessages(messages) {
  const o = state.open;
  let added = 0;
  for (const m of messages) {
    if (o.messages.has(m.id)) continue;
    o.messages.set(m.id, m);
    const bubble = m.clientMessageId && m.senderId === state.me.id ? o.pending.get(m.clientMessageId) : null;
    if (bubble) {
      clearTimeout(bubble.timer);
      o.pending.delete(m.clientMessageId);
      document.querySelector(`#message-list [data-client-id="${CSS.escape(m.clientMessageId)}"]`)?.remove();
    }
    placeConfirmed(messageElement(m, false), m.id);
    added++;
  }
  return added;
}

async function loadOlder() {
  const o = state.open;
  if (!o || o.loadingOlder || o.exhausted) return;
  o.loadingOlder = true;
  historyStatus();
  const box = messagesBox();
  try {
    const page = await api.history(o.id, o.cursor, PAGE);
    if (state.open !== o) return;
    const before = box.scrollHeight;
    const top = box.scrollTop;
    addMessages(page.items);
    // Keep what the reader looks at in place while older messages grow the list above it.
    box.scrollTop = top + (box.scrollHeight - before);
    o.cursor = page.nextCursor;
    o.exhausted = !page.nextCursor;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 403 || e.status === 404)) return lostConversation(o.id, "You are no longer in this conversation.");
    notice(`Could not load older messages: ${describe(e)}`);
  } finally {
    o.loadingOlder = false;
    if (state.open === o) {
      historyStatus();
      // Still at the top (a short page, or a tall window): the observer will not fire again by itself.
      if (!o.exhausted && topVisible) requestAnimationFrame(loadOlder);
    }
  }
}

let historyObserver;
let topVisible = false;
function observeHistoryTop() {
  historyObserver?.disconnect();
  historyObserver = new IntersectionObserver(
    (entries) => {
      topVisible = entries[entries.length - 1].isIntersecting;
      if (topVisible) loadOlder();
    },
    { root: messagesBox(), rootMargin: "200px 0px 0px 0px" },
  );
  historyObserver.observe($("history-top"));
}

// ---------- read markers ----------

let readObserver;
let readTimer;
function makeReadObserver() {
  readObserver = new IntersectionObserver(
    (entries) => {
      const o = state.open;
      if (!o) return;
      for (const e of entries) {
        const id = e.target.dataset.messageId;
        if (!id) continue;
        const seen = e.isIntersecting && (e.intersectionRatio >= 0.5 || e.intersectionRect.height >= 40);
        if (seen) o.visible.add(id);
        else o.visible.delete(id);
      }
      scheduleRead();
    },
    { root: messagesBox(), threshold: [0, 0.5, 1] },
  );
}

function scheduleRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(flushRead, 200);
}

async function flushRead() {
  const o = state.open;
  if (!o || document.visibilityState !== "visible") return;
  let candidate = o.readCandidate;
  for (const id of o.visible) candidate = newer(candidate, id);
  o.readCandidate = candidate;
  if (!candidate || candidate <= o.readPosted) return;
  o.readPosted = candidate;
  // What is left unread: loaded messages of others past the marker.
  const summary = state.conversations.get(o.id);
  if (summary) {
    const left = [...o.messages.values()].filter((m) => m.id > candidate && m.senderId !== state.me.id).length;
    if (summary.unreadCount !== left) {
      summary.unreadCount = left;
      renderList();
    }
  }
  try {
    await api.markRead(o.id, candidate);
  } catch (e) {
    if (state.open === o) o.readPosted = ""; // try again on the next view
    if (e instanceof ApiError && (e.status === 403 || e.status === 404)) lostConversation(o.id, "You are no longer in this conversation.");
  }
}

// ---------- sending ----------

function send(text) {
  const o = state.open;
  if (!o) return;
  const clientMessageId = uuid();
  const message = { clientMessageId, body: text, senderId: state.me.id, createdAt: null };
  const li = messageElement(message, true);
  $("message-list").append(li);
  o.pending.set(clientMessageId, { body: text, attempts: 0, timer: null });
  historyStatus();
  scrollToBottom();
  attemptSend(o, clientMessageId);
}

function bubble(clientMessageId) {
  return document.querySelector(`#message-list [data-client-id="${CSS.escape(clientMessageId)}"]`);
}

// The same clientMessageId every time: a send the server stored before the network failed is answered 200 with the original.
async function attemptSend(o, clientMessageId) {
  const p = o.pending.get(clientMessageId);
  if (!p) return;
  p.attempts++;
  try {
    const message = await api.send(o.id, p.body, clientMessageId);
    if (state.open !== o) return;
    addMessages([message]);
    onOwnMessage(message);
    if (atBottom()) scrollToBottom();
  } catch (e) {
    if (state.open !== o || !o.pending.has(clientMessageId)) return;
    const b = bubble(clientMessageId);
    if (e instanceof ApiError && e.retryable && p.attempts < SEND_RETRIES) {
      const delay = Math.max((e.retryAfter || 0) * 1000, Math.min(8000, 500 * 2 ** p.attempts));
      if (b) b.querySelector(".status").textContent = e.status === 0 ? "Not sent yet: offline, retrying…" : "Retrying…";
      p.timer = setTimeout(() => attemptSend(o, clientMessageId), delay);
      return;
    }
    if (e instanceof ApiError && (e.status === 403 || e.status === 404)) return lostConversation(o.id, "You are no longer in this conversation.");
    if (b) markFailed(o, b, clientMessageId, describe(e));
  }
}

function markFailed(o, b, clientMessageId, why) {
  b.classList.add("failed");
  const status = b.querySelector(".status");
  status.textContent = `Not sent: ${why} `;
  const retry = el("button", { type: "button", class: "link", text: "Retry" });
  retry.addEventListener("click", () => {
    b.classList.remove("failed");
    status.textContent = "Sending…";
    o.pending.get(clientMessageId).attempts = 0;
    attemptSend(o, clientMessageId);
  });
  status.append(retry);
}

function onOwnMessage(message) {
  const summary = state.conversations.get(message.conversationId);
  if (!summary) return;
  if (!summary.lastMessage || summary.lastMessage.id <= message.id) {
    summary.lastMessage = message;
    renderList();
  }
}

// ---------- typing ----------

function typed() {
  const o = state.open;
  if (!o || !$("composer-input").value.trim()) return;
  const now = Date.now();
  if (now - o.lastTypingSent < TYPING_SEND_EVERY_MS) return;
  o.lastTypingSent = now;
  state.realtime?.send({ type: "typing", conversationId: o.id });
}

function showTyping() {
  const o = state.open;
  if (!o) return;
  const now = Date.now();
  for (const [user, until] of o.typers) if (until <= now) o.typers.delete(user);
  const names = [...o.typers.keys()].map(handleOf);
  $("typing").textContent = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
  clearTimeout(o.typingTimer);
  if (o.typers.size > 0) o.typingTimer = setTimeout(showTyping, 1000);
}

// ---------- live events ----------

function onEvent(e) {
  switch (e.type) {
    case "message.created":
      return messageCreated(e.message);
    case "participant.added":
      if (e.userId === state.me.id) return refreshList().catch(() => {});
      return reloadOpen(e.conversationId);
    case "participant.removed":
      if (e.userId === state.me.id) return lostConversation(e.conversationId, "You were removed from the conversation.");
      return reloadOpen(e.conversationId);
    case "conversation.updated":
      return reloadOpen(e.conversationId, true);
    case "conversation.deleted":
      return lostConversation(e.conversationId, "The conversation was deleted.");
    case "typing":
      if (state.open?.id === e.conversationId && e.userId !== state.me.id) {
        state.open.typers.set(e.userId, Date.now() + TYPING_SHOWN_MS);
        showTyping();
      }
      return;
    default:
      return; // unknown types are ignored (forward compatibility)
  }
}

function messageCreated(m) {
  const summary = state.conversations.get(m.conversationId);
  if (!summary) {
    refreshList().catch(() => {});
    return;
  }
  const o = state.open?.id === m.conversationId ? state.open : null;
  const fresh = !summary.lastMessage || summary.lastMessage.id < m.id;
  if (fresh) summary.lastMessage = m;
  const mine = m.senderId === state.me.id;
  if (o) {
    const pinned = atBottom();
    if (addMessages([m]) > 0) {
      o.typers.delete(m.senderId);
      showTyping();
      if (pinned || mine) scrollToBottom();
      else $("jump-new").hidden = false;
      // Seen at once when it lands in view; counted as unread otherwise.
      // (A message older than the list's last one was already counted in the list the server sent.)
      if (fresh && !mine && !(pinned && document.visibilityState === "visible")) summary.unreadCount = (summary.unreadCount || 0) + 1;
    }
    historyStatus();
  } else if (!mine && fresh) {
    summary.unreadCount = (summary.unreadCount || 0) + 1;
  }
  renderList();
}

async function reloadOpen(conversationId, alsoList = false) {
  if (alsoList) refreshList().catch(() => {});
  if (state.open?.id !== conversationId) return;
  try {
    applyConversation(await api.conversation(conversationId));
  } catch (e) {
    if (e instanceof ApiError && (e.status === 403 || e.status === 404)) lostConversation(conversationId, "You are no longer in this conversation.");
  }
}

/** resync.required (or a reconnect without a position): the list again, and the open history caught up with after=. */
async function resync() {
  try {
    await refreshList();
  } catch (e) {
    notice(`Could not refresh conversations: ${describe(e)}`);
  }
  const o = state.open;
  if (!o) return;
  if (!state.conversations.has(o.id)) return lostConversation(o.id, "You are no longer in this conversation.");
  try {
    applyConversation(await api.conversation(o.id));
    let last = [...o.messages.keys()].reduce(newer, "");
    if (!last) return openConversation(o.id);
    const pinned = atBottom();
    for (let page = 0; page < CATCH_UP_PAGES && state.open === o; page++) {
      const batch = await api.after(o.id, last);
      addMessages(batch.items);
      if (batch.items.length === 0) break;
      last = batch.items[batch.items.length - 1].id;
      if (!batch.nextCursor && batch.items.length < 100) break;
    }
    if (pinned) scrollToBottom();
    scheduleRead();
  } catch (e) {
    if (e instanceof ApiError && (e.status === 403 || e.status === 404)) lostConversation(o.id, "You are no longer in this conversation.");
  }
}

// ---------- dialogs ----------

async function resolveHandles(text) {
  const handles = [...new Set(text.split(/[\s,]+/).map((h) => h.trim().replace(/^@/, "")).filter(Boolean))];
  const ids = [];
  for (const handle of handles) {
    try {
      const user = await api.userByHandle(handle);
      state.users.set(user.id, user.handle);
      ids.push(user.id);
    } catch (e) {
      throw new Error(e instanceof ApiError && e.status === 404 ? `No user has the handle “${handle}”.` : describe(e));
    }
  }
  return { handles, ids };
}

async function createConversation(e) {
  e.preventDefault();
  const error = $("new-error");
  error.textContent = "";
  try {
    const { handles, ids } = await resolveHandles($("new-handles").value);
    const title = $("new-title").value.trim() || (handles.length ? [state.me.handle, ...handles].join(", ") : "");
    const created = await api.createConversation(title, ids);
    $("new-dialog").close();
    $("new-form").reset();
    state.conversations.set(created.id, { id: created.id, title: created.title, updatedAt: created.updatedAt, lastMessage: null, unreadCount: 0 });
    renderList();
    await openConversation(created.id);
  } catch (err) {
    error.textContent = describe(err);
  }
}

function renderParticipants() {
  const o = state.open;
  if (!o) return;
  const owner = o.ownerId === state.me.id;
  $("participant-list").replaceChildren(
    ...[...o.participants.values()].map((p) => {
      const self = p.userId === state.me.id;
      const li = el("li", { "data-user-id": p.userId }, el("span", { text: `${p.handle}${p.role === "owner" ? " (owner)" : ""}${self ? " — you" : ""}` }));
      // The owner removes anyone else; a member removes only itself (API.md).
      if (owner !== self) {
        const b = el("button", { type: "button", text: self ? "Leave" : "Remove", "aria-label": self ? "Leave the conversation" : `Remove ${p.handle}` });
        b.addEventListener("click", () => removeParticipant(p.userId));
        li.append(b);
      }
      return li;
    }),
  );
  $("add-form").hidden = !owner;
}

async function removeParticipant(userId) {
  const o = state.open;
  $("participants-error").textContent = "";
  try {
    await api.removeParticipant(o.id, userId);
    if (userId === state.me.id) return lostConversation(o.id, "You left the conversation.");
    o.participants.delete(userId);
    renderParticipants();
  } catch (e) {
    $("participants-error").textContent = describe(e);
  }
}

async function addParticipant(e) {
  e.preventDefault();
  const o = state.open;
  const error = $("participants-error");
  error.textContent = "";
  try {
    const { ids } = await resolveHandles($("add-handle").value);
    for (const id of ids) await api.addParticipant(o.id, id);
    $("add-handle").value = "";
    applyConversation(await api.conversation(o.id));
  } catch (err) {
    error.textContent = err instanceof ApiError && err.status === 409 ? "Already a participant." : describe(err);
  }
}

// ---------- search ----------

async function search(e) {
  e.preventDefault();
  const text = $("search-input").value.trim();
  if (!text) return;
  const list = $("search-list");
  list.replaceChildren();
  $("search-results").hidden = false;
  $("search-empty").hidden = true;
  try {
    const page = await api.search(text);
    list.replaceChildren(
      ...page.items.map((m) => {
        const b = el(
          "button",
          { type: "button", class: "conversation-item" },
          el("span", { class: "conversation-title", text: titleOf(state.conversations.get(m.conversationId)) }),
          el("span", { class: "conversation-preview", text: m.body.length > 120 ? `${m.body.slice(0, 120)}…` : m.body }),
        );
        b.addEventListener("click", () => openConversation(m.conversationId));
        return el("li", {}, b);
      }),
    );
    $("search-empty").hidden = page.items.length > 0;
  } catch (err) {
    $("search-empty").hidden = false;
    $("search-empty").textContent = `Search failed: ${describe(err)}`;
  }
}

// ---------- wiring ----------

function wire() {
  $("signin-form").addEventListener("submit", submitSignIn);
  $("signin-toggle").addEventListener("click", toggleRegister);
  $("signout").addEventListener("click", async () => {
    await logout();
    signedOut();
  });
  $("conversations-more").addEventListener("click", () => moreConversations().catch((e) => notice(describe(e))));
  $("new-conversation").addEventListener("click", () => {
    $("new-error").textContent = "";
    $("new-dialog").showModal();
  });
  $("new-cancel").addEventListener("click", () => $("new-dialog").close());
  $("new-form").addEventListener("submit", createConversation);
  $("participants-open").addEventListener("click", () => {
    $("participants-error").textContent = "";
    renderParticipants();
    $("participants-dialog").showModal();
  });
  $("participants-close").addEventListener("click", () => $("participants-dialog").close());
  $("add-form").addEventListener("submit", addParticipant);
  $("back").addEventListener("click", () => {
    closeConversation();
    renderList();
  });
  $("jump-new").addEventListener("click", scrollToBottom);
  $("messages").addEventListener("scroll", () => {
    if (atBottom()) $("jump-new").hidden = true;
  });
  $("search-form").addEventListener("submit", search);
  $("search-close").addEventListener("click", () => ($("search-results").hidden = true));
  const input = $("composer-input");
  input.addEventListener("input", () => {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
    typed();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    input.style.height = "auto";
    send(text);
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") scheduleRead();
  });
  onSessionEnded(signedOut);
  makeReadObserver();
}

async function boot() {
  wire();
  const session = loadSession();
  if (!session) return showSignIn();
  try {
    await startApp(await api.me());
  } catch {
    showSignIn();
  }
}

boot();
