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
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(options.ReadTimeoutSeconds + 1));
            try
            {
                await breaker.ProbeAsync(db.Replica, timeout.Token);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                // a probe that overran its timeout; the breaker has counted it
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
