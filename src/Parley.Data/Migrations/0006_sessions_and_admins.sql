-- Admins are a role stored with the user (`parley admin grant|revoke`), not handles in configuration.
ALTER TABLE users ADD COLUMN is_admin boolean NOT NULL DEFAULT false;

-- A grant for a handle nobody registered yet (`parley up --admin`, a stack the operator starts
-- for themself): the registration of that handle takes it and deletes the row.
CREATE TABLE pending_admin_grants (
    handle     text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A login session: the family of its refresh tokens, and the `sid` of its access tokens. Revoked
-- by logout or by the reuse of a rotated refresh token.
CREATE TABLE auth_sessions (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);

-- Refresh tokens by SHA-256 of the opaque token (the token itself is never stored). A rotated
-- token keeps its row with used_at set, so presenting it again is detected as reuse.
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
