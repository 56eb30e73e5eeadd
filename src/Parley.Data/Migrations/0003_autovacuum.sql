-- Per-table autovacuum for the hot tables (seed 001): vacuum and analyse after a small share of
-- rows change instead of PostgreSQL's 20 % default, so dead tuples and stale statistics stay low
-- on tables that grow by millions of rows.
ALTER TABLE messages SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.01,
    autovacuum_vacuum_insert_scale_factor = 0.05);
ALTER TABLE conversations SET (
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE participants SET (
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE outbox SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_analyze_scale_factor = 0.01,
    autovacuum_vacuum_cost_delay = 0);
