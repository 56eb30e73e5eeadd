-- The event observer (OBSERVER.md). Every table is keyed by the observer group's name
-- (Parley:Observer:Name), so groups with different names never share a lease, a checkpoint or work.

-- Who reads the replication slot. term grows with every new leader: the fencing token that every
-- enqueue and checkpoint move of a leader is checked against (a deposed leader's writes are refused).
CREATE TABLE observer_leader (
    observer    text PRIMARY KEY,
    term        bigint NOT NULL,
    holder      text NOT NULL,
    holder_pid  integer NOT NULL,
    holder_host text NOT NULL,
    acquired_at timestamptz NOT NULL,
    renewed_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- Every running observer process, for `parley observer status` and `parley status`.
CREATE TABLE observer_instances (
    observer   text NOT NULL,
    instance   text NOT NULL,
    pid        integer NOT NULL,
    host       text NOT NULL,
    url        text,
    role       text NOT NULL,          -- leader | standby
    started_at timestamptz NOT NULL,
    seen_at    timestamptz NOT NULL,
    PRIMARY KEY (observer, instance)
);

-- How far the leader has enqueued: every event of a transaction committed before lsn has its
-- actions in observer_actions. The slot's confirmed position follows it after each commit.
CREATE TABLE observer_checkpoints (
    observer     text PRIMARY KEY,
    slot         text NOT NULL,
    lsn          pg_lsn NOT NULL,
    committed_at timestamptz,          -- commit time of the last transaction passed
    term         bigint NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- The durable action queue: one row per event x action. The unique key is the dedup truth; the
-- event is stored with its action, so any process can run it.
CREATE TABLE observer_actions (
    id           bigserial PRIMARY KEY,
    observer     text NOT NULL,
    event_id     text NOT NULL,
    rule         text NOT NULL,
    action       text NOT NULL,
    kind         text NOT NULL,        -- webhook | email | slack | index
    endpoint     text,                 -- the URL of webhook and slack actions
    event        json NOT NULL,        -- the event as the action receives it
    spec         jsonb NOT NULL,       -- the action with its templates rendered
    retry_ms     bigint[] NOT NULL,    -- delay before each attempt
    timeout_ms   integer NOT NULL,
    status       text NOT NULL,        -- pending | running | succeeded | dead
    attempts     integer NOT NULL DEFAULT 0,
    -- pending: when to run next; running: when the claim lapses (then any process may take it).
    due_at       timestamptz NOT NULL,
    claimed_by   text,
    claim_token  uuid,                 -- fences the outcome: only the current claim may record it
    last_error   text,
    last_status  integer,
    dead_reason  text,                 -- exhausted | too_large
    term         bigint NOT NULL,      -- the leader term that enqueued it
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    completed_at timestamptz,          -- succeeded or dead-lettered
    UNIQUE (observer, event_id, rule, action)
);

-- The workers' queue: due rows, oldest first.
CREATE INDEX idx_observer_actions_due ON observer_actions (observer, due_at) WHERE status IN ('pending', 'running');
-- The dead-letter queue and its depth.
CREATE INDEX idx_observer_actions_dead ON observer_actions (observer, id) WHERE status = 'dead';

-- Every attempt of an action, for `parley observer debug-event`.
CREATE TABLE observer_attempts (
    id          bigserial PRIMARY KEY,
    action_id   bigint NOT NULL REFERENCES observer_actions ON DELETE CASCADE,
    attempt     integer NOT NULL,
    instance    text NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    outcome     text NOT NULL,         -- succeeded | failed | failed_fast | gone | timeout | interrupted | lost
    status      integer,
    error       text
);

CREATE INDEX idx_observer_attempts_action ON observer_attempts (action_id);

-- Endpoints that answered 410 Gone: their actions wait until `parley observer endpoints enable <url>`.
CREATE TABLE observer_endpoints (
    observer    text NOT NULL,
    url         text NOT NULL,
    disabled_at timestamptz NOT NULL,
    reason      text NOT NULL,
    PRIMARY KEY (observer, url)
);
