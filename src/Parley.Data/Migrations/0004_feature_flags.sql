-- Runtime feature flags. A change is announced on channel parley_flags; nodes also poll.
CREATE TABLE feature_flags (
    name       text PRIMARY KEY,
    enabled    boolean NOT NULL DEFAULT false,
    percentage integer NOT NULL DEFAULT 100 CHECK (percentage BETWEEN 0 AND 100),
    updated_at timestamptz NOT NULL DEFAULT now()
);
