using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Npgsql;
using Parley.Data.Flags;

namespace Parley.Data.Routing;

/// <summary>Reads that may be served by the replica, each behind its own flag.</summary>
public enum ReadOperation
{
    MessageHistory,
    ConversationList,
}

/// <summary>
/// Sends a read to the replica when its flag is on for the user, the replica's breaker is closed
/// and the user has not written within the lag bound (so nobody misses what it just sent);
/// otherwise, and whenever the replica fails, to the primary. Answers are always correct: a
/// failed replica read is retried on the primary at once. Every read is counted by its flag's
/// variant for the user (<see cref="FlagVariantMetrics"/>), whichever server answered.
/// </summary>
public sealed class ReadRouter(ParleyDatabase db, FeatureFlags flags, ReplicaBreaker breaker, TimeProvider time)
{
    private static readonly Counter<long> Reads = DataMetrics.Meter.CreateCounter<long>(
        "parley.db.reads", "{read}", "Routed reads by operation and the server that answered.");

    // Node-local read-your-writes window: user → last write (ticks). A user whose writes are older
    // than the lag bound can read the replica, because the breaker keeps the replica within it.
    private readonly ConcurrentDictionary<Guid, long> _lastWrite = new();

    // Physical connections (server, backend process id) that have already been handed out once.
    private const int SeenConnectionsBound = 10_000;
    private readonly ConcurrentDictionary<(bool Primary, int BackendId), byte> _seenConnections = new();

    public void RecordWrite(Guid userId)
    {
        _lastWrite[userId] = time.GetUtcNow().UtcTicks;
        if (_lastWrite.Count > 100_000) Prune();
    }

    /// <summary>Which server this read would go to now (diagnostics and tests).</summary>
    public bool WouldUseReplica(ReadOperation operation, Guid userId) =>
        db.Replica is not null
        && flags.IsEnabled(Flag(operation), userId)
        && breaker.AllowsReads
        && !WroteRecently(userId);

    /// <summary>
    /// Runs <paramref name="query"/> on a connection of the server chosen (its second argument: true on the primary).
    /// The connection is opened here so that the wait for it, the pool's queue on this path, is measured.
    /// </summary>
    public async Task<T> ReadAsync<T>(ReadOperation operation, Guid userId, Func<NpgsqlConnection, bool, CancellationToken, Task<T>> query, CancellationToken ct)
    {
        var flag = Flag(operation);
        var measure = new FlagVariantMetrics.Measurement(flag, flags.IsEnabled(flag, userId));
        try
        {
            if (WouldUseReplica(operation, userId))
            {
                try
                {
                    var result = await breaker.ExecuteAsync(db.Replica!, (source, token) => OnConnectionAsync(source, false, query, measure, token), ct);
                    Reads.Add(1, new("operation", Name(operation)), new("target", "replica"));
                    measure.Complete(FlagVariantMetrics.Ok);
                    return result;
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    Reads.Add(1, new("operation", Name(operation)), new("target", "replica_fallback"));
                    measure.Outcome = FlagVariantMetrics.Fallback;
                }
            }
            var answer = await OnConnectionAsync(db.Primary, true, query, measure, ct);
            Reads.Add(1, new("operation", Name(operation)), new("target", "primary"));
            measure.Complete(measure.Outcome ?? FlagVariantMetrics.Ok);
            return answer;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            measure.Complete(FlagVariantMetrics.Error);
            throw;
        }
    }

    private async Task<T> OnConnectionAsync<T>(
        NpgsqlDataSource source, bool primary, Func<NpgsqlConnection, bool, CancellationToken, Task<T>> query, FlagVariantMetrics.Measurement measure, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        await using var conn = await source.OpenConnectionAsync(ct);
        // Npgsql opens a new physical connection only when the pool has room, so a new one means no queue: its time is
        // connection establishment (a backend fork, slow on a loaded machine), which the latency criteria judge. Counting
        // it as queue wait failed a healthy canary whose pool was cold while the control's was warm.
        if (!IsNewConnection(primary, conn.ProcessID)) measure.AddPoolWait(Stopwatch.GetElapsedTime(started));
        return await query(conn, primary, ct);
    }

    private bool IsNewConnection(bool primary, int backendId)
    {
        // Bounded: pools recycle connections, so forget them all now and then (each is then new once more).
        if (_seenConnections.Count > SeenConnectionsBound) _seenConnections.Clear();
        return _seenConnections.TryAdd((primary, backendId), 0);
    }

    private bool WroteRecently(Guid userId) =>
        _lastWrite.TryGetValue(userId, out var ticks)
        && time.GetUtcNow().UtcTicks - ticks < breaker.LagBound.Ticks;

    private void Prune()
    {
        var horizon = time.GetUtcNow().UtcTicks - breaker.LagBound.Ticks;
        foreach (var (user, ticks) in _lastWrite)
            if (ticks < horizon) _lastWrite.TryRemove(user, out _);
    }

    private static string Flag(ReadOperation operation) => operation switch
    {
        ReadOperation.MessageHistory => FlagNames.HistoryReplica,
        _ => FlagNames.ListReplica,
    };

    private static string Name(ReadOperation operation) => operation switch
    {
        ReadOperation.MessageHistory => "message_history",
        _ => "conversation_list",
    };
}
