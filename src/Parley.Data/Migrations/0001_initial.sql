-- Users, conversations, participants and messages.
-- Every list is keyset-paginated; each hot read has the index named beside it.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    handle        text NOT NULL UNIQUE,
    display_name  text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE TABLE conversations (
    id               uuid PRIMARY KEY,
    title            text,
    owner_id         uuid NOT NULL REFERENCES users (id),
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    -- Denormalised so the conversation list sorts without touching messages.
    last_activity_at timestamptz NOT NULL,
    last_message_id  uuid,
    deleted_at       timestamptz
);

CREATE TABLE participants (
    conversation_id      uuid NOT NULL REFERENCES conversations (id),
    user_id              uuid NOT NULL REFERENCES users (id),
    role                 text NOT NULL CHECK (role IN ('owner', 'member')),
    joined_at            timestamptz NOT NULL,
    -- Read marker: the (created_at, id) of the newest message the user has read.
    last_read_at         timestamptz,
    last_read_message_id uuid,
    PRIMARY KEY (conversation_id, user_id)
);

-- Conversation list: a user's memberships, then each conversation by primary key.
CREATE INDEX idx_participants_user ON participants (user_id, conversation_id);

CREATE TABLE messages (
    id                uuid PRIMARY KEY,
    conversation_id   uuid NOT NULL REFERENCES conversations (id),
    sender_id         uuid NOT NULL REFERENCES users (id),
    body              text NOT NULL,
    client_message_id text,
    created_at        timestamptz NOT NULL
);

-- History page (newest first), catch-up (after=, oldest first), last message and unread count.
-- sender_id is included so the unread count is an index-only scan.
CREATE INDEX idx_messages_conversation_created
    ON messages (conversation_id, created_at DESC, id DESC) INCLUDE (sender_id);

-- Idempotent send: one message per (conversation, sender, clientMessageId).
CREATE UNIQUE INDEX idx_messages_client_message_id
    ON messages (conversation_id, sender_id, client_message_id)
    WHERE client_message_id IS NOT NULL;
