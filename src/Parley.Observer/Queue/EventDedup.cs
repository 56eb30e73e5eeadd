using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Parley.Redis;

namespace Parley.Observer.Queue;

/// <summary>
/// The dedup fast path: a Redis key per event whose actions are enqueued, set after the enqueue
/// commits (so a key never stands for work that was not stored). An event read again (after a restart
/// or failover, from before the slot's confirmed position) is skipped without a database write.
/// PostgreSQL's unique key stays the truth: when Redis errs or is slow, the check is skipped and the
/// insert's <c>ON CONFLICT DO NOTHING</c> drops the repeat.
/// </summary>
public sealed partial class EventDedup(RedisClient redis, IOptions<ObserverOptions> options, ILogger<EventDedup> logger)
{
    private readonly ObserverOptions _options = options.Value;

    private string Key(string eventId) => redis.Key($"observer:{_options.Name}:event:{eventId}");

    /// <summary>The ids among <paramref name="eventIds"/> already enqueued by an earlier read; empty when Redis does not answer in time.</summary>
    public async Task<IReadOnlySet<string>> SeenAsync(IReadOnlyList<string> eventIds, CancellationToken ct)
    {
        if (eventIds.Count == 0 || !redis.IsConnected) return new HashSet<string>();
        try
        {
            var reply = await redis.ExecuteAsync("MGET", eventIds.Select(id => (object)Key(id)).ToList(), _options.DedupTimeout, ct);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < reply.Items.Count && i < eventIds.Count; i++)
                if (!reply.Items[i].IsNull) seen.Add(eventIds[i]);
            return seen;
        }
        catch (Exception e) when (e is RedisException or TimeoutException or IOException or ObjectDisposedException || e is OperationCanceledException && !ct.IsCancellationRequested)
        {
            LogSkipped(logger, e.Message);
            return new HashSet<string>();
        }
    }

    /// <summary>Marks the events as enqueued, best effort (a lost mark costs one ON CONFLICT later).</summary>
    public async Task MarkAsync(IReadOnlyList<string> eventIds, CancellationToken ct)
    {
        if (eventIds.Count == 0 || !redis.IsConnected) return;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.DedupTimeout * 4);
            await Task.WhenAll(eventIds.Select(id => redis.SetAsync(Key(id), "1", _options.DedupTtl, onlyIfNotExists: true, timeout.Token)));
        }
        catch (Exception e) when (e is RedisException or TimeoutException or IOException or ObjectDisposedException || e is OperationCanceledException && !ct.IsCancellationRequested)
        {
            LogSkipped(logger, e.Message);
        }
    }

    [LoggerMessage(EventId = 8201, Level = LogLevel.Debug, Message = "Observer dedup: Redis skipped ({Reason}); PostgreSQL's unique key decides")]
    private static partial void LogSkipped(ILogger logger, string reason);
}
