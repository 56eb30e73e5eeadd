using System.ComponentModel.DataAnnotations;

namespace Parley.Observer;

/// <summary>
/// The observer's settings, bound from <c>Parley:Observer</c>. Every default is documented on its
/// property. Connection strings come from <c>Parley:Data</c> and <c>Parley:Redis</c> as for the server.
/// </summary>
public sealed class ObserverOptions
{
    public const string Section = "Parley:Observer";

    public static readonly TimeSpan DefaultActionTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The observer's name: its replication slot, publications (<c>&lt;name&gt;_outbox</c>,
    /// <c>&lt;name&gt;_tables</c>), leader lease and queue rows are keyed by it. Processes with the same
    /// name form one group (one leader). Lower-case letters, digits, underscores. Default <c>parley_observer</c>.
    /// </summary>
    [RegularExpression("^[a-z][a-z0-9_]{0,40}$")]
    public string Name { get; set; } = "parley_observer";

    /// <summary>
    /// A direct connection to the primary for replication, the leader lease and the queue (never
    /// PgBouncer: replication needs the server itself). Default: <c>Parley:Data:PrimaryConnectionString</c>.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Whether this group runs the built-in rule <c>parley-search</c> that feeds <c>GET /v1/search/messages</c>
    /// (one group per database should). Default true.
    /// </summary>
    public bool IndexMessages { get; set; } = true;

    /// <summary>Events larger than this (JSON bytes) are not held: their actions are dead-lettered <c>too_large</c>. Default 1 MiB.</summary>
    [Range(1_024, 1_073_741_824)]
    public int MaxEventBytes { get; set; } = 1024 * 1024;

    /// <summary>How long a leader's lease lasts without renewal; a standby takes over after it. Default 5 s.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the leader renews and a standby checks the lease. Default 1 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan LeaseCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Actions run at once by this process (the worker pool). Default 128: a slot is held for an attempt's whole round
    /// trip, so at 1,000 webhooks/s with 50 ms each (a loaded machine) 32 slots were full and actions waited for a claim.
    /// </summary>
    [Range(1, 4096)]
    public int MaxConcurrentActions { get; set; } = 128;

    /// <summary>How often idle workers look for due actions written by other processes. Default 200 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>A claim lasts the action's timeout plus this; past it a claim whose process died is taken again. Default 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan ClaimGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How soon an action that failed fast (its endpoint's breaker open) is tried again. Default 5 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan FailFastDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Events enqueued per transaction at most. Events read while the previous enqueue ran are batched;
    /// a longer database transaction is split (its checkpoint moves at its end). Default 1,000.
    /// </summary>
    [Range(1, 100_000)]
    public int BatchSize { get; set; } = 1_000;

    /// <summary>Idle heartbeat: a logical message through the slot so the checkpoint moves (and WAL is freed) with no traffic. Default 10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the Redis dedup keys of enqueued events live. Default 24 h.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan DedupTtl { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long the dedup fast path may wait for Redis before it is skipped (PostgreSQL's unique key decides). Default 100 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan DedupTimeout { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How often the DLQ depth, lag and retained WAL gauges are refreshed. Default 5 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan GaugeInterval { get; set; } = TimeSpan.FromSeconds(5);
}
