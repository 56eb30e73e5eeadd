using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Parley.Observer.Inspection;

/// <summary>A registered observer process (<c>observer_instances</c>), with what its <c>GET /status</c> answered (null: no answer).</summary>
public sealed record InstanceInfo(
    string Instance, int Pid, string Host, string? Url, string Role, DateTimeOffset StartedAt, DateTimeOffset SeenAt, InstanceStatus? Live, string? Error);

/// <summary>The group's lease (<c>observer_leader</c>); <see cref="Live"/> while it has not lapsed.</summary>
public sealed record LeaderInfo(long Term, string Instance, int Pid, string Host, DateTimeOffset Since, DateTimeOffset ExpiresAt, bool Live);

/// <summary>
/// The checkpoint (<c>observer_checkpoints</c>) and the slot behind it: <see cref="LagBytes"/> is the WAL
/// written since the slot's confirmed position, <see cref="RetainedBytes"/> what the slot holds back.
/// </summary>
public sealed record CheckpointInfo(string Slot, string Lsn, DateTimeOffset? CommittedAt, DateTimeOffset UpdatedAt, long? LagBytes, long? RetainedBytes, bool SlotActive);

/// <summary>An endpoint that answered 410 Gone: its actions wait until <c>endpoints enable</c>.</summary>
public sealed record DisabledEndpoint(string Url, DateTimeOffset DisabledAt, string Reason);

/// <summary>What <c>parley observer status</c> shows of one group.</summary>
public sealed record GroupStatus(
    string Observer, LeaderInfo? Leader, CheckpointInfo? Checkpoint, IReadOnlyList<InstanceInfo> Instances,
    long DlqDepth, long Pending, IReadOnlyList<DisabledEndpoint> DisabledEndpoints);

/// <summary>One queued action (a row of <c>observer_actions</c>); <see cref="WebhookId"/> is the same on every attempt.</summary>
public sealed record ActionInfo(
    long Id, string EventId, string Rule, string Action, string Kind, string? Endpoint, string Status, int Attempts,
    string? DeadReason, string? LastError, int? LastStatus, DateTimeOffset CreatedAt, DateTimeOffset? CompletedAt)
{
    public string WebhookId => $"{EventId}.{Rule}.{Action}";
}

/// <summary>One attempt of an action as <c>debug-event</c> shows it.</summary>
public sealed record AttemptInfo(int Attempt, string Instance, DateTimeOffset StartedAt, double DurationMs, string Outcome, int? Status, string? Error);

/// <summary>A dead letter with its event and its rendered action (the webhook secret left out).</summary>
public sealed record DeadLetterDetail(ActionInfo Action, JsonElement Event, JsonElement Spec, IReadOnlyList<AttemptInfo> Attempts);

/// <summary>An action of an event with every attempt made.</summary>
public sealed record ActionTrace(ActionInfo Action, IReadOnlyList<AttemptInfo> Attempts);

/// <summary>What <c>debug-event</c> shows: the event as its actions received it, the rules it matched, each action's attempts.</summary>
public sealed record EventTrace(string EventId, JsonElement Event, IReadOnlyList<string> Rules, IReadOnlyList<ActionTrace> Actions);

/// <summary>What <c>dlq retry</c> did: actions put back into the queue, and dead letters that cannot be retried (<c>too_large</c>: the event was not kept).</summary>
public sealed record RetryResult(int Retried, IReadOnlyList<long> NotRetried);

/// <summary>
/// Reads and repairs the observer's tables for <c>parley observer status|debug-event|dlq|endpoints</c>,
/// for one group (<paramref name="observer"/>, <c>Parley:Observer:Name</c>). Works with no observer
/// running: everything but the live figures of <see cref="InstanceStatus"/> is in PostgreSQL.
/// </summary>
public sealed class ObserverInspector(NpgsqlDataSource db, string observer)
{
    /// <summary>How long <see cref="StatusAsync"/> waits for each process's <c>GET /status</c>.</summary>
    public static readonly TimeSpan InstanceTimeout = TimeSpan.FromSeconds(2);

    private const string ActionColumns = """
        a.id, a.event_id, a.rule, a.action, a.kind, a.endpoint, a.status, a.attempts, a.dead_reason, a.last_error, a.last_status, a.created_at, a.completed_at
        """;

    internal const string InstancesSql = "SELECT instance, pid, host, url, role, started_at, seen_at FROM observer_instances WHERE observer = $1 ORDER BY started_at, instance";

    internal const string LeaderSql = """
        SELECT term, holder, holder_pid, holder_host, acquired_at, expires_at, expires_at > clock_timestamp() FROM observer_leader WHERE observer = $1
        """;

    internal const string CheckpointSql = """
        SELECT c.slot, c.lsn::text, c.committed_at, c.updated_at,
               (pg_current_wal_lsn() - s.confirmed_flush_lsn)::bigint, (pg_current_wal_lsn() - s.restart_lsn)::bigint, coalesce(s.active, false)
        FROM observer_checkpoints c LEFT JOIN pg_replication_slots s ON s.slot_name = c.slot
        WHERE c.observer = $1
        """;

    internal const string CountsSql = """
        SELECT count(*) FILTER (WHERE status = 'dead'), count(*) FILTER (WHERE status IN ('pending', 'running'))
        FROM observer_actions WHERE observer = $1 AND status <> 'succeeded'
        """;

    internal const string DisabledSql = "SELECT url, disabled_at, reason FROM observer_endpoints WHERE observer = $1 ORDER BY url";

    internal const string ListDeadSql = $"SELECT {ActionColumns} FROM observer_actions a WHERE a.observer = $1 AND a.status = 'dead' ORDER BY a.id LIMIT $2";

    internal const string ShowSql = $"SELECT {ActionColumns}, a.event::text, (a.spec - 'secret')::text FROM observer_actions a WHERE a.observer = $1 AND a.id = $2";

    internal const string EventSql = $"SELECT {ActionColumns}, a.event::text FROM observer_actions a WHERE a.observer = $1 AND a.event_id = $2 ORDER BY a.rule, a.action";

    internal const string AttemptsSql = """
        SELECT action_id, attempt, instance, started_at, duration_ms, outcome, status, error FROM observer_attempts
        WHERE action_id = ANY($1) ORDER BY action_id, id
        """;

    // One more attempt, due now: the schedule gets one entry (no wait), so the retry is attempt n+1 and its
    // failure dead-letters it again. webhook-id is the row's (event, rule, action), so it stays the same.
    internal const string RetrySql = """
        UPDATE observer_actions
        SET status = 'pending', due_at = clock_timestamp(), retry_ms = retry_ms || 0::bigint, dead_reason = NULL,
            completed_at = NULL, updated_at = clock_timestamp()
        WHERE observer = $1 AND status = 'dead' AND dead_reason IS DISTINCT FROM 'too_large' AND ($2::bigint[] IS NULL OR id = ANY($2))
        RETURNING id
        """;

    internal const string NotRetriableSql = """
        SELECT id FROM observer_actions
        WHERE observer = $1 AND status = 'dead' AND dead_reason = 'too_large' AND ($2::bigint[] IS NULL OR id = ANY($2)) ORDER BY id
        """;

    internal const string PurgeSql = "DELETE FROM observer_actions WHERE observer = $1 AND status = 'dead' AND ($2::bigint[] IS NULL OR id = ANY($2))";

    internal const string EnableSql = "DELETE FROM observer_endpoints WHERE observer = $1 AND url = $2";

    public string Observer => observer;

    /// <summary>The group's lease, checkpoint, queue counts and instances, each asked for its live status (in parallel, bounded).</summary>
    public async Task<GroupStatus> StatusAsync(HttpClient http, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        var rows = new List<InstanceInfo>();
        await using (var cmd = Command(InstancesSql))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
                rows.Add(new InstanceInfo(r.GetString(0), r.GetInt32(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetString(4),
                    r.GetFieldValue<DateTimeOffset>(5), r.GetFieldValue<DateTimeOffset>(6), null, null));
        }
        LeaderInfo? leader = null;
        await using (var cmd = Command(LeaderSql))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            if (await r.ReadAsync(ct))
                leader = new LeaderInfo(r.GetInt64(0), r.GetString(1), r.GetInt32(2), r.GetString(3), r.GetFieldValue<DateTimeOffset>(4), r.GetFieldValue<DateTimeOffset>(5), r.GetBoolean(6));
        }
        CheckpointInfo? checkpoint = null;
        await using (var cmd = Command(CheckpointSql))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            if (await r.ReadAsync(ct))
                checkpoint = new CheckpointInfo(r.GetString(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetFieldValue<DateTimeOffset>(2), r.GetFieldValue<DateTimeOffset>(3),
                    r.IsDBNull(4) ? null : r.GetInt64(4), r.IsDBNull(5) ? null : r.GetInt64(5), r.GetBoolean(6));
        }
        long dead, pending;
        await using (var cmd = Command(CountsSql))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            await r.ReadAsync(ct);
            (dead, pending) = (r.GetInt64(0), r.GetInt64(1));
        }
        var disabled = new List<DisabledEndpoint>();
        await using (var cmd = Command(DisabledSql))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
                disabled.Add(new DisabledEndpoint(r.GetString(0), r.GetFieldValue<DateTimeOffset>(1), r.GetString(2)));
        }
        var instances = await Task.WhenAll(rows.Select(row => AskAsync(http, row, ct)));
        return new GroupStatus(observer, leader, checkpoint, instances, dead, pending, disabled);
    }

    public async Task<IReadOnlyList<ActionInfo>> ListDeadAsync(int limit, CancellationToken ct)
    {
        await using var cmd = Command(ListDeadSql, limit);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<ActionInfo>();
        while (await r.ReadAsync(ct)) list.Add(ReadAction(r));
        return list;
    }

    public async Task<long> DeadCountAsync(CancellationToken ct)
    {
        await using var cmd = Command(CountsSql);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return r.GetInt64(0);
    }

    /// <summary>A queued action (dead or not) with its event, its action and its attempts; null when the group has no such id.</summary>
    public async Task<DeadLetterDetail?> ShowAsync(long id, CancellationToken ct)
    {
        ActionInfo action;
        JsonElement e, spec;
        await using (var cmd = Command(ShowSql, id))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            if (!await r.ReadAsync(ct)) return null;
            action = ReadAction(r);
            e = Parse(r.GetString(13));
            spec = Parse(r.GetString(14));
        }
        var attempts = await AttemptsAsync([id], ct);
        return new DeadLetterDetail(action, e, spec, attempts.GetValueOrDefault(id, []));
    }

    /// <summary>Every action queued for <paramref name="eventId"/> with every attempt; null when none was (it matched no rule, or was not read yet).</summary>
    public async Task<EventTrace?> TraceEventAsync(string eventId, CancellationToken ct)
    {
        var actions = new List<ActionInfo>();
        JsonElement? e = null;
        await using (var cmd = Command(EventSql, eventId))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                actions.Add(ReadAction(r));
                e ??= Parse(r.GetString(13));
            }
        }
        if (e is null) return null;
        var attempts = await AttemptsAsync([.. actions.Select(a => a.Id)], ct);
        return new EventTrace(eventId, e.Value, [.. actions.Select(a => a.Rule).Distinct(StringComparer.Ordinal)],
            [.. actions.Select(a => new ActionTrace(a, attempts.GetValueOrDefault(a.Id, [])))]);
    }

    /// <summary>Puts dead letters back into the queue for one more attempt (<paramref name="ids"/> null: all).</summary>
    public async Task<RetryResult> RetryAsync(IReadOnlyCollection<long>? ids, CancellationToken ct)
    {
        var retried = 0;
        await using (var cmd = Command(RetrySql, Ids(ids)))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct)) retried++;
        }
        var skipped = new List<long>();
        await using (var cmd = Command(NotRetriableSql, Ids(ids)))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct)) skipped.Add(r.GetInt64(0));
        }
        return new RetryResult(retried, skipped);
    }

    /// <summary>Deletes dead letters with their attempts (<paramref name="ids"/> null: all).</summary>
    public async Task<int> PurgeAsync(IReadOnlyCollection<long>? ids, CancellationToken ct)
    {
        await using var cmd = Command(PurgeSql, Ids(ids));
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Lets the actions of an endpoint disabled by a 410 run again; false when it was not disabled.</summary>
    public async Task<bool> EnableEndpointAsync(string url, CancellationToken ct)
    {
        await using var cmd = Command(EnableSql, url);
        return await cmd.ExecuteNonQueryAsync(ct) > 0;
    }

    private static async Task<InstanceInfo> AskAsync(HttpClient http, InstanceInfo row, CancellationToken ct)
    {
        if (row.Url is null) return row with { Error = "no URL registered" };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(InstanceTimeout);
            var live = await http.GetFromJsonAsync<InstanceStatus>(new Uri(new Uri(row.Url), "/status"), JsonSerializerOptions.Web, timeout.Token);
            return row with { Live = live };
        }
        catch (Exception e) when (e is HttpRequestException or JsonException || e is OperationCanceledException && !ct.IsCancellationRequested)
        {
            return row with { Error = e is OperationCanceledException ? $"no answer within {InstanceTimeout.TotalSeconds:0} s" : e.Message };
        }
    }

    private async Task<Dictionary<long, IReadOnlyList<AttemptInfo>>> AttemptsAsync(long[] ids, CancellationToken ct)
    {
        var byAction = new Dictionary<long, List<AttemptInfo>>();
        await using (var cmd = db.CreateCommand(AttemptsSql))
        {
            cmd.Parameters.Add(new() { Value = ids });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var id = r.GetInt64(0);
                if (!byAction.TryGetValue(id, out var list)) byAction[id] = list = [];
                list.Add(new AttemptInfo(r.GetInt32(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3), r.GetDouble(4), r.GetString(5),
                    r.IsDBNull(6) ? null : r.GetInt32(6), r.IsDBNull(7) ? null : r.GetString(7)));
            }
        }
        return byAction.ToDictionary(p => p.Key, p => (IReadOnlyList<AttemptInfo>)p.Value);
    }

    private static ActionInfo ReadAction(NpgsqlDataReader r) => new(
        r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5), r.GetString(6), r.GetInt32(7),
        r.IsDBNull(8) ? null : r.GetString(8), r.IsDBNull(9) ? null : r.GetString(9), r.IsDBNull(10) ? null : r.GetInt32(10),
        r.GetFieldValue<DateTimeOffset>(11), r.IsDBNull(12) ? null : r.GetFieldValue<DateTimeOffset>(12));

    private static JsonElement Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }

    private static object Ids(IReadOnlyCollection<long>? ids) => ids is null ? DBNull.Value : ids.ToArray();

    private NpgsqlCommand Command(string sql, object? arg = null)
    {
        var cmd = db.CreateCommand(sql);
        cmd.Parameters.Add(new() { Value = observer });
        if (arg is not null)
            cmd.Parameters.Add(arg is DBNull ? new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint } : new NpgsqlParameter { Value = arg });
        return cmd;
    }
}
