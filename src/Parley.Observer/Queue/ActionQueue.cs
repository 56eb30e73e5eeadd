using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Parley.Observer.Hosting;

namespace Parley.Observer.Queue;

/// <summary>One action of one event, ready to enqueue.</summary>
/// <param name="DeadReason">Set (<c>too_large</c>) to store it dead-lettered at once.</param>
public sealed record NewAction(
    string EventId, string Rule, string Action, string Kind, string? Endpoint, string EventJson, string SpecJson,
    IReadOnlyList<TimeSpan> Retry, TimeSpan Timeout, string? DeadReason = null)
{
    /// <summary>Its first attempt is due when it is enqueued (not dead-lettered, first retry entry 0).</summary>
    public bool DueAtOnce => DeadReason is null && Retry.Count > 0 && Retry[0] == TimeSpan.Zero;
}

/// <summary>The position the checkpoint moves to with an enqueue.</summary>
/// <param name="CommittedAt">Commit time of the last transaction passed; null for a heartbeat (keeps the last).</param>
public readonly record struct CheckpointMove(ulong Lsn, DateTimeOffset? CommittedAt);

/// <summary>A row a worker claimed: it alone may record the outcome, with <see cref="ClaimToken"/>.</summary>
/// <param name="Attempt">1-based number of this attempt.</param>
/// <param name="Reclaimed">The previous claim lapsed (its process died or hung): that attempt is lost.</param>
public sealed record ClaimedAction(
    long Id, string EventId, string Rule, string Action, string EventJson, string SpecJson, string? Endpoint,
    int Attempt, IReadOnlyList<TimeSpan> Retry, TimeSpan Timeout, Guid ClaimToken, bool Reclaimed, string? PreviousClaimer);

/// <summary>One attempt as <c>debug-event</c> shows it.</summary>
public sealed record AttemptRecord(int Attempt, DateTimeOffset StartedAt, TimeSpan Duration, string Outcome, int? Status, string? Error);

/// <summary>
/// The durable action queue (<c>observer_actions</c>) of one observer group. The leader enqueues with
/// its term (refused once a newer leader exists, in the same transaction as the checkpoint); workers
/// of any process claim due rows with <c>FOR UPDATE SKIP LOCKED</c> and record each outcome under
/// their claim token (refused once the claim lapsed and was taken again).
/// </summary>
public sealed class ActionQueue(ObserverDatabase db, IOptions<ObserverOptions> options)
{
    private readonly string _observer = options.Value.Name;
    // A claim outlives the attempt's timeout, the abandoning of a runner that ignores it, and the grace.
    private readonly TimeSpan _claimGrace = options.Value.ClaimGrace + ActionWorkers.AbandonGrace;

    // One statement (one round trip, atomic by itself): the lease row held FOR SHARE fences the insert
    // and the checkpoint (neither happens once a newer leader exists); the first row (id 0) says the
    // fence held, the others are the actions claimed at insert for this process's own workers.
    internal const string EnqueueSql = """
        WITH fence AS MATERIALIZED (
            SELECT 1 FROM observer_leader
            WHERE observer = $1 AND term = $2 AND holder = $3 AND expires_at > clock_timestamp()
            FOR SHARE),
        eligible AS (
            SELECT t.*, t.cl AND NOT EXISTS (SELECT 1 FROM observer_endpoints d WHERE d.observer = $1 AND d.url = t.ep) AS ok
            FROM unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
                        $16::int[], $17::text[], $18::bool[]) WITH ORDINALITY AS t(e, r, a, k, ep, ev, sp, rt, tm, dr, cl, n)),
        input AS (
            SELECT *, ok AND sum(ok::int) OVER (ORDER BY n) <= $19 AS run FROM eligible),
        added AS (
            INSERT INTO observer_actions
                (observer, event_id, rule, action, kind, endpoint, event, spec, retry_ms, timeout_ms, status, attempts, due_at,
                 claimed_by, claim_token, dead_reason, term, completed_at)
            SELECT $1, e, r, a, k, ep, ev::json, sp::jsonb, rt::bigint[], tm,
                   CASE WHEN dr IS NOT NULL THEN 'dead' WHEN run THEN 'running' ELSE 'pending' END,
                   CASE WHEN run THEN 1 ELSE 0 END,
                   clock_timestamp() + CASE WHEN run THEN make_interval(secs => tm::float8 / 1000 + $7)
                                            ELSE make_interval(secs => (rt::bigint[])[1]::float8 / 1000) END,
                   CASE WHEN run THEN $3 END, CASE WHEN run THEN gen_random_uuid() END,
                   dr, $2, CASE WHEN dr IS NULL THEN NULL ELSE clock_timestamp() END
            FROM input
            WHERE EXISTS (SELECT 1 FROM fence)
            ON CONFLICT (observer, event_id, rule, action) DO NOTHING
            RETURNING id, event_id, rule, action, claim_token),
        moved AS (
            INSERT INTO observer_checkpoints (observer, slot, lsn, committed_at, term, updated_at)
            SELECT $1, $4, $5, $6, $2, clock_timestamp() FROM fence WHERE $5::pg_lsn IS NOT NULL
            ON CONFLICT (observer) DO UPDATE SET lsn = greatest(observer_checkpoints.lsn, excluded.lsn),
                committed_at = coalesce(excluded.committed_at, observer_checkpoints.committed_at),
                term = excluded.term, updated_at = excluded.updated_at
            WHERE observer_checkpoints.term <= excluded.term)
        SELECT 0::bigint, NULL::text, NULL::text, NULL::text, NULL::uuid FROM fence
        UNION ALL
        SELECT id, event_id, rule, action, claim_token FROM added WHERE claim_token IS NOT NULL
        """;

    internal const string ClaimSql = """
        WITH due AS (
            SELECT a.id, a.status AS was, a.claimed_by AS was_by
            FROM observer_actions a
            WHERE a.observer = $1 AND a.status IN ('pending', 'running') AND a.due_at <= clock_timestamp()
              AND (a.endpoint IS NULL OR NOT EXISTS (
                  SELECT 1 FROM observer_endpoints d WHERE d.observer = a.observer AND d.url = a.endpoint))
            ORDER BY a.due_at
            LIMIT $2
            FOR UPDATE OF a SKIP LOCKED)
        UPDATE observer_actions a
        SET status = 'running', attempts = a.attempts + 1, claimed_by = $3, claim_token = gen_random_uuid(),
            due_at = clock_timestamp() + make_interval(secs => (a.timeout_ms::float8 / 1000) + $4), updated_at = clock_timestamp()
        FROM due
        WHERE a.id = due.id
        RETURNING a.id, a.event_id, a.rule, a.action, a.event::text, a.spec::text, a.endpoint, a.attempts, a.retry_ms, a.timeout_ms,
                  a.claim_token, due.was = 'running', due.was_by
        """;

    internal const string CompleteSql = """
        WITH done AS (
            UPDATE observer_actions
            SET status = $3, attempts = attempts + $4, due_at = clock_timestamp() + $5, last_error = $6, last_status = $7,
                dead_reason = $8, claimed_by = NULL, claim_token = NULL, updated_at = clock_timestamp(),
                completed_at = CASE WHEN $3 IN ('succeeded', 'dead') THEN clock_timestamp() END
            WHERE id = $1 AND claim_token = $2 AND status = 'running'
            RETURNING id)
        INSERT INTO observer_attempts (action_id, attempt, instance, started_at, duration_ms, outcome, status, error)
        SELECT id, $9, $10, $11, $12, $13, $7, $6 FROM done
        """;

    internal const string CompleteBatchSql = """
        WITH input AS (
            SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::int[], $5::interval[], $6::text[], $7::int[], $8::text[],
                                 $9::int[], $10::timestamptz[], $11::float8[], $12::text[])
                AS t(id, token, status, delta, delay, error, http, dead, attempt, started, ms, outcome)),
        done AS (
            UPDATE observer_actions a
            SET status = i.status, attempts = a.attempts + i.delta, due_at = clock_timestamp() + i.delay, last_error = i.error,
                last_status = i.http, dead_reason = i.dead, claimed_by = NULL, claim_token = NULL, updated_at = clock_timestamp(),
                completed_at = CASE WHEN i.status IN ('succeeded', 'dead') THEN clock_timestamp() END
            FROM input i
            WHERE a.id = i.id AND a.claim_token = i.token AND a.status = 'running'
            RETURNING a.id),
        recorded AS (
            INSERT INTO observer_attempts (action_id, attempt, instance, started_at, duration_ms, outcome, status, error)
            SELECT i.id, i.attempt, $13, i.started, i.ms, i.outcome, i.http, i.error FROM input i JOIN done d ON d.id = i.id)
        SELECT id FROM done
        """;

    internal const string LostAttemptSql = """
        INSERT INTO observer_attempts (action_id, attempt, instance, started_at, duration_ms, outcome, error)
        VALUES ($1, $2, $3, clock_timestamp(), 0, 'lost', 'the claim lapsed before an outcome was recorded (its process died or hung)')
        """;

    internal const string DisableEndpointSql = """
        INSERT INTO observer_endpoints (observer, url, disabled_at, reason) VALUES ($1, $2, clock_timestamp(), $3)
        ON CONFLICT (observer, url) DO NOTHING
        """;

    internal const string DeadCountSql = "SELECT count(*) FROM observer_actions WHERE observer = $1 AND status = 'dead'";

    /// <summary>
    /// Enqueues <paramref name="actions"/> (repeats of a (event, rule, action) already queued are
    /// dropped) and moves the checkpoint, in one statement that holds the lease row: null, with
    /// nothing written, when <paramref name="term"/> is no longer the live lease of <paramref name="holder"/>.
    /// The first <paramref name="claim"/> actions that are due at once (first retry entry 0, endpoint not
    /// disabled) are stored claimed by <paramref name="holder"/> and returned, so its workers run them
    /// without a claim round trip; the others wait for <see cref="ClaimAsync"/>.
    /// </summary>
    public async Task<IReadOnlyList<ClaimedAction>?> EnqueueAsync(
        long term, string holder, string slot, IReadOnlyList<NewAction> actions, CheckpointMove? checkpoint, int claim, CancellationToken ct)
    {
        await using var cmd = db.Source.CreateCommand(EnqueueSql);
        cmd.Parameters.Add(new() { Value = _observer });
        cmd.Parameters.Add(new() { Value = term });
        cmd.Parameters.Add(new() { Value = holder });
        cmd.Parameters.Add(new() { Value = slot });
        cmd.Parameters.Add(new() { Value = checkpoint is { } m ? new NpgsqlLogSequenceNumber(m.Lsn) : DBNull.Value, NpgsqlDbType = NpgsqlDbType.PgLsn });
        cmd.Parameters.Add(new() { Value = (object?)checkpoint?.CommittedAt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        cmd.Parameters.Add(new() { Value = _claimGrace.TotalSeconds });
        AddText(cmd, actions.Select(a => a.EventId));
        AddText(cmd, actions.Select(a => a.Rule));
        AddText(cmd, actions.Select(a => a.Action));
        AddText(cmd, actions.Select(a => a.Kind));
        AddText(cmd, actions.Select(a => a.Endpoint));
        AddText(cmd, actions.Select(a => a.EventJson));
        AddText(cmd, actions.Select(a => a.SpecJson));
        AddText(cmd, actions.Select(a => "{" + string.Join(',', a.Retry.Select(r => (long)r.TotalMilliseconds)) + "}"));
        cmd.Parameters.Add(new() { Value = actions.Select(a => (int)Math.Min(int.MaxValue, a.Timeout.TotalMilliseconds)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        AddText(cmd, actions.Select(a => a.DeadReason));
        cmd.Parameters.Add(new() { Value = actions.Select(a => a.DueAtOnce).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Boolean });
        cmd.Parameters.Add(new() { Value = claim });

        var byKey = new Dictionary<(string, string, string), NewAction>();
        foreach (var a in actions) byKey.TryAdd((a.EventId, a.Rule, a.Action), a);
        var fenceHeld = false;
        var claimed = new List<ClaimedAction>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            var id = r.GetInt64(0);
            if (id == 0)
            {
                fenceHeld = true;
                continue;
            }
            var a = byKey[(r.GetString(1), r.GetString(2), r.GetString(3))];
            claimed.Add(new ClaimedAction(id, a.EventId, a.Rule, a.Action, a.EventJson, a.SpecJson, a.Endpoint, 1, a.Retry, a.Timeout, r.GetGuid(4), false, null));
        }
        return fenceHeld ? claimed : null;
    }

    /// <summary>Claims up to <paramref name="max"/> due actions (and lapsed claims) for <paramref name="instance"/>.</summary>
    public async Task<IReadOnlyList<ClaimedAction>> ClaimAsync(string instance, int max, CancellationToken ct)
    {
        await using var conn = await db.Source.OpenConnectionAsync(ct);
        var claimed = new List<ClaimedAction>();
        await using (var cmd = new NpgsqlCommand(ClaimSql, conn))
        {
            cmd.Parameters.Add(new() { Value = _observer });
            cmd.Parameters.Add(new() { Value = max });
            cmd.Parameters.Add(new() { Value = instance });
            cmd.Parameters.Add(new() { Value = _claimGrace.TotalSeconds });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                claimed.Add(new ClaimedAction(
                    r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5),
                    r.IsDBNull(6) ? null : r.GetString(6), r.GetInt32(7),
                    r.GetFieldValue<long[]>(8).Select(ms => TimeSpan.FromMilliseconds(ms)).ToList(),
                    TimeSpan.FromMilliseconds(r.GetInt32(9)), r.GetGuid(10), r.GetBoolean(11), r.IsDBNull(12) ? null : r.GetString(12)));
            }
        }
        foreach (var lost in claimed.Where(c => c.Reclaimed))
        {
            await using var cmd = new NpgsqlCommand(LostAttemptSql, conn);
            cmd.Parameters.Add(new() { Value = lost.Id });
            cmd.Parameters.Add(new() { Value = lost.Attempt - 1 });
            cmd.Parameters.Add(new() { Value = lost.PreviousClaimer ?? "" });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        return claimed;
    }

    /// <summary>Records one attempt and what follows from it; false when the claim had lapsed (another process owns the row now).</summary>
    public async Task<bool> CompleteAsync(ClaimedAction claim, string instance, AttemptRecord attempt, Decision decision, CancellationToken ct)
    {
        await using var conn = await db.Source.OpenConnectionAsync(ct);
        // One statement is atomic by itself; a transaction only when the endpoint is disabled with it.
        await using var tx = decision.DisableEndpoint ? await conn.BeginTransactionAsync(ct) : null;
        int recorded;
        await using (var cmd = new NpgsqlCommand(CompleteSql, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = claim.Id });
            cmd.Parameters.Add(new() { Value = claim.ClaimToken });
            cmd.Parameters.Add(new() { Value = decision.Status });
            cmd.Parameters.Add(new() { Value = decision.AttemptsDelta });
            cmd.Parameters.Add(new() { Value = decision.Delay });
            cmd.Parameters.Add(new() { Value = (object?)attempt.Error ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = (object?)attempt.Status ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
            cmd.Parameters.Add(new() { Value = (object?)decision.DeadReason ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = attempt.Attempt });
            cmd.Parameters.Add(new() { Value = instance });
            cmd.Parameters.Add(new() { Value = attempt.StartedAt });
            cmd.Parameters.Add(new() { Value = attempt.Duration.TotalMilliseconds });
            cmd.Parameters.Add(new() { Value = attempt.Outcome });
            recorded = await cmd.ExecuteNonQueryAsync(ct);
        }
        if (recorded > 0 && decision.DisableEndpoint && claim.Endpoint is { } url)
        {
            await using var cmd = new NpgsqlCommand(DisableEndpointSql, conn, tx);
            cmd.Parameters.Add(new() { Value = _observer });
            cmd.Parameters.Add(new() { Value = url });
            cmd.Parameters.Add(new() { Value = $"410 Gone from {claim.EventId}.{claim.Rule}.{claim.Action}" });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        if (tx is not null) await tx.CommitAsync(ct);
        return recorded > 0;
    }

    /// <summary>
    /// <see cref="CompleteAsync"/> for many attempts in one statement (none may disable an endpoint);
    /// returns the ids whose outcome was recorded (the others' claims had lapsed).
    /// </summary>
    public async Task<IReadOnlySet<long>> CompleteBatchAsync(IReadOnlyList<(ClaimedAction Claim, AttemptRecord Attempt, Decision Decision)> done, string instance, CancellationToken ct)
    {
        await using var cmd = db.Source.CreateCommand(CompleteBatchSql);
        cmd.Parameters.Add(new() { Value = done.Select(d => d.Claim.Id).ToArray() });
        cmd.Parameters.Add(new() { Value = done.Select(d => d.Claim.ClaimToken).ToArray() });
        AddText(cmd, done.Select(d => d.Decision.Status));
        cmd.Parameters.Add(new() { Value = done.Select(d => d.Decision.AttemptsDelta).ToArray() });
        cmd.Parameters.Add(new() { Value = done.Select(d => d.Decision.Delay).ToArray() });
        AddText(cmd, done.Select(d => d.Attempt.Error));
        cmd.Parameters.Add(new() { Value = done.Select(d => d.Attempt.Status).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        AddText(cmd, done.Select(d => d.Decision.DeadReason));
        cmd.Parameters.Add(new() { Value = done.Select(d => d.Attempt.Attempt).ToArray() });
        cmd.Parameters.Add(new() { Value = done.Select(d => d.Attempt.StartedAt).ToArray() });
        cmd.Parameters.Add(new() { Value = done.Select(d => d.Attempt.Duration.TotalMilliseconds).ToArray() });
        AddText(cmd, done.Select(d => d.Attempt.Outcome));
        cmd.Parameters.Add(new() { Value = instance });
        var recorded = new HashSet<long>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) recorded.Add(r.GetInt64(0));
        return recorded;
    }

    /// <summary>The checkpoint's position (0 when none): events committed before it had their actions enqueued by an earlier read.</summary>
    public async Task<ulong> CheckpointAsync(CancellationToken ct)
    {
        await using var cmd = db.Source.CreateCommand("SELECT lsn FROM observer_checkpoints WHERE observer = $1");
        cmd.Parameters.Add(new() { Value = _observer });
        return await cmd.ExecuteScalarAsync(ct) is NpgsqlLogSequenceNumber lsn ? (ulong)lsn : 0;
    }

    /// <summary>Actions in the dead-letter queue (<c>observer_dlq_depth</c>).</summary>
    public async Task<long> DeadCountAsync(CancellationToken ct)
    {
        await using var cmd = db.Source.CreateCommand(DeadCountSql);
        cmd.Parameters.Add(new() { Value = _observer });
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    private static void AddText(NpgsqlCommand cmd, IEnumerable<string?> values) =>
        cmd.Parameters.Add(new() { Value = values.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
}
