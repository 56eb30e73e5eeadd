namespace Parley.Kit.Load.Engine;

public enum LoadModel
{
    /// <summary>Arrivals at a rate, whatever the server does; latency from each request's scheduled start (no coordinated omission).</summary>
    Open,

    /// <summary>N connections each sending the next request when the previous answered (think time 0).</summary>
    Closed,
}

/// <summary>
/// When and how much load: the model, the plan (rate or connections over time), bounds, warm-up.
/// A run stops at the end of the plan or after <see cref="MaxRequests"/> measured requests, whichever comes first.
/// </summary>
public sealed record LoadProfile
{
    public required LoadModel Model { get; init; }

    /// <summary>Requests per second (open) or connections (closed) over time, warm-up not included.</summary>
    public required StagePlan Plan { get; init; }

    /// <summary>Open model: HTTP connections in the pool, and the cap on requests in flight (beyond it an arrival is dropped and counted as an error).</summary>
    public int Connections { get; init; } = 64;

    /// <summary>Run at the plan's starting target this long first, measuring nothing (JIT, pools, caches).</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(5);

    public long MaxRequests { get; init; } = long.MaxValue;

    /// <summary>
    /// Closed model: each virtual user starts an iteration every <see cref="Pacing"/> (requests wait for the previous
    /// one); latency runs from the scheduled start. Zero: back to back, latency from the actual start.
    /// </summary>
    public TimeSpan Pacing { get; init; } = TimeSpan.Zero;

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The window over which gates are evaluated while running (abort when one stays breached).</summary>
    public TimeSpan GateWindow { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Open model: arrivals allowed to wait for a connection, per connection, before new ones are dropped.</summary>
    public int QueuePerConnection { get; init; } = 4;

    public void Validate()
    {
        if (Connections is < 1 or > 20_000) throw new LoadConfigurationException($"connections must be 1-20000, not {Connections}.");
        if (MaxRequests < 1) throw new LoadConfigurationException("requests must be at least 1.");
        if (WarmUp < TimeSpan.Zero) throw new LoadConfigurationException("warm-up cannot be negative.");
        if (Model == LoadModel.Open && Plan.Peak <= 0) throw new LoadConfigurationException("an open-model run needs a rate above 0.");
        if (Model == LoadModel.Closed && Plan.Peak > 20_000) throw new LoadConfigurationException("at most 20,000 connections.");
    }
}
