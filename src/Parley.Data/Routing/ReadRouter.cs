using System.Collections.Concurrent;
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
/// failed replica read is retried on the primary at once.
/// </summary>
public sealed class ReadRouter(ParleyDatabase db, FeatureFlags flags, ReplicaBreaker breaker, TimeProvider time)
{
    private static readonly Counter<long> Reads = DataMetrics.Meter.CreateCounter<long>(
        "parley.db.reads", "{read}", "Routed reads by operation and the server that answered.");

    // Node-local read-your-writes window: user → last write (ticks). A user whose writes are older
    // than the lag bound can read the replica, because the breaker keeps the replica within it.
    private readonly ConcurrentDictionary<Guid, long> _lastWrite = new();

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

    public async Task<T> ReadAsync<T>(ReadOperation operation, Guid userId, Func<NpgsqlDataSource, CancellationToken, Task<T>> query, CancellationToken ct)
    {
        if (WouldUseReplica(operation, userId))
        {
            try
            {
                var result = await breaker.ExecuteAsync(db.Replica!, query, ct);
                Reads.Add(1, new("operation", Name(operation)), new("target", "replica"));
                return result;
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                Reads.Add(1, new("operation", Name(operation)), new("target", "replica_fallback"));
            }
        }
        var answer = await query(db.Primary, ct);
        Reads.Add(1, new("operation", Name(operation)), new("target", "primary"));
        return answer;
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
