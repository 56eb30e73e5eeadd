using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Npgsql;
using Parley.Data;

namespace Parley.Server.Monitoring;

/// <summary>One table's vacuum health as read from <c>pg_stat_user_tables</c>.</summary>
/// <param name="LastVacuumAge">
/// Time since the last manual or automatic vacuum; for a table never vacuumed, time since the server
/// started (a lower bound).
/// </param>
public sealed record TableVacuumHealth(string Table, long LiveTuples, long DeadTuples, TimeSpan LastVacuumAge, bool EverVacuumed)
{
    /// <summary>A pgstattuple-free bloat estimate: dead / (live + dead), 0 for an empty table.</summary>
    public double BloatRatio => LiveTuples + DeadTuples == 0 ? 0 : (double)DeadTuples / (LiveTuples + DeadTuples);
}

/// <summary>
/// Polls <c>pg_stat_user_tables</c> on the primary (default every 30 s) for the configured tables and
/// exports the latest snapshot as <c>db_dead_tuples_count</c>, <c>db_live_tuples</c>,
/// <c>db_last_vacuum_seconds</c> and <c>db_table_bloat_ratio</c> (label <c>table</c>). A warning is
/// logged when a table crosses a threshold of <see cref="MonitoringOptions"/>, and an information
/// line when it is back under, not on every poll.
/// </summary>
public sealed partial class VacuumHealthMonitor : BackgroundService
{
    private const string Sql = """
        -- name: monitor.vacuum_health
        SELECT relname,
               n_live_tup,
               n_dead_tup,
               extract(epoch FROM now() - coalesce(greatest(last_vacuum, last_autovacuum), pg_postmaster_start_time()))::float8,
               greatest(last_vacuum, last_autovacuum) IS NOT NULL
          FROM pg_stat_user_tables
         WHERE relname = ANY(@tables) AND schemaname = ANY(current_schemas(false))
         ORDER BY relname
        """;

    private readonly ParleyDatabase _database;
    private readonly MonitoringOptions _options;
    private readonly MonitoringMeter _meter;
    private readonly ILogger<VacuumHealthMonitor> _logger;
    private readonly HashSet<(string Table, string Kind)> _warned = [];
    private volatile IReadOnlyList<TableVacuumHealth> _latest = [];

    public VacuumHealthMonitor(ParleyDatabase database, IOptions<MonitoringOptions> options, MonitoringMeter meter, ILogger<VacuumHealthMonitor> logger)
    {
        _database = database;
        _options = options.Value;
        _meter = meter;
        _logger = logger;
        Meter m = meter.Meter;
        m.CreateObservableGauge("db.dead_tuples.count", () => Observe(t => t.DeadTuples), "{tuple}", "Dead tuples per table (pg_stat_user_tables.n_dead_tup).");
        m.CreateObservableGauge("db.live_tuples", () => Observe(t => t.LiveTuples), "{tuple}", "Live tuples per table (pg_stat_user_tables.n_live_tup).");
        m.CreateObservableGauge("db.last_vacuum", () => Observe(t => t.LastVacuumAge.TotalSeconds), "s",
            "Seconds since the table's last vacuum or autovacuum (since server start if never vacuumed).");
        m.CreateObservableGauge("db.table.bloat", () => Observe(t => t.BloatRatio), "1", "Bloat estimate per table: dead / (live + dead) tuples.");
    }

    /// <summary>The latest snapshot, empty before the first poll.</summary>
    public IReadOnlyList<TableVacuumHealth> Latest => _latest;

    /// <summary>Reads the statistics once, updates <see cref="Latest"/> and logs crossings.</summary>
    public async Task<IReadOnlyList<TableVacuumHealth>> PollAsync(CancellationToken ct)
    {
        var tables = new List<TableVacuumHealth>();
        await using (var command = _database.Primary.CreateCommand(Sql))
        {
            command.Parameters.Add(new NpgsqlParameter<string[]>("tables", [.. _options.VacuumTables]));
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                tables.Add(new TableVacuumHealth(
                    reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), TimeSpan.FromSeconds(reader.GetDouble(3)), reader.GetBoolean(4)));
            }
        }
        _latest = tables;
        Evaluate(tables);
        return tables;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.VacuumPollInterval);
        do
        {
            try
            {
                await PollAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested && e is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                _meter.Failures.Add(1, new KeyValuePair<string, object?>("monitor", "vacuum"));
                LogPollFailed(_logger, e.Message);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    internal static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private IEnumerable<Measurement<T>> Observe<T>(Func<TableVacuumHealth, T> value) where T : struct
    {
        foreach (TableVacuumHealth table in _latest)
            yield return new Measurement<T>(value(table), new KeyValuePair<string, object?>("table", table.Table));
    }

    private void Evaluate(List<TableVacuumHealth> tables)
    {
        lock (_warned)
        {
            foreach (TableVacuumHealth t in tables)
            {
                bool enoughDead = t.DeadTuples >= _options.MinDeadTuplesToWarn;
                Check(t, "dead_tuples", t.DeadTuples >= _options.DeadTuplesWarning);
                Check(t, "bloat", enoughDead && t.BloatRatio >= _options.BloatRatioWarning);
                Check(t, "vacuum_age", enoughDead && t.LastVacuumAge >= _options.LastVacuumWarning);
            }
        }
    }

    private void Check(TableVacuumHealth t, string kind, bool over)
    {
        if (over && _warned.Add((t.Table, kind)))
            LogUnhealthy(_logger, t.Table, kind, t.DeadTuples, t.LiveTuples, t.BloatRatio, t.LastVacuumAge.TotalSeconds);
        else if (!over && _warned.Remove((t.Table, kind)))
            LogRecovered(_logger, t.Table, kind, t.DeadTuples, t.BloatRatio);
    }

    [LoggerMessage(EventId = 4600, Level = LogLevel.Warning,
        Message = "Table {Table} crossed its {Kind} threshold: {DeadTuples} dead / {LiveTuples} live tuples, bloat {Bloat:P1}, last vacuum {VacuumAgeSeconds:F0} s ago")]
    private static partial void LogUnhealthy(ILogger logger, string table, string kind, long deadTuples, long liveTuples, double bloat, double vacuumAgeSeconds);

    [LoggerMessage(EventId = 4601, Level = LogLevel.Information, Message = "Table {Table} is back under its {Kind} threshold: {DeadTuples} dead tuples, bloat {Bloat:P1}")]
    private static partial void LogRecovered(ILogger logger, string table, string kind, long deadTuples, double bloat);

    [LoggerMessage(EventId = 4602, Level = LogLevel.Warning, Message = "Vacuum health poll failed: {Reason}")]
    private static partial void LogPollFailed(ILogger logger, string reason);
}
