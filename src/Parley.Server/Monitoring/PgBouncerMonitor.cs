using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace Parley.Server.Monitoring;

/// <summary>One PgBouncer pool (database/user) from SHOW POOLS, sized from SHOW DATABASES.</summary>
/// <param name="Saturation">Active server connections / the database's pool size; null when the pool size is unknown.</param>
public sealed record PgBouncerPool(string Pool, string Database, long ActiveClients, long WaitingClients, long ActiveServers, long IdleServers, long PoolSize, double? Saturation, TimeSpan MaxWait);

/// <summary>One PgBouncer database from SHOW STATS.</summary>
public sealed record PgBouncerDatabaseStats(string Database, TimeSpan AverageQuery, TimeSpan AverageTransaction, long AverageQueriesPerSecond);

/// <summary>The latest reading of <see cref="PgBouncerMonitor"/>.</summary>
public sealed record PgBouncerSnapshot(IReadOnlyList<PgBouncerPool> Pools, IReadOnlyList<PgBouncerDatabaseStats> Databases)
{
    public static readonly PgBouncerSnapshot Empty = new([], []);
}

/// <summary>
/// Polls PgBouncer's admin console (SHOW POOLS, SHOW DATABASES, SHOW STATS; default every 15 s)
/// through <see cref="PgBouncerAdminClient"/> and exports <c>pgbouncer_pool_saturation{pool}</c>,
/// <c>pgbouncer_waiting_clients{pool}</c>, <c>pgbouncer_queue_wait_seconds{pool}</c> (the oldest
/// waiting client's wait) and <c>pgbouncer_avg_query_seconds{database}</c>. Polls only when
/// <see cref="MonitoringOptions.PgBouncerAdminConnectionString"/> is set. Pools are
/// <c>database/user</c>; the console's own <c>pgbouncer</c> database is left out.
/// </summary>
public sealed partial class PgBouncerMonitor : BackgroundService
{
    private readonly MonitoringOptions _options;
    private readonly MonitoringMeter _meter;
    private readonly ILogger<PgBouncerMonitor> _logger;
    private readonly HashSet<string> _saturated = [];
    private volatile PgBouncerSnapshot _latest = PgBouncerSnapshot.Empty;

    public PgBouncerMonitor(IOptions<MonitoringOptions> options, MonitoringMeter meter, ILogger<PgBouncerMonitor> logger)
    {
        _options = options.Value;
        _meter = meter;
        _logger = logger;
        Meter m = meter.Meter;
        m.CreateObservableGauge("pgbouncer.pool.saturation", () => ObservePools(p => p.Saturation), unit: null,
            "PgBouncer pool saturation: active server connections / pool size.");
        m.CreateObservableGauge("pgbouncer.waiting_clients", () => ObservePools(p => (double?)p.WaitingClients), "{client}",
            "Clients waiting for a server connection in a PgBouncer pool.");
        m.CreateObservableGauge("pgbouncer.queue_wait", () => ObservePools(p => (double?)p.MaxWait.TotalSeconds), "s",
            "How long the oldest waiting client of a PgBouncer pool has waited.");
        m.CreateObservableGauge("pgbouncer.avg_query", ObserveAverageQuery, "s", "PgBouncer's average query duration per database (SHOW STATS avg_query_time).");
    }

    /// <summary>The latest snapshot, empty before the first successful poll.</summary>
    public PgBouncerSnapshot Latest => _latest;

    /// <summary>Reads the console once and updates <see cref="Latest"/>.</summary>
    public async Task<PgBouncerSnapshot> PollAsync(CancellationToken ct)
    {
        await using var client = await PgBouncerAdminClient.ConnectAsync(_options.PgBouncerAdminConnectionString!, ct);
        var poolSizes = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var row in await client.QueryAsync("SHOW DATABASES", ct))
        {
            if (row.GetValueOrDefault("name") is { } name)
                poolSizes[name] = Long(row, "pool_size");
        }

        var pools = new List<PgBouncerPool>();
        foreach (var row in await client.QueryAsync("SHOW POOLS", ct))
        {
            string database = row.GetValueOrDefault("database") ?? "";
            if (database is "" or "pgbouncer")
                continue;
            long size = poolSizes.GetValueOrDefault(database);
            long active = Long(row, "sv_active");
            pools.Add(new PgBouncerPool(
                $"{database}/{row.GetValueOrDefault("user")}",
                database,
                Long(row, "cl_active"),
                Long(row, "cl_waiting"),
                active,
                Long(row, "sv_idle"),
                size,
                size > 0 ? (double)active / size : null,
                TimeSpan.FromSeconds(Long(row, "maxwait")) + TimeSpan.FromMicroseconds(Long(row, "maxwait_us"))));
        }

        var databases = new List<PgBouncerDatabaseStats>();
        foreach (var row in await client.QueryAsync("SHOW STATS", ct))
        {
            string database = row.GetValueOrDefault("database") ?? "";
            if (database is "" or "pgbouncer")
                continue;
            databases.Add(new PgBouncerDatabaseStats(
                database,
                TimeSpan.FromMicroseconds(Long(row, "avg_query_time")),
                TimeSpan.FromMicroseconds(Long(row, "avg_xact_time")),
                Long(row, "avg_query_count")));
        }

        var snapshot = new PgBouncerSnapshot(pools, databases);
        _latest = snapshot;
        Evaluate(pools);
        return snapshot;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (string.IsNullOrWhiteSpace(_options.PgBouncerAdminConnectionString))
            return;
        using var timer = new PeriodicTimer(_options.PgBouncerPollInterval);
        do
        {
            try
            {
                await PollAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested
                && e is PgBouncerAdminException or SocketException or IOException or OperationCanceledException or ArgumentException)
            {
                // A PgBouncer that is down exports nothing rather than stale readings.
                _latest = PgBouncerSnapshot.Empty;
                _meter.Failures.Add(1, new KeyValuePair<string, object?>("monitor", "pgbouncer"));
                LogPollFailed(_logger, e.Message);
            }
        }
        while (await VacuumHealthMonitor.WaitAsync(timer, stoppingToken));
    }

    private static long Long(IReadOnlyDictionary<string, string?> row, string column) =>
        row.GetValueOrDefault(column) is { } text && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) ? value : 0;

    private IEnumerable<Measurement<double>> ObservePools(Func<PgBouncerPool, double?> value)
    {
        foreach (PgBouncerPool pool in _latest.Pools)
        {
            if (value(pool) is { } v)
                yield return new Measurement<double>(v, new KeyValuePair<string, object?>("pool", pool.Pool));
        }
    }

    private IEnumerable<Measurement<double>> ObserveAverageQuery()
    {
        foreach (PgBouncerDatabaseStats stats in _latest.Databases)
            yield return new Measurement<double>(stats.AverageQuery.TotalSeconds, new KeyValuePair<string, object?>("database", stats.Database));
    }

    private void Evaluate(List<PgBouncerPool> pools)
    {
        lock (_saturated)
        {
            foreach (PgBouncerPool pool in pools)
            {
                bool over = pool.Saturation >= _options.PoolSaturationWarning || pool.WaitingClients > 0 && pool.MaxWait >= TimeSpan.FromSeconds(1);
                if (over && _saturated.Add(pool.Pool))
                    LogSaturated(_logger, pool.Pool, pool.Saturation ?? 0, pool.WaitingClients, pool.MaxWait.TotalSeconds);
                else if (!over && _saturated.Remove(pool.Pool))
                    LogRecovered(_logger, pool.Pool, pool.Saturation ?? 0);
            }
        }
    }

    [LoggerMessage(EventId = 4620, Level = LogLevel.Warning,
        Message = "PgBouncer pool {Pool} is saturated: {Saturation:P0} of its servers active, {Waiting} clients waiting, oldest for {MaxWaitSeconds:F1} s")]
    private static partial void LogSaturated(ILogger logger, string pool, double saturation, long waiting, double maxWaitSeconds);

    [LoggerMessage(EventId = 4621, Level = LogLevel.Information, Message = "PgBouncer pool {Pool} recovered: {Saturation:P0} of its servers active")]
    private static partial void LogRecovered(ILogger logger, string pool, double saturation);

    [LoggerMessage(EventId = 4622, Level = LogLevel.Warning, Message = "PgBouncer poll failed: {Reason}")]
    private static partial void LogPollFailed(ILogger logger, string reason);
}
