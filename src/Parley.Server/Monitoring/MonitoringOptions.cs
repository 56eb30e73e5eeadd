using System.ComponentModel.DataAnnotations;

namespace Parley.Server.Monitoring;

/// <summary>
/// Settings of the database monitors, bound from <c>Parley:Monitoring</c>; every default is
/// documented on its property and kept in <see cref="MonitoringDefaults"/>.
/// </summary>
public sealed class MonitoringOptions
{
    public const string Section = "Parley:Monitoring";

    /// <summary>How often <see cref="VacuumHealthMonitor"/> reads <c>pg_stat_user_tables</c>. Default 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan VacuumPollInterval { get; set; } = MonitoringDefaults.VacuumPollInterval;

    /// <summary>
    /// Tables whose vacuum health is watched and exported (one series per table, so keep the list
    /// short). Default: <c>messages</c>, <c>conversations</c>, <c>participants</c>, <c>users</c>,
    /// <c>outbox</c> (a table that does not exist is skipped).
    /// </summary>
    public IList<string> VacuumTables { get; set; } = [.. MonitoringDefaults.VacuumTables];

    /// <summary>Dead tuples in one table above which a warning is logged. Default 100,000.</summary>
    [Range(1, long.MaxValue)]
    public long DeadTuplesWarning { get; set; } = MonitoringDefaults.DeadTuplesWarning;

    /// <summary>Bloat estimate (dead / (live + dead)) above which a warning is logged. Default 0.2.</summary>
    [Range(0.0, 1.0)]
    public double BloatRatioWarning { get; set; } = MonitoringDefaults.BloatRatioWarning;

    /// <summary>
    /// Dead tuples a table needs before its bloat ratio or vacuum age can warn, so that small and
    /// idle tables stay quiet. Default 1,000.
    /// </summary>
    [Range(0, long.MaxValue)]
    public long MinDeadTuplesToWarn { get; set; } = MonitoringDefaults.MinDeadTuplesToWarn;

    /// <summary>Time since the last (auto)vacuum above which a warning is logged. Default 24 h.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan LastVacuumWarning { get; set; } = MonitoringDefaults.LastVacuumWarning;

    /// <summary>Queries at least this slow are logged (0 logs every query). Default 200 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan SlowQueryThreshold { get; set; } = MonitoringDefaults.SlowQueryThreshold;

    /// <summary>
    /// Distinct query names <see cref="QueryTimer"/> exports; later names are counted as
    /// <c>other</c>, which keeps <c>db_query_duration_seconds</c> bounded. Default 200.
    /// </summary>
    [Range(1, 10_000)]
    public int MaxQueryNames { get; set; } = MonitoringDefaults.MaxQueryNames;

    /// <summary>
    /// PgBouncer's admin console (<c>Database=pgbouncer</c>, a user listed in <c>admin_users</c> or
    /// <c>stats_users</c>). <see cref="PgBouncerMonitor"/> runs only when this is set. Default: unset.
    /// </summary>
    public string? PgBouncerAdminConnectionString { get; set; }

    /// <summary>How often <see cref="PgBouncerMonitor"/> runs SHOW POOLS / SHOW STATS. Default 15 s.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan PgBouncerPollInterval { get; set; } = MonitoringDefaults.PgBouncerPollInterval;

    /// <summary>PgBouncer pool saturation (active / pool size) above which a warning is logged. Default 0.85.</summary>
    [Range(0.0, 1.0)]
    public double PoolSaturationWarning { get; set; } = MonitoringDefaults.PoolSaturationWarning;
}

/// <summary>The defaults of <see cref="MonitoringOptions"/>.</summary>
public static class MonitoringDefaults
{
    public static readonly TimeSpan VacuumPollInterval = TimeSpan.FromSeconds(30);
    public static readonly IReadOnlyList<string> VacuumTables = ["messages", "conversations", "participants", "users", "outbox"];
    public const long DeadTuplesWarning = 100_000;
    public const double BloatRatioWarning = 0.2;
    public const long MinDeadTuplesToWarn = 1_000;
    public static readonly TimeSpan LastVacuumWarning = TimeSpan.FromHours(24);
    public static readonly TimeSpan SlowQueryThreshold = TimeSpan.FromMilliseconds(200);
    public const int MaxQueryNames = 200;
    public static readonly TimeSpan PgBouncerPollInterval = TimeSpan.FromSeconds(15);
    public const double PoolSaturationWarning = 0.85;
}
