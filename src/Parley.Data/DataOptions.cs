using System.ComponentModel.DataAnnotations;

namespace Parley.Data;

/// <summary>Database settings, bound from the <c>Parley:Data</c> configuration section.</summary>
public sealed class DataOptions
{
    public const string Section = "Parley:Data";

    /// <summary>Writes and strong reads. Point it at PgBouncer (transaction mode) or the primary.</summary>
    [Required]
    public string PrimaryConnectionString { get; set; } = "";

    /// <summary>Optional streaming replica for flagged reads.</summary>
    public string? ReplicaConnectionString { get; set; }

    /// <summary>Connections per data source. Default 40.</summary>
    [Range(1, 1000)]
    public int MaxPoolSize { get; set; } = 40;

    /// <summary>How long a request waits for a pooled connection before it is answered 503. Default 2 s.</summary>
    [Range(1, 60)]
    public int PoolWaitSeconds { get; set; } = 2;

    /// <summary>Server-side statement timeout. Default 5 s.</summary>
    [Range(1, 300)]
    public int StatementTimeoutSeconds { get; set; } = 5;

    /// <summary>
    /// Settings for a tool that is not serving requests (the CLI, the canary, the kits): it waits up to 15 s to connect,
    /// as a request may not, since a busy machine can take seconds to start a PostgreSQL backend (the canary's first
    /// flag read failed after 2 s in a CI run at load average 50).
    /// </summary>
    public static DataOptions ForTool(string primaryConnectionString) =>
        new() { PrimaryConnectionString = primaryConnectionString, PoolWaitSeconds = 15 };

    /// <summary>Replica lag bound, probe and breaker settings (<c>Parley:Data:Replica</c>).</summary>
    public Routing.ReplicaOptions Replica { get; set; } = new();

    /// <summary>Group commit of sends (<c>Parley:Data:SendBatch</c>).</summary>
    public Messages.SendBatchOptions SendBatch { get; set; } = new();

    /// <summary>Set when the primary connection goes through PgBouncer in transaction mode.</summary>
    public bool PgBouncerTransactionMode { get; set; }
}
