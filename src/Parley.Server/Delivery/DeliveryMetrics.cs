using System.Diagnostics.Metrics;
using Parley.Server.Observability;

namespace Parley.Server.Delivery;

/// <summary>Instruments of the delivery pipeline (dispatcher, consumer, WebSocket transport).</summary>
internal static class DeliveryMetrics
{
    public static readonly Counter<long> Published = ParleyMetrics.Meter.CreateCounter<long>(
        "parley.outbox.published", "{event}", "Outbox rows published to the event stream.");

    public static readonly Counter<long> Failed = ParleyMetrics.Meter.CreateCounter<long>(
        "parley.outbox.failed", "{event}", "Outbox rows whose publish attempt failed (retried later).");

    public static readonly Counter<long> DeadLettered = ParleyMetrics.Meter.CreateCounter<long>(
        "parley.outbox.dead_lettered", "{event}", "Outbox rows moved to dead_letters after the retry limit.");

    public static readonly Counter<long> Delivered = ParleyMetrics.Meter.CreateCounter<long>(
        "parley.stream.delivered", "{frame}", "Event frames queued to local sockets.");

    public static readonly Counter<long> Acknowledged = ParleyMetrics.Meter.CreateCounter<long>(
        "parley.stream.acknowledged", "{event}", "Stream entries acknowledged by this node's consumer.");

    public static readonly Counter<long> Reclaimed = ParleyMetrics.Meter.CreateCounter<long>(
        "parley.stream.reclaimed", "{event}", "Pending entries re-read after a restart or claimed with XAUTOCLAIM.");

    public static readonly Counter<long> DuplicatesSkipped = ParleyMetrics.Meter.CreateCounter<long>(
        "parley.stream.duplicates_skipped", "{event}", "Events not sent again because they were delivered or replayed already.");

    public static readonly Counter<long> SocketsClosed = ParleyMetrics.Meter.CreateCounter<long>(
        "parley.ws.closed", "{connection}", "WebSocket connections closed, by reason (see CloseCodes).");

    public static readonly Counter<long> ResyncsSent = ParleyMetrics.Meter.CreateCounter<long>(
        "parley.ws.resyncs", "{frame}", "resync.required frames sent, by reason (since beyond retention, a replay past its bound, stream lost with a Redis restart).");

    public static readonly Histogram<double> Latency = ParleyMetrics.Meter.CreateHistogram<double>(
        "parley.delivery.latency", "s", "From a message's createdAt to its frame written to a socket.");

    private static double _dispatchLag;
    private static long _consumerLag;
    private static long _pending;
    private static long _connections;

    static DeliveryMetrics()
    {
        ParleyMetrics.Meter.CreateObservableGauge("parley.outbox.dispatch_lag", () => Volatile.Read(ref _dispatchLag), "s",
            "Age of the oldest undispatched outbox row.");
        ParleyMetrics.Meter.CreateObservableGauge("parley.stream.consumer_lag", () => Interlocked.Read(ref _consumerLag), "{event}",
            "Entries in the stream not yet read by this node's consumer group.");
        ParleyMetrics.Meter.CreateObservableGauge("parley.stream.pending", () => Interlocked.Read(ref _pending), "{event}",
            "Entries read by this node's consumer group and not yet acknowledged.");
        ParleyMetrics.Meter.CreateObservableGauge("parley.ws.connections", () => Interlocked.Read(ref _connections), "{connection}",
            "Open WebSocket connections on this node.");
    }

    public static void SetDispatchLag(double seconds) => Volatile.Write(ref _dispatchLag, seconds);

    public static void SetConsumerState(long lag, long pending)
    {
        Interlocked.Exchange(ref _consumerLag, lag);
        Interlocked.Exchange(ref _pending, pending);
    }

    public static void ConnectionOpened() => Interlocked.Increment(ref _connections);

    public static void ConnectionClosed() => Interlocked.Decrement(ref _connections);
}
