using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Parley.Data;
using Parley.Data.Routing;

namespace Parley.Server.Features.Health;

/// <summary>
/// Reports a probe's latest result and its age; it never probes itself, so readiness costs nothing and tells the
/// same with or without traffic. Right after start it waits (one probe timeout at most) for the first result.
/// </summary>
public sealed class ProbeHealthCheck<TProbe>(TProbe probe, TimeProvider time) : IHealthCheck where TProbe : DependencyProbe
{
    public const string Stale = "probe result is stale; the probe loop is stuck";
    public const string NotProbedYet = "not probed yet";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        if (probe.Latest is null)
        {
            try
            {
                await probe.FirstResult.WaitAsync(probe.Timeout, time, ct);
            }
            catch (TimeoutException)
            {
                return new HealthCheckResult(probe.FailureStatus, NotProbedYet);
            }
        }
        var result = probe.Latest!;
        var age = time.GetUtcNow() - result.At;
        var data = new Dictionary<string, object> { ["ageMs"] = Math.Round(age.TotalMilliseconds), ["probeMs"] = Math.Round(result.Duration.TotalMilliseconds, 1) };
        if (result.LagSeconds is { } lag) data["lagSeconds"] = Math.Round(lag, 2);
        return age > probe.StaleAfter
            ? new HealthCheckResult(probe.FailureStatus, Stale, data: data)
            : new HealthCheckResult(result.Status, result.Description, data: data);
    }
}

/// <summary>The primary answers <c>SELECT 1</c> within <see cref="HealthOptions.PrimaryTimeoutMilliseconds"/>; without it the node is not ready.</summary>
public sealed class PrimaryProbe(ParleyDatabase db, IOptions<HealthOptions> options, TimeProvider time, ILogger<PrimaryProbe> logger)
    : DependencyProbe(time, logger)
{
    public const string Answering = "answers";
    public const string NotAnswering = "unreachable or not answering in time";

    public override string Name => "primary";

    public override TimeSpan Interval => TimeSpan.FromMilliseconds(options.Value.ProbeIntervalMilliseconds);

    public override TimeSpan Timeout => TimeSpan.FromMilliseconds(options.Value.PrimaryTimeoutMilliseconds);

    public override HealthStatus FailureStatus => HealthStatus.Unhealthy;

    protected override string FailureDescription => NotAnswering;

    protected override async Task<ProbeResult> ProbeAsync(DateTimeOffset started, CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand("SELECT 1");
        await cmd.ExecuteScalarAsync(ct);
        return Result(HealthStatus.Healthy, Answering, started);
    }
}

/// <summary>
/// The replica's lag query on <see cref="ReplicaOptions.ProbeIntervalSeconds"/>, bounded by its read timeout; it feeds
/// the replica breaker (a replica that does not answer, or lags past the bound, is taken out of reads at once).
/// A replica that is down or behind only degrades the node: reads use the primary.
/// </summary>
public sealed class ReplicaProbe(ParleyDatabase db, ReplicaBreaker breaker, ReplicaOptions options, TimeProvider time, ILogger<ReplicaProbe> logger)
    : DependencyProbe(time, logger)
{
    public const string NotConfigured = "no replica configured";
    public const string Answering = "answers, lag within the bound";
    public const string Lagging = "lag over the bound; reads use the primary";
    public const string NotAnswering = "unreachable or not answering in time; reads use the primary";
    public const string BreakerOpen = "breaker open after failed reads; reads use the primary";

    public override string Name => "replica";

    public override TimeSpan Interval => TimeSpan.FromSeconds(options.ProbeIntervalSeconds);

    // The breaker bounds its own probe by the read timeout; this margin only catches a probe that overruns it.
    public override TimeSpan Timeout => TimeSpan.FromSeconds(options.ReadTimeoutSeconds + 1);

    public override HealthStatus FailureStatus => HealthStatus.Degraded;

    protected override string FailureDescription => NotAnswering;

    protected override async Task<ProbeResult> ProbeAsync(DateTimeOffset started, CancellationToken ct)
    {
        if (db.Replica is null) return Result(HealthStatus.Healthy, NotConfigured, started);
        await breaker.ProbeAsync(db.Replica, ct);
        var lag = breaker.LastLagSeconds;
        if (double.IsNaN(lag)) return Result(HealthStatus.Degraded, NotAnswering, started);
        if (breaker.AllowsReads) return Result(HealthStatus.Healthy, Answering, started, lag);
        return Result(HealthStatus.Degraded, lag > breaker.LagBound.TotalSeconds ? Lagging : BreakerOpen, started, lag);
    }
}
