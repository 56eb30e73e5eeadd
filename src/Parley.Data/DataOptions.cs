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

    /// <summary>Replica lag bound, probe and breaker settings (<c>Parley:Data:Replica</c>).</summary>
    public Routing.ReplicaOptions Replica { get; set; } = new();

    /// <summary>Group commit of sends (<c>Parley:Data:SendBatch</c>).</summary>
    public Messages.SendBatchOptions SendBatch { get; set; } = new();

    /// <summary>Set when the primary connection goes through PgBouncer in transaction mode.</summary>
    public bool PgBouncerTransactionMode { get; set; }
}
