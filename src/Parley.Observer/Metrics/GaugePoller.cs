using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Parley.Observer.Hosting;
using Parley.Observer.Queue;

namespace Parley.Observer.Metrics;

/// <summary>Refreshes the gauges read from the database: the DLQ depth and the WAL the slot retains.</summary>
public sealed partial class GaugePoller(ActionQueue queue, ObserverDatabase db, ObserverMetrics metrics, IOptions<ObserverOptions> options, ILogger<GaugePoller> logger)
    : BackgroundService
{
    internal const string RetainedSql = """
        SELECT coalesce(sum(pg_current_wal_lsn() - restart_lsn), 0)::bigint FROM pg_replication_slots WHERE slot_name = $1
        """;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.GaugeInterval);
        do
        {
            try
            {
                metrics.SetDlqDepth(await queue.DeadCountAsync(stoppingToken));
                await using var cmd = db.Source.CreateCommand(RetainedSql);
                cmd.Parameters.Add(new() { Value = options.Value.Name });
                metrics.SetRetainedBytes((long)(await cmd.ExecuteScalarAsync(stoppingToken))!);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                LogFailed(logger, e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(EventId = 8401, Level = LogLevel.Debug, Message = "Observer gauges: refresh failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
