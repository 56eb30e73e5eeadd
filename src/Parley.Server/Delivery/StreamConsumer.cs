using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using Npgsql;
using Parley.Redis;
using Parley.Server.Features.Health;

namespace Parley.Server.Delivery;

/// <summary>
/// This node's reader of the event stream. It owns the consumer group <c>node:&lt;id&gt;</c> and reads
/// it with <c>XREADGROUP</c> on a dedicated connection; each batch is handed to this node's sockets
/// (<see cref="ILocalDelivery"/>: real-time decides who receives it, at delivery time), then
/// acknowledged. On start it first re-reads its own pending entries and claims (<c>XAUTOCLAIM</c>)
/// entries left pending on other consumers of its group. A group lost with a Redis restart is created
/// again from the start of the (new) stream, and every local socket is told <c>resync.required</c>: events
/// the old stream held and this node had not delivered yet are gone with it (API.md: a client never misses
/// an event without being told to resync).
/// </summary>
public sealed partial class StreamConsumer(
    RedisClient redis, RedisProbe probe, EventStream stream, ILocalDelivery sockets, IOptions<DeliveryOptions> options,
    IOptions<NodeOptions> node, IServer server, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<StreamConsumer> logger) : BackgroundService
{
    private static readonly KeyValuePair<string, object?> ConsumerTag = new("where", "consumer");

    private StreamId _lastDelivered = StreamId.Zero;
    private DateTimeOffset _nextStats = DateTimeOffset.MinValue;
    private DateTimeOffset _nextClaim = DateTimeOffset.MinValue;

    /// <summary>This node's id (known once the server listens).</summary>
    public string NodeId { get; private set; } = "";

    public string Group => "node:" + NodeId;

    /// <summary>Completes once the group exists and pending entries were handled; tests wait on it.</summary>
    public Task Ready => _ready.Task;

    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The default node id needs the listening port.
        var started = new TaskCompletionSource();
        await using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        await using (stoppingToken.Register(() => started.TrySetCanceled()))
        {
            try
            {
                await started.Task;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        NodeId = ResolveNodeId();
        LogStarting(logger, NodeId, stream.Key);
        var o = options.Value;
        var firstStart = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var reader = await redis.CreateDedicatedAsync(stoppingToken);
                // "$" the first time: a new node has no sockets that missed anything. After losing
                // the group (Redis restarted), "0": everything in the new stream is still to deliver.
                var created = await reader.XGroupCreateAsync(stream.Key, Group, firstStart ? "$" : "0", createStream: true, stoppingToken);
                if (created && !firstStart) TellSocketsToResync();
                LogGroupReady(logger, Group, created ? (firstStart ? "created at the stream's end" : "created again at the stream's start") : "found");
                firstStart = false;
                await RecoverPendingAsync(reader, o, stoppingToken);
                _ready.TrySetResult();
                while (!stoppingToken.IsCancellationRequested)
                {
                    var entries = await reader.XReadGroupAsync(stream.Key, Group, NodeId, ">", o.ReadCount, TimeSpan.FromSeconds(2), cancellationToken: stoppingToken);
                    if (entries.Count > 0) await DeliverAndAckAsync(reader, entries, stoppingToken);
                    await HousekeepingAsync(reader, o, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (RedisServerException e) when (e.Prefix == "NOGROUP")
            {
                LogGroupLost(logger, Group);
                firstStart = false;
            }
            catch (Exception e) when (e is RedisException or NpgsqlException or TimeoutException or OperationCanceledException or IOException)
            {
                LogReadFailed(logger, e.Message);
                try
                {
                    // Not a new connection every 250 ms to a Redis known to be gone or hung: wait for its probe
                    // to be answered (bounded, so a consumer whose own connection is the problem tries again).
                    await Task.Delay(TimeSpan.FromMilliseconds(250), time, stoppingToken);
                    await probe.WaitAnswersAsync(TimeSpan.FromSeconds(5), stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private string ResolveNodeId()
    {
        if (!string.IsNullOrWhiteSpace(node.Value.Id)) return node.Value.Id.Trim();
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        var port = address is not null && Uri.TryCreate(address.Replace("*", "localhost", StringComparison.Ordinal), UriKind.Absolute, out var uri)
            ? uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return $"{Environment.MachineName}-{port}".ToLowerInvariant();
    }

    // Entries this node read but never acknowledged (it crashed), then entries stuck on other consumers of the group.
    private async Task RecoverPendingAsync(RedisClient reader, DeliveryOptions o, CancellationToken ct)
    {
        while (true)
        {
            var pending = await reader.XReadGroupAsync(stream.Key, Group, NodeId, "0", o.ReadCount, cancellationToken: ct);
            if (pending.Count == 0) break;
            DeliveryMetrics.Reclaimed.Add(pending.Count);
            await DeliverAndAckAsync(reader, pending, ct);
        }
        await ClaimAsync(reader, o.ClaimMinIdle, o, ct);
    }

    private async Task ClaimAsync(RedisClient reader, TimeSpan minIdle, DeliveryOptions o, CancellationToken ct)
    {
        var start = "0-0";
        do
        {
            var claimed = await reader.XAutoClaimAsync(stream.Key, Group, NodeId, minIdle, start, o.ReadCount, ct);
            if (claimed.Entries.Count > 0)
            {
                DeliveryMetrics.Reclaimed.Add(claimed.Entries.Count);
                LogClaimed(logger, claimed.Entries.Count, Group);
                await DeliverAndAckAsync(reader, claimed.Entries, ct);
            }
            if (claimed.DeletedIds.Count > 0) await reader.XAckAsync(stream.Key, Group, claimed.DeletedIds, ct);
            start = claimed.NextStartId;
        }
        while (start != "0-0");
        _nextClaim = time.GetUtcNow() + TimeSpan.FromSeconds(Math.Max(5, o.ClaimMinIdle.TotalSeconds));
    }

    private async Task HousekeepingAsync(RedisClient reader, DeliveryOptions o, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (now >= _nextClaim) await ClaimAsync(reader, o.ClaimMinIdle, o, ct);
        if (now < _nextStats) return;
        _nextStats = now.AddSeconds(1);
        foreach (var group in await reader.XInfoGroupsAsync(stream.Key, ct))
        {
            if (group.Name == Group) DeliveryMetrics.SetConsumerState(group.Lag ?? 0, group.Pending);
        }
    }

    /// <summary>Hands a batch to this node's sockets, then acknowledges it.</summary>
    private async Task DeliverAndAckAsync(RedisClient reader, IReadOnlyList<StreamEntry> entries, CancellationToken ct)
    {
        var events = new List<DeliveryEvent>(entries.Count);
        foreach (var entry in entries)
        {
            if (DeliveryEvent.FromEntry(entry) is not { } e) continue;
            if (e.Id <= _lastDelivered)
            {
                DeliveryMetrics.DuplicatesSkipped.Add(1, ConsumerTag);
                continue;
            }
            events.Add(e);
        }
        if (events.Count > 0) DeliveryMetrics.Delivered.Add(await sockets.DeliverAsync(events, ct));
        if (events.Count > 0 && events[^1].Id > _lastDelivered) _lastDelivered = events[^1].Id;
        var acked = await reader.XAckAsync(stream.Key, Group, entries.Select(e => e.Id).ToList(), ct);
        DeliveryMetrics.Acknowledged.Add(acked);
    }

    private void TellSocketsToResync()
    {
        var told = sockets.ResyncAll();
        DeliveryMetrics.ResyncsSent.Add(told, new KeyValuePair<string, object?>("reason", "stream_lost"));
        LogResyncAfterLoss(logger, Group, told);
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Stream consumer of node {NodeId} reading {Stream}")]
    private static partial void LogStarting(ILogger logger, string nodeId, string stream);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Consumer group {Group} is gone (Redis restarted?); creating it again from the stream's start")]
    private static partial void LogGroupLost(ILogger logger, string group);

    [LoggerMessage(EventId = 3105, Level = LogLevel.Information, Message = "Consumer group {Group} {How}")]
    private static partial void LogGroupReady(ILogger logger, string group, string how);

    [LoggerMessage(EventId = 3106, Level = LogLevel.Warning, Message = "Consumer group {Group} was lost with the stream: told {Sockets} local sockets to resync")]
    private static partial void LogResyncAfterLoss(ILogger logger, string group, int sockets);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Warning, Message = "Stream read failed, retrying: {Reason}")]
    private static partial void LogReadFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Information, Message = "Claimed {Count} entries left pending in {Group}")]
    private static partial void LogClaimed(ILogger logger, int count, string group);
}
