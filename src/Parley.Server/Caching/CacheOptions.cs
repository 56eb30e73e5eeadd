namespace Parley.Server.Caching;

/// <summary>Cache settings, bound from <c>Parley:Cache</c>.</summary>
public sealed class CacheOptions
{
    public const string Section = "Parley:Cache";

    /// <summary>Lifetime of a cached entry; invalidation normally ends it sooner. Default 60 s.</summary>
    public int TtlSeconds { get; set; } = 60;

    /// <summary>Per-operation Redis timeout; slower counts as a failure. Default 100 ms.</summary>
    public int TimeoutMilliseconds { get; set; } = 100;

    /// <summary>
    /// How long the cache is skipped after its breaker opens on error replies (half of at least 4 lookups in 5 s).
    /// A lost connection or a timeout opens it at once instead, until the Redis probe's next <c>PING</c> is answered.
    /// Default 2 s.
    /// </summary>
    public int BreakSeconds { get; set; } = 2;
}
