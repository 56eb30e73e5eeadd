namespace Parley.Server.Features.Health;

/// <summary>Readiness probe settings, bound from <c>Parley:Health</c>. The replica's come from <c>Parley:Data:Replica</c>.</summary>
public sealed class HealthOptions
{
    public const string Section = "Parley:Health";

    /// <summary>How often the primary and Redis are probed, with or without traffic. Default 1,000 ms.</summary>
    public int ProbeIntervalMilliseconds { get; set; } = 1000;

    /// <summary>How long the primary's <c>SELECT 1</c> may take before the primary counts as not answering. Default 2,000 ms.</summary>
    public int PrimaryTimeoutMilliseconds { get; set; } = 2000;

    /// <summary>How long Redis's <c>PING</c> may take before Redis counts as not answering (a hung server). Default 500 ms.</summary>
    public int RedisTimeoutMilliseconds { get; set; } = 500;
}
