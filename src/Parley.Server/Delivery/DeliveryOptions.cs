using System.ComponentModel.DataAnnotations;

namespace Parley.Server.Delivery;

/// <summary>
/// The delivery pipeline (outbox dispatcher, event stream, per-node consumer, WebSocket limits),
/// bound from <c>Parley:Delivery</c>. Every default is documented on its property.
/// </summary>
public sealed class DeliveryOptions
{
    public const string Section = "Parley:Delivery";

    /// <summary>Stream key, under the Redis key prefix (so <c>parley:events</c> by default).</summary>
    [Required]
    public string StreamKey { get; set; } = "events";

    /// <summary>
    /// Retention: the stream keeps about this many newest events (<c>XADD MAXLEN ~</c>). A client
    /// resuming from further back gets <c>resync.required</c>. Default 200,000.
    /// </summary>
    [Range(1_000, 100_000_000)]
    public long StreamMaxLength { get; set; } = 200_000;

    /// <summary>Outbox shards; each is dispatched by one node at a time, in order. Default 8.</summary>
    [Range(1, 1024)]
    public int ShardCount { get; set; } = 8;

    /// <summary>Rows per dispatch transaction. Default 500.</summary>
    [Range(1, 10_000)]
    public int BatchSize { get; set; } = 500;

    /// <summary>How often the dispatcher looks for work it was not woken for (rows another node wrote while a shard was busy). Default 200 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Publishing attempts before a row moves to <c>dead_letters</c>. Default 25 (about 10 minutes with the default backoff).</summary>
    [Range(1, 10_000)]
    public int MaxAttempts { get; set; } = 25;

    /// <summary>Delay after the first failed attempt; doubles each time up to <see cref="RetryMaxDelay"/>. Default 100 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest delay between attempts. Default 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Dispatched outbox rows are deleted after this long. Default 1 hour.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan PruneDispatchedAfter { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Events per consumer read. Default 500.</summary>
    [Range(1, 10_000)]
    public int ReadCount { get; set; } = 500;

    /// <summary>Entries pending this long on another consumer of this node's group are claimed. Default 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ClaimMinIdle { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Frames queued per WebSocket; a client that lets it fill is closed with 4000 (slow consumer). Default 1,024.</summary>
    [Range(16, 1_000_000)]
    public int SendQueueCapacity { get; set; } = 1024;

    /// <summary>Open WebSockets per user on one node; one more closes the oldest with 4004. Default 20.</summary>
    [Range(1, 10_000)]
    public int MaxSocketsPerUser { get; set; } = 20;

    /// <summary>
    /// Stream entries (every user's) one <c>since</c> replay may read; past it the client gets
    /// <c>resync.required</c> and catches up over REST. Default 50,000 (100 s of the 500 msg/s soak).
    /// </summary>
    [Range(100, 10_000_000)]
    public int ReplayMaxEntries { get; set; } = 50_000;

    /// <summary>Bytes of stream entries one <c>since</c> replay may read (what it sends is less); past it: <c>resync.required</c>. Default 32 MiB.</summary>
    [Range(4096, 1L << 34)]
    public long ReplayMaxBytes { get; set; } = 32L << 20;

    /// <summary>
    /// A socket's typing frames are relayed at most once per this interval (more are dropped; typing is
    /// ephemeral). Default 1 s (the web client sends one every 3 s while its user types).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan TypingMinInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Interval of server ping frames. Default 15 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>A peer that has not answered a ping within this long is dead: the socket is aborted. Default 15 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Backoff before attempt <paramref name="attempts"/> + 1: base · 2^(attempts−1), capped.</summary>
    public TimeSpan RetryDelay(int attempts)
    {
        var factor = Math.Pow(2, Math.Clamp(attempts - 1, 0, 30));
        var delay = TimeSpan.FromTicks((long)Math.Min(RetryBaseDelay.Ticks * factor, RetryMaxDelay.Ticks));
        return delay;
    }
}

