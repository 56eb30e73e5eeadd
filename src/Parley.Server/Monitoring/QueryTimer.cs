using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;

namespace Parley.Server.Monitoring;

/// <summary>
/// Times every command of Parley's data sources without touching the stores: an
/// <see cref="ActivityListener"/> on Npgsql's <c>Npgsql</c> activity source reads each command's
/// duration, SQL text (<c>db.query.text</c>) and data source (<c>db.npgsql.data_source</c>), records
/// <c>db_query_duration_seconds{query,source}</c> and logs queries at or above
/// <see cref="MonitoringOptions.SlowQueryThreshold"/>.
/// <list type="bullet">
/// <item><c>source</c> is <c>primary</c> or <c>replica</c> (the names ParleyDatabase gives its data
/// sources); commands of other data sources (migrations, tools) are ignored.</item>
/// <item><c>query</c> comes from <see cref="QueryNames"/>: a <c>-- name: xyz</c> first line, else the
/// normalised start of the SQL; at most <see cref="MonitoringOptions.MaxQueryNames"/> distinct names,
/// then <c>other</c>.</item>
/// <item>The listener is process-wide (Npgsql's source is static): in a process hosting several
/// servers each one's timer sees the others' commands.</item>
/// </list>
/// </summary>
public sealed partial class QueryTimer : IHostedService, IDisposable
{
    /// <summary>The label of queries past the cap on distinct names.</summary>
    public const string OtherQuery = "other";

    private const int MaxCachedTexts = 4_096;
    private static readonly string[] Sources = ["primary", "replica"];

    private readonly Histogram<double> _duration;
    private readonly MonitoringOptions _options;
    private readonly ILogger<QueryTimer> _logger;
    private readonly ConcurrentDictionary<string, string> _names = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _distinct = new(StringComparer.Ordinal);
    private ActivityListener? _listener;

    public QueryTimer(MonitoringMeter meter, IOptions<MonitoringOptions> options, ILogger<QueryTimer> logger)
    {
        _options = options.Value;
        _logger = logger;
        _duration = meter.Meter.CreateHistogram<double>("db.query.duration", "s", "Database command duration per named query and data source (primary, replica).");
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            // AllData so that Npgsql fills in the SQL text and the data source; nothing is recorded or exported as a trace.
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = OnStopped,
        };
        ActivitySource.AddActivityListener(_listener);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _listener, null)?.Dispose();
    }

    /// <summary>Records one command; public for tests that feed it activities of their own.</summary>
    public void Record(string? sql, string? dataSource, TimeSpan elapsed, bool failed)
    {
        string? source = SourceOf(dataSource);
        if (source is null || sql is null)
            return;
        string query = NameOf(sql);
        _duration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("query", query), new KeyValuePair<string, object?>("source", source));
        if (elapsed >= _options.SlowQueryThreshold)
            LogSlowQuery(_logger, query, source, elapsed.TotalMilliseconds, failed);
    }

    private void OnStopped(Activity activity)
    {
        // Connection opens have no SQL text; they are timed by Npgsql's own create_time histogram.
        if (activity.GetTagItem("db.query.text") is not string sql)
            return;
        Record(sql, activity.GetTagItem("db.npgsql.data_source") as string, activity.Duration, activity.Status == ActivityStatusCode.Error);
    }

    private static string? SourceOf(string? dataSource)
    {
        foreach (string source in Sources)
        {
            if (string.Equals(source, dataSource, StringComparison.Ordinal))
                return source;
        }
        return null;
    }

    private string NameOf(string sql)
    {
        if (_names.TryGetValue(sql, out string? cached))
            return cached;
        string name = QueryNames.For(sql);
        if (!_distinct.ContainsKey(name))
        {
            if (_distinct.Count >= _options.MaxQueryNames)
                name = OtherQuery;
            else
                _distinct.TryAdd(name, 0);
        }
        // Store SQL is constant text, so the cache stays small; ad-hoc SQL past the cap is named each time.
        if (_names.Count < MaxCachedTexts)
            _names.TryAdd(sql, name);
        return name;
    }

    [LoggerMessage(EventId = 4610, Level = LogLevel.Warning, Message = "Slow query {Query} on {Source}: {ElapsedMs:F1} ms (failed: {Failed})")]
    private static partial void LogSlowQuery(ILogger logger, string query, string source, double elapsedMs, bool failed);
}
