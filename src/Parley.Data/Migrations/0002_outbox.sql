-- Transactional outbox: every event is written in the same transaction as the change it describes,
-- then moved to the Redis event stream by the dispatcher on some node.

CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    conversation_id uuid NOT NULL,
    type            text NOT NULL,
    -- The event's fields beyond type, eventId and conversationId, copied into the client frame.
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT '-infinity',
    last_error      text,
    dispatched_at   timestamptz
);

-- The dispatcher's queue: undispatched rows in id order. Stays small; dispatched rows are pruned.
CREATE INDEX idx_outbox_undispatched ON outbox (id) WHERE dispatched_at IS NULL;
-- Pruning of dispatched rows.
CREATE INDEX idx_outbox_dispatched_at ON outbox (dispatched_at) WHERE dispatched_at IS NOT NULL;

-- Rows that failed past the retry limit; `parley dlq retry` puts them back into the outbox.
CREATE TABLE dead_letters (
    id              bigserial PRIMARY KEY,
    outbox_id       bigint NOT NULL,
    conversation_id uuid NOT NULL,
    type            text NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer NOT NULL,
    last_error      text,
    dead_at         timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Wakes the dispatchers (LISTEN parley_outbox); one notification per inserting statement.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('parley_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
