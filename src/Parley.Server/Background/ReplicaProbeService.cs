using Parley.Data;
using Parley.Data.Routing;

namespace Parley.Server.Background;

/// <summary>Measures replica lag on an interval and feeds the replica breaker.</summary>
public sealed class ReplicaProbeService(ParleyDatabase db, ReplicaBreaker breaker, ReplicaOptions options) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (db.Replica is null) return;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.ProbeIntervalSeconds));
        do
        {
            // The probe bounds itself by the read timeout and counts a timeout as a failure.
            await breaker.ProbeAsync(db.Replica, stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
