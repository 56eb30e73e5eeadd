using Microsoft.Extensions.Options;
using Npgsql;
using Parley.Data;
using Parley.Data.Outbox;

namespace Parley.Server.Delivery;

/// <summary>
/// Moves outbox rows to the event stream. Runs on every node, without a leader: each shard is taken
/// under a transaction-scoped advisory lock, so one node at a time publishes it, in id order. Woken
/// in-process by <see cref="Wake"/> after this node answers a write (no NOTIFY: it serialises commits),
/// with <see cref="DeliveryOptions.PollInterval"/> polling for rows another node could not take.
/// While Redis is unreachable rows stay in the outbox and are retried with exponential backoff; past
/// <see cref="DeliveryOptions.MaxAttempts"/> they move to <c>dead_letters</c>.
/// </summary>
public sealed partial class OutboxDispatcher(
    OutboxStore outbox, EventStream stream, IOptions<DeliveryOptions> options, TimeProvider time,
    ILogger<OutboxDispatcher> logger) : BackgroundService
{
    private readonly SemaphoreSlim _wake = new(0, 1);

    /// <summary>Asks for a dispatch round now (cheap; repeated calls coalesce).</summary>
    public void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0) _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // already signalled
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var o = options.Value;
        var retry = new OutboxRetryPolicy(o.MaxAttempts, o.RetryDelay);
        var nextHousekeeping = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                bool more;
                do
                {
                    var results = await Task.WhenAll(Enumerable.Range(0, o.ShardCount)
                        .Select(shard => DispatchShardAsync(shard, o, retry, stoppingToken)));
                    // Published rows: look again at once (a row may have committed while the shard was busy).
                    more = results.Any(r => r);
                }
                while (more && !stoppingToken.IsCancellationRequested);

                if (time.GetUtcNow() >= nextHousekeeping)
                {
                    nextHousekeeping = time.GetUtcNow().AddSeconds(1);
                    DeliveryMetrics.SetDispatchLag(await outbox.DispatchLagSecondsAsync(stoppingToken));
                    if (Random.Shared.Next(60) == 0) await outbox.PruneDispatchedAsync(o.PruneDispatchedAfter, 10_000, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                LogDatabaseError(logger, e.Message);
            }
            try
            {
                await _wake.WaitAsync(o.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // True when rows were published (the caller loops while that is so).
    private async Task<bool> DispatchShardAsync(int shard, DeliveryOptions o, OutboxRetryPolicy retry, CancellationToken ct)
    {
        var published = false;
        while (!ct.IsCancellationRequested)
        {
            var result = await outbox.DispatchBatchAsync(shard, o.ShardCount, o.BatchSize, retry,
                async (rows, token) => await stream.PublishAsync(rows, token), ct);
            switch (result.Status)
            {
                case ShardDispatchStatus.Published:
                    DeliveryMetrics.Published.Add(result.Rows);
                    published = true;
                    if (result.Full) continue;
                    return published;
                case ShardDispatchStatus.Failed:
                    DeliveryMetrics.Failed.Add(result.Rows);
                    if (result.DeadLettered > 0)
                    {
                        DeliveryMetrics.DeadLettered.Add(result.DeadLettered);
                        LogDeadLettered(logger, result.DeadLettered, shard);
                    }
                    else
                    {
                        LogPublishFailed(logger, result.Rows, shard);
                    }
                    return published;
                default:
                    return published;
            }
        }
        return published;
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Outbox dispatch: database error, retrying: {Reason}")]
    private static partial void LogDatabaseError(ILogger logger, string reason);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Outbox dispatch: publishing {Rows} rows of shard {Shard} failed; retrying with backoff")]
    private static partial void LogPublishFailed(ILogger logger, int rows, int shard);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "Outbox dispatch: {Rows} rows of shard {Shard} reached the retry limit and moved to dead_letters (parley dlq list)")]
    private static partial void LogDeadLettered(ILogger logger, int rows, int shard);

}
