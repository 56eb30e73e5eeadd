using Microsoft.Extensions.Options;
using Npgsql;
using Parley.Data;
using Parley.Data.Flags;

namespace Parley.Server.Background;

/// <summary>
/// Keeps this node's flags current: LISTEN parley_flags wakes it at once; a reload at least every
/// second covers lost notifications and PgBouncer transaction mode, where LISTEN is not possible.
/// </summary>
public sealed partial class FlagSyncService(FeatureFlags flags, IOptions<DataOptions> options, ILogger<FlagSyncService> logger) : BackgroundService
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (options.Value.PgBouncerTransactionMode) await PollAsync(stoppingToken);
                else await ListenAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogSyncFailed(logger, e.Message);
                await Task.Delay(PollInterval, stoppingToken);
            }
        }
    }

    private async Task PollAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(PollInterval);
        do await flags.ReloadAsync(ct);
        while (await timer.WaitForNextTickAsync(ct));
    }

    private async Task ListenAsync(CancellationToken ct)
    {
        // A connection of its own, outside the pool: it holds the LISTEN for the node's lifetime.
        var csb = new NpgsqlConnectionStringBuilder(options.Value.PrimaryConnectionString) { Pooling = false, KeepAlive = 10, Timeout = 5 };
        await using var conn = new NpgsqlConnection(csb.ConnectionString);
        await conn.OpenAsync(ct);
        await using (var listen = new NpgsqlCommand($"LISTEN {FeatureFlags.Channel}", conn))
            await listen.ExecuteNonQueryAsync(ct);
        await flags.ReloadAsync(ct);
        while (!ct.IsCancellationRequested)
        {
            await conn.WaitAsync(PollInterval, ct); // returns on a notification or after the interval
            await flags.ReloadAsync(ct);
        }
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Flag sync failed, retrying: {Reason}")]
    private static partial void LogSyncFailed(ILogger logger, string reason);
}
