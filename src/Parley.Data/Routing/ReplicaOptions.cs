namespace Parley.Data.Routing;

/// <summary>Settings of the replica's health probe and breaker, bound from <c>Parley:Data:Replica</c>.</summary>
public sealed class ReplicaOptions
{
    /// <summary>Replication lag above which the replica is not read. Default 5 s.</summary>
    public double MaxLagSeconds { get; set; } = 5;

    /// <summary>How often the lag is measured. Default 1 s.</summary>
    public double ProbeIntervalSeconds { get; set; } = 1;

    /// <summary>How long the breaker stays open after errors before a probe may close it. Default 5 s.</summary>
    public double BreakSeconds { get; set; } = 5;

    /// <summary>Per-read timeout on the replica; slower reads count as failures and go to the primary. Default 1 s.</summary>
    public double ReadTimeoutSeconds { get; set; } = 1;

    /// <summary>Connect timeout to the replica: the longest a read waits on a replica that does not answer. Default 1 s.</summary>
    public int ConnectTimeoutSeconds { get; set; } = 1;
}
