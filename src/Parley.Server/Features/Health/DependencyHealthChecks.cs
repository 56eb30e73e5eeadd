using Microsoft.Extensions.Diagnostics.HealthChecks;
using Parley.Data;
using Parley.Data.Routing;
using Parley.Redis;

namespace Parley.Server.Features.Health;

/// <summary>A replica that is down or behind degrades the node; reads then go to the primary.</summary>
public sealed class ReplicaHealthCheck(ParleyDatabase db, ReplicaBreaker breaker) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        if (db.Replica is null) return Task.FromResult(HealthCheckResult.Healthy("no replica configured"));
        var lag = breaker.LastLagSeconds;
        return Task.FromResult(breaker.AllowsReads && !double.IsNaN(lag)
            ? HealthCheckResult.Healthy($"lag {lag:F2} s")
            : HealthCheckResult.Degraded($"breaker {breaker.State}, lag {(double.IsNaN(lag) ? "unknown" : $"{lag:F1} s")}; reads use the primary"));
    }
}

/// <summary>A Redis that is down degrades the node: no cache, delivery waits in the outbox.</summary>
public sealed class RedisHealthCheck(RedisClient redis) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default) =>
        Task.FromResult(redis.IsConnected
            ? HealthCheckResult.Healthy("connected")
            : HealthCheckResult.Degraded("unreachable; reads skip the cache"));
}
