using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Npgsql;
using Parley.Kit.Load.Reports;
using Parley.Kit.Webhooks;

namespace Parley.Kit.Load.Observer;

/// <summary>
/// Starts observer processes of a fresh group (<paramref name="group"/>) with <paramref name="rulesYaml"/> against the
/// run's database and returns once one of them leads and reads the slot; disposing stops them.
/// </summary>
public delegate Task<IObserverGroup> StartObservers(string group, string rulesYaml, int listeners, CancellationToken ct);

/// <summary>The observers of a load run: the processes they run in (sampled for memory and CPU) and their <c>/metrics</c>.</summary>
public interface IObserverGroup : IAsyncDisposable
{
    /// <summary>Operating-system processes that run the observers (this one when they run in-process).</summary>
    IReadOnlyList<int> ProcessIds { get; }

    /// <summary>Each observer's <c>/metrics</c> URL (its stage durations are read at the end of the run).</summary>
    IReadOnlyList<Uri> MetricsUrls { get; }
}

/// <summary>
/// The observer's end-to-end load run (<c>parley load observer</c>, issue 10's benchmark): a table of its own and one
/// webhook rule on it, a fresh observer group of <see cref="ObserverLoadOptions.Listeners"/> processes, the counting
/// receiver (<see cref="WebhookReceiver"/>), rows inserted at <see cref="ObserverLoadOptions.Rate"/> (one or
/// <see cref="ObserverLoadOptions.RowsPerTransaction"/> per transaction);
/// then every row is expected as exactly one signed webhook. Afterwards the same inserts, unthrottled, into a table no
/// rule reads give the same-run ceiling of the database. Drops what it made (tables, slot, publication, queue rows).
/// </summary>
public static class ObserverLoad
{
    private const string RuleName = "load";
    private static readonly TimeSpan FirstEventWait = TimeSpan.FromSeconds(60);

    public static async Task<ObserverLoadResult> RunAsync(
        string connectionString, StartObservers startObservers, ObserverLoadOptions options, IProgress<string>? log, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(startObservers);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var run = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));
        var group = $"load_{run}";
        var table = $"load_observer_{run}";
        var reference = $"{table}_ref";
        var key = RandomNumberGenerator.GetBytes(32);
        var note = new string('n', options.EventBytes);
        await using var db = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = Math.Max(16, options.Connections + 4) }.ConnectionString);
        foreach (var t in new[] { table, reference })
            await ExecuteAsync(db, $"CREATE TABLE {t} (id bigserial PRIMARY KEY, note text NOT NULL, created_ms double precision NOT NULL DEFAULT extract(epoch FROM clock_timestamp()) * 1000)", ct).ConfigureAwait(false);
        try
        {
            await using var counter = await WebhookReceiver.StartAsync(key, clock: null, refuseBadSignatures: false, ct).ConfigureAwait(false);
            var rules = $$"""
                rules:
                  - name: {{RuleName}}
                    source: table:public.{{table}}
                    on: [insert]
                    actions:
                      - name: hook
                        webhook: { url: "{{counter.Url}}", secret: "whsec_{{Convert.ToBase64String(key)}}", timeout: 10s }
                """;
            log?.Report($"starting {options.Listeners} observer(s) of group {group} ...");
            var observers = await startObservers(group, rules, options.Listeners, ct).ConfigureAwait(false);
            ObserverLoadResult result;
            try
            {
                // The first row shows the slot streams; it is not counted.
                var probe = (await KitInsertAsync(db, table, note, null, TimeSpan.FromSeconds(1), 1, maxRows: 1, ct).ConfigureAwait(false)).Ids.Single();
                await WaitAsync(() => counter.Rows.ContainsKey(probe), FirstEventWait, ct).ConfigureAwait(false);
                if (!counter.Rows.ContainsKey(probe)) throw new TimeoutException($"the first row's webhook did not arrive within {FirstEventWait.TotalSeconds:0} s");

                var after = probe;
                if (options.Warmup > TimeSpan.Zero)
                {
                    log?.Report($"warm-up: {options.Rate:N0} rows/s for {options.Warmup.TotalSeconds:0.#} s, not counted ...");
                    var warm = (await InsertAsync(db, connectionString, table, note, options.Rate, options.Warmup, options, probe, ct).ConfigureAwait(false)).Ids;
                    await WaitAsync(() => warm.All(counter.Rows.ContainsKey), options.Drain, ct).ConfigureAwait(false);
                    if (warm.Count > 0) after = warm.Max();
                }

                var stagesBefore = await StageDurations.ReadAsync(observers.MetricsUrls, ct).ConfigureAwait(false);
                log?.Report($"inserting {options.Rate:N0} rows/s into {table} for {options.Duration.TotalSeconds:0.#} s ({options.Connections} connections, {options.Inserter} inserter, {options.RowsPerTransaction} row(s) per transaction) ...");
                var started = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                await using var sampler = ResourceSampler.Start(db, observers.ProcessIds);
                var inserted = await InsertAsync(db, connectionString, table, note, options.Rate, options.Duration, options, after, ct).ConfigureAwait(false);
                var insertSamples = sampler.Count;
                var ids = inserted.Ids;
                log?.Report($"{ids.Count:N0} rows inserted ({inserted.PerSecond:N0}/s); waiting up to {options.Drain.TotalSeconds:0} s for their webhooks ...");
                await WaitAsync(() => ids.All(counter.Rows.ContainsKey), options.Drain, ct).ConfigureAwait(false);
                var drainedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                var resources = await sampler.StopAsync(insertSamples).ConfigureAwait(false);
                var latencies = ids.Where(counter.Rows.ContainsKey).Select(id => counter.Rows[id]).ToList();
                var histogram = new LatencyHistogram();
                foreach (var ms in latencies) histogram.Record(TimeSpan.FromMilliseconds(Math.Max(0, ms)));
                var lastArrival = latencies.Count == 0 ? drainedAt : counter.LastArrivalMs;
                result = new ObserverLoadResult
                {
                    Options = options,
                    Inserted = ids.Count,
                    InsertsPerSecond = inserted.PerSecond,
                    Delivered = latencies.Count,
                    Lost = ids.Count - latencies.Count,
                    Duplicated = counter.Duplicated,
                    BadSignatures = counter.BadSignatures,
                    Late = latencies.Count(ms => ms > options.LateAfter.TotalMilliseconds),
                    DeliveredPerSecond = latencies.Count / Math.Max(0.001, (lastArrival - started) / 1000.0),
                    Latency = LatencySummary.Of(histogram),
                    Resources = resources with { CpuMsPerEvent = latencies.Count == 0 ? 0 : resources.CpuSeconds * 1000 / latencies.Count },
                    Stages = StageDurations.Since(stagesBefore, await StageDurations.ReadAsync(observers.MetricsUrls, ct).ConfigureAwait(false)),
                };
            }
            finally
            {
                await observers.DisposeAsync().ConfigureAwait(false);
            }
            if (options.Reference > TimeSpan.Zero)
            {
                log?.Report($"reference: unthrottled inserts into {reference} (no rule reads it) for {options.Reference.TotalSeconds:0.#} s ...");
                var ceiling = await InsertAsync(db, connectionString, reference, note, null, options.Reference, options, 0, ct).ConfigureAwait(false);
                result = result with { ReferenceInsertsPerSecond = ceiling.PerSecond };
            }
            return result with { LoadAverage = LoadAverage() };
        }
        finally
        {
            await CleanUpAsync(db, group, [table, reference]).ConfigureAwait(false);
        }
    }

    private sealed record Inserted(List<long> Ids, double PerSecond);

    /// <summary>Rows on the options' connections, by their inserter, paced to <paramref name="rate"/> per second (null: as fast as they go); the rows after <paramref name="after"/>.</summary>
    private static async Task<Inserted> InsertAsync(
        NpgsqlDataSource db, string connectionString, string table, string note, double? rate, TimeSpan duration, ObserverLoadOptions o, long after, CancellationToken ct)
    {
        if (o.Inserter == Inserter.Kit) return await KitInsertAsync(db, table, note, rate, duration, o.Connections, long.MaxValue, ct).ConfigureAwait(false);
        var perSecond = await PgbenchInserter.RunAsync(connectionString, table, note.Length, o.RowsPerTransaction, rate, duration, o.Connections, ct).ConfigureAwait(false);
        var ids = new List<long>();
        await using var cmd = db.CreateCommand($"SELECT id FROM {table} WHERE id > $1 ORDER BY id");
        cmd.Parameters.Add(new() { Value = after });
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false)) ids.Add(r.GetInt64(0));
        return new Inserted(ids, perSecond);
    }

    /// <summary>The kit's own inserter (in this process).</summary>
    private static async Task<Inserted> KitInsertAsync(
        NpgsqlDataSource db, string table, string note, double? rate, TimeSpan duration, int connections, long maxRows, CancellationToken ct)
    {
        var ids = new ConcurrentBag<long>();
        var clock = Stopwatch.StartNew();
        long next = -1;
        async Task Worker()
        {
            await using var conn = await db.OpenConnectionAsync(ct).ConfigureAwait(false);
            await using var cmd = new NpgsqlCommand($"INSERT INTO {table} (note) VALUES ($1) RETURNING id", conn);
            cmd.Parameters.Add(new() { Value = note });
            while (true)
            {
                var k = Interlocked.Increment(ref next);
                if (k >= maxRows) return;
                if (rate is { } r)
                {
                    var due = TimeSpan.FromSeconds(k / r);
                    if (due >= duration) return;
                    var wait = due - clock.Elapsed;
                    if (wait > TimeSpan.FromMilliseconds(1)) await Task.Delay(wait, ct).ConfigureAwait(false);
                }
                else if (clock.Elapsed >= duration)
                {
                    return;
                }
                ids.Add((long)(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false))!);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Worker())).ConfigureAwait(false);
        return new Inserted([.. ids.Order()], ids.Count / Math.Max(0.001, clock.Elapsed.TotalSeconds));
    }

    /// <summary>Polls <paramref name="done"/> every 100 ms until true or <paramref name="timeout"/>.</summary>
    private static async Task WaitAsync(Func<bool> done, TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (!done() && clock.Elapsed < timeout) await Task.Delay(100, ct).ConfigureAwait(false);
    }

    private static async Task ExecuteAsync(NpgsqlDataSource db, string sql, CancellationToken ct, params object[] args)
    {
        await using var cmd = db.CreateCommand(sql);
        foreach (var arg in args) cmd.Parameters.Add(new() { Value = arg });
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The group's slot (once its walsender let go, bounded), publication and rows, and the run's tables.</summary>
    private static async Task CleanUpAsync(NpgsqlDataSource db, string group, string[] tables)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ct = timeout.Token;
        try
        {
            for (var i = 0; i < 100; i++)
            {
                await using var active = db.CreateCommand("SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1 AND active");
                active.Parameters.Add(new() { Value = group });
                if ((long)(await active.ExecuteScalarAsync(ct).ConfigureAwait(false))! == 0) break;
                await Task.Delay(100, ct).ConfigureAwait(false);
            }
            await ExecuteAsync(db, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", ct, group).ConfigureAwait(false);
            await ExecuteAsync(db, $"DROP PUBLICATION IF EXISTS \"{group}_outbox\", \"{group}_tables\"", ct).ConfigureAwait(false);
            foreach (var t in new[] { "observer_actions", "observer_leader", "observer_checkpoints", "observer_instances" })
                await ExecuteAsync(db, $"DELETE FROM {t} WHERE observer = $1", ct, group).ConfigureAwait(false);
            foreach (var t in tables) await ExecuteAsync(db, $"DROP TABLE IF EXISTS {t}", ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            // Best effort: a stack torn down under the run takes all of it with it.
        }
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "";
        }
    }
}

/// <summary>What an observer load run measured; <see cref="Passed"/> when nothing was lost, duplicated or badly signed.</summary>
public sealed record ObserverLoadResult
{
    public required ObserverLoadOptions Options { get; init; }

    public long Inserted { get; init; }

    public double InsertsPerSecond { get; init; }

    public long Delivered { get; init; }

    public long Lost { get; init; }

    public long Duplicated { get; init; }

    public long BadSignatures { get; init; }

    public long Late { get; init; }

    /// <summary>Rows delivered / (last webhook − first insert).</summary>
    public double DeliveredPerSecond { get; init; }

    public required LatencySummary Latency { get; init; }

    /// <summary>Unthrottled inserts/s into a table no rule reads, same run, same connections (null: not measured).</summary>
    public double? ReferenceInsertsPerSecond { get; init; }

    /// <summary>/proc/loadavg (1, 5, 15 min) at the end of the run.</summary>
    public string LoadAverage { get; init; } = "";

    /// <summary>Memory, CPU and database connections of the observers' processes while the rows went in.</summary>
    public ResourceUsage? Resources { get; init; }

    /// <summary>observer_stage_duration_seconds summed over the group's observers, by stage.</summary>
    public IReadOnlyList<StageDuration> Stages { get; init; } = [];

    public bool Passed => Lost == 0 && Duplicated == 0 && BadSignatures == 0;

    public IEnumerable<string> Lines()
    {
        var inv = CultureInfo.InvariantCulture;
        var o = Options;
        yield return string.Create(inv, $"parley load observer: {(Passed ? "PASS" : "FAIL")}  ({o.Rate:N0} rows/s asked for {o.Duration.TotalSeconds:0.#} s, {o.Listeners} observer(s), {o.EventBytes:N0}-byte rows, {o.RowsPerTransaction:N0} per transaction, {o.Connections} connections; load average {LoadAverage})");
        yield return "";
        yield return "INSERTED  INSERTS/S  DELIVERED  WEBHOOKS/S  LOST  DUPLICATED  BAD SIGNATURES  LATE (>" + Ms(o.LateAfter.TotalMilliseconds) + ")";
        yield return string.Create(inv, $"{Inserted,8:N0}  {InsertsPerSecond,9:N0}  {Delivered,9:N0}  {DeliveredPerSecond,10:N0}  {Lost,4:N0}  {Duplicated,10:N0}  {BadSignatures,14:N0}  {Late:N0}");
        yield return "";
        yield return "insert -> webhook received: " + string.Join("  ", new[] { ("P50", Latency.P50), ("P95", Latency.P95), ("P99", Latency.P99), ("P99.9", Latency.P999), ("max", Latency.Max) }.Select(p => $"{p.Item1} {Ms(p.Item2)}"));
        if (ReferenceInsertsPerSecond is { } reference)
            yield return string.Create(inv, $"same-run reference: {reference:N0} inserts/s unthrottled ({o.Inserter} inserter, {o.RowsPerTransaction:N0} per transaction) into a table no rule reads; webhooks/s are {DeliveredPerSecond / reference:P0} of it");
        if (Resources is { } res)
            yield return string.Create(inv, $"observer processes: RSS {res.RssStartMb:0} MB after warm-up -> {res.RssEndMb:0} MB at the end of inserting ({res.RssGrowth:+0.0%;-0.0%}), peak {res.RssPeakMb:0} MB; CPU {res.CpuSeconds:0.0} s ({res.CpuMsPerEvent:0.00} ms per event); database connections {res.ConnectionsMin}-{res.ConnectionsMax}");
        if (Stages.Count > 0)
            yield return "stages (count, mean ms): " + string.Join("  ", Stages.Select(st => string.Create(inv, $"{st.Stage} {st.Count:N0} x {st.MeanMs:0.00}")));
    }

    private static string Ms(double ms) => ms.ToString(ms < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture) + " ms";
}
