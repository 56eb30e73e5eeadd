using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Npgsql;
using Parley.Kit.Chaos.Faults;
using Parley.Kit.Chaos.Nodes;
using Parley.Kit.Chaos.Proxy;
using Parley.Kit.Stack;
using Parley.Kit.Webhooks;

namespace Parley.Kit.Chaos.Observer;

/// <summary>
/// An observer failover drill on a real stack: a group of observer processes (<c>parley observer run</c>), each reaching
/// PostgreSQL through a fault proxy of its own, a table of its own whose every insert is a webhook to a
/// <see cref="WebhookReceiver"/>, rows inserted at a steady rate while a fault (<see cref="ObserverFault"/>) is injected and
/// removed. It watches every process's <c>/health</c> to time the takeover, then counts what arrived per <c>webhook-id</c> and
/// checks the fencing in the database. Everything it creates (slot, publications, queue rows, table) is dropped after.
/// </summary>
public static partial class ObserverDrill
{
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(100);

    public static async Task<ObserverDrillResult> RunAsync(LocalStack stack, ObserverDrillPlan plan, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(stack);
        ArgumentNullException.ThrowIfNull(plan);
        var group = $"drill_{Guid.NewGuid().ToString("N")[..10]}";
        var clock = Stopwatch.StartNew();
        var secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var notes = new List<string>();
        var directory = Directory.CreateTempSubdirectory("parley-drill-");
        await using var db = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(stack.PrimaryConnectionString) { Timeout = 3, CommandTimeout = 15 }.ConnectionString);
        await ExecuteAsync(db, $"CREATE TABLE {group} (id bigserial PRIMARY KEY, n bigint NOT NULL UNIQUE, at timestamptz NOT NULL DEFAULT clock_timestamp())", ct).ConfigureAwait(false);
        var proxies = new List<FaultProxy>();
        var nodes = new List<ParleyNode>();
        WebhookReceiver? receiver = null;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        using var stopInserts = new CancellationTokenSource();
        Task? inserter = null;
        try
        {
            receiver = await WebhookReceiver.StartAsync(secret, clock, ct).ConfigureAwait(false);
            var rules = Path.Combine(directory.FullName, "rules.yaml");
            await File.WriteAllTextAsync(rules, Rules(group, receiver.BaseUrl, secret, plan.Fault == ObserverFault.SlowEndpoint), ct).ConfigureAwait(false);
            for (var i = 0; i < plan.Observers; i++)
            {
                var proxy = FaultProxy.Start($"{group}-observer-{i}-db", stack.Primary.Port);
                proxies.Add(proxy);
                progress?.Report($"{group}: starting observer-{i}");
                var node = await ParleyNode.StartObserverAsync($"observer-{i}", rules, Settings(stack, plan, group, ChaosStack.Through(stack.PrimaryConnectionString, proxy)), ct: ct).ConfigureAwait(false);
                nodes.Add(node);
                var expected = i == 0 ? "leader" : "standby";
                await UntilAsync(async () => await HealthAsync(http, node, ct).ConfigureAwait(false) is { } h && h.Role == expected && (i > 0 || h.Streaming), plan.Bound, ct,
                    $"observer-{i} to report {expected}", node).ConfigureAwait(false);
            }

            long next = 0;
            inserter = Task.Run(() => InsertLoopAsync(db, group, plan.InsertsPerSecond, () => Interlocked.Increment(ref next), stopInserts.Token), CancellationToken.None);
            await Task.Delay(plan.Baseline, ct).ConfigureAwait(false);
            if (plan.BatchBefore > 0) await InsertBatchAsync(db, group, Interlocked.Add(ref next, plan.BatchBefore) - plan.BatchBefore + 1, plan.BatchBefore, ct).ConfigureAwait(false);

            var before = (await Task.WhenAll(nodes.Select(n => HealthAsync(http, n, ct))).ConfigureAwait(false)).ToList();
            var leader = before.FindIndex(h => h is { Role: "leader" });
            if (leader < 0) throw new InvalidOperationException("no observer leads before the fault");
            var victim = leader;
            var runningAtKill = 0;
            if (plan.Fault == ObserverFault.StandbyKill) victim = (leader + 1) % nodes.Count;
            if (plan.Fault == ObserverFault.WorkerKill)
                (victim, runningAtKill) = await HoldUntilClaimedAsync(http, nodes, receiver, leader, plan.Bound, ct).ConfigureAwait(false);
            IFault fault = plan.Fault switch
            {
                ObserverFault.LeaderKill or ObserverFault.StandbyKill or ObserverFault.WorkerKill => new NodeCrash(nodes[victim]),
                ObserverFault.LeaderPause => new NodePause(nodes[victim]),
                ObserverFault.LeaderPartition => ProxyFault.Partition(proxies[victim]),
                ObserverFault.DatabaseOutage => new ComponentOutage(stack.Primary, kill: false),
                ObserverFault.RedisOutage => new ComponentOutage(stack.Redis ?? throw new InvalidOperationException("the stack has no Redis"), kill: false),
                _ => new SlowEndpoint(receiver),
            };
            progress?.Report($"{group}: {fault.Description} (observer-{victim}, {before[victim]!.Role})");

            var injectedAt = clock.Elapsed;
            await fault.InjectAsync(ct).ConfigureAwait(false);
            if (plan.Fault == ObserverFault.WorkerKill) receiver.Release();
            double? failover = null, detection = null, stoodDown = null;
            bool? stoodDownFirst = null;
            var answering = new List<int>();
            var leaderChanged = false;
            var leaderFault = plan.Fault is ObserverFault.LeaderKill or ObserverFault.LeaderPause or ObserverFault.LeaderPartition;
            while (true)
            {
                var since = (clock.Elapsed - injectedAt).TotalSeconds;
                var now = await Task.WhenAll(nodes.Select(n => HealthAsync(http, n, ct))).ConfigureAwait(false);
                answering.Add(now.Count(h => h is not null));
                var othersLead = now.Where((h, i) => i != victim && h is { Role: "leader" }).ToList();
                if (leaderFault)
                {
                    if (failover is null && othersLead.Any(h => h!.Streaming)) failover = since;
                    if (plan.Fault == ObserverFault.LeaderPartition && stoodDown is null && now[victim] is { Role: "standby" })
                    {
                        stoodDown = since;
                        stoodDownFirst ??= true;
                    }
                    if (plan.Fault == ObserverFault.LeaderPartition && othersLead.Count > 0) stoodDownFirst ??= false;
                }
                else if (now.Any(h => h is { Role: "leader" } && h.Instance != before[leader]!.Instance))
                    leaderChanged = true;
                if (plan.Fault == ObserverFault.DatabaseOutage && detection is null && now.All(h => h is not { Streaming: true })) detection = since;
                if (plan.Fault == ObserverFault.SlowEndpoint && detection is null && await BreakerOpenAsync(http, nodes, new Uri(receiver.BaseUrl, "slow"), ct).ConfigureAwait(false))
                    detection = since;
                var seen = plan.Fault switch
                {
                    ObserverFault.LeaderPartition => failover is not null && stoodDown is not null,
                    ObserverFault.LeaderKill or ObserverFault.LeaderPause => failover is not null,
                    ObserverFault.DatabaseOutage or ObserverFault.SlowEndpoint => detection is not null,
                    _ => true, // nothing to await: the fault lasts its duration
                };
                if ((seen && since >= plan.FaultDuration.TotalSeconds) || since >= plan.Bound.TotalSeconds) break;
                await Task.Delay(ProbeInterval, ct).ConfigureAwait(false);
            }

            var removedAt = clock.Elapsed;
            await fault.RemoveAsync(ct).ConfigureAwait(false);
            // The database's time just after the removal (it may have been the database that was down).
            var removedDbTime = DateTime.MinValue;
            await PollAsync(async () => (removedDbTime = await ScalarAsync<DateTime>(db, "SELECT clock_timestamp()", ct).ConfigureAwait(false)) > DateTime.MinValue, plan.Bound, ct).ConfigureAwait(false);
            var slowDoneAtRemoval = receiver.SlowDone.Count;
            var recovered = await PollAsync(async () => plan.Fault switch
            {
                ObserverFault.DatabaseOutage => (await Task.WhenAll(nodes.Select(n => HealthAsync(http, n, ct))).ConfigureAwait(false)).Any(h => h is { Role: "leader", Streaming: true }),
                ObserverFault.SlowEndpoint => receiver.SlowDone.Count > slowDoneAtRemoval,
                ObserverFault.RedisOutage => true,
                // Back as a standby that reaches the database again (its heartbeat row renewed after the removal).
                _ => await HealthAsync(http, nodes[victim], ct).ConfigureAwait(false) is { Role: "standby" } h
                    && await ScalarAsync<bool>(db, "SELECT coalesce(bool_or(seen_at > $2), false) FROM observer_instances WHERE observer = $1 AND instance = $3", ct, group, removedDbTime, h.Instance).ConfigureAwait(false),
            }, plan.Bound, ct).ConfigureAwait(false);
            double? recovery = recovered ? (clock.Elapsed - removedAt).TotalSeconds : null;
            if (plan.Fault == ObserverFault.DatabaseOutage && recovered) failover = (clock.Elapsed - injectedAt).TotalSeconds;

            await Task.Delay(plan.Recovery, ct).ConfigureAwait(false);
            if (plan.BatchAfter > 0) await InsertBatchAsync(db, group, Interlocked.Add(ref next, plan.BatchAfter) - plan.BatchAfter + 1, plan.BatchAfter, ct).ConfigureAwait(false);
            await stopInserts.CancelAsync().ConfigureAwait(false);
            await inserter.ConfigureAwait(false);

            progress?.Report($"{group}: waiting for every webhook");
            var rows = await RowsAsync(db, group, ct).ConfigureAwait(false);
            await PollAsync(async () => receiver.Deliveries.Select(d => d.Row).ToHashSet().IsSupersetOf(rows.Keys)
                && await ScalarAsync<long>(db, "SELECT count(*) FROM observer_actions WHERE observer = $1 AND action = 'hook' AND status IN ('pending', 'running')", ct, group).ConfigureAwait(false) == 0,
                plan.Bound, ct).ConfigureAwait(false);

            var deliveries = receiver.Deliveries.ToList();
            var duplicated = deliveries.GroupBy(d => d.WebhookId).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            var afterLost = await ListAsync(db, """
                SELECT DISTINCT a.event_id || '.' || a.rule || '.' || a.action FROM observer_actions a JOIN observer_attempts t ON t.action_id = a.id
                WHERE a.observer = $1 AND t.outcome = 'lost'
                """, ct, group).ConfigureAwait(false);
            var latencies = deliveries.Where(d => rows.ContainsKey(d.Row)).GroupBy(d => d.Row)
                .Select(g => (g.Min(d => d.ReceivedAt) - rows[g.Key]).TotalMilliseconds).Order().ToList();
            var healthNow = await Task.WhenAll(nodes.Select(n => HealthAsync(http, n, ct))).ConfigureAwait(false);
            var leaderNode = Array.FindIndex(healthNow, h => h is { Role: "leader" });
            var metrics = leaderNode < 0 ? "" : await MetricsAsync(nodes[leaderNode], ct).ConfigureAwait(false);
            var victimLog = nodes[victim].Log();
            if (plan.Fault == ObserverFault.StandbyKill) notes.Add($"leader changed during the fault: {leaderChanged}");
            var checkpointTerm = await ScalarAsync<long?>(db, "SELECT term FROM observer_checkpoints WHERE observer = $1", ct, group).ConfigureAwait(false);
            var termAfter = await ScalarAsync<long?>(db, "SELECT term FROM observer_leader WHERE observer = $1", ct, group).ConfigureAwait(false) ?? 0;
            notes.Add($"checkpoint term {checkpointTerm?.ToString(CultureInfo.InvariantCulture) ?? "none"}, lease term {termAfter}");
            return new ObserverDrillResult
            {
                Plan = plan,
                Fault = $"{fault.Description} (observer-{victim}, {before[victim]!.Role}, pid {before[victim]!.Pid})",
                LeaderBefore = $"observer-{leader} ({before[leader]!.Instance})",
                TermBefore = before[leader]!.Term ?? 0,
                LeaderAfter = leaderNode < 0 ? null : $"observer-{leaderNode} ({healthNow[leaderNode]!.Instance})",
                TermAfter = termAfter,
                FailoverSeconds = failover,
                DetectionSeconds = detection,
                OldLeaderStoodDownSeconds = stoodDown,
                StoodDownBeforeTakeover = stoodDownFirst,
                RecoverySeconds = recovery,
                DeposedWrites = await ScalarAsync<long>(db, """
                    SELECT count(*) FROM observer_actions o
                    WHERE o.observer = $1 AND o.term < (SELECT term FROM observer_leader WHERE observer = $1)
                      AND o.id > (SELECT min(id) FROM observer_actions WHERE observer = $1 AND term = (SELECT term FROM observer_leader WHERE observer = $1))
                    """, ct, group).ConfigureAwait(false),
                DeposedNoticed = victimLog.Contains("is gone (lapsed or taken)", StringComparison.Ordinal) || victimLog.Contains("could not be renewed in time", StringComparison.Ordinal),
                FailoversMetric = Metric(metrics, "observer_failovers_total"),
                LeaderMetric = Metric(metrics, "observer_leader"),
                HealthyDuringFault = $"{answering.DefaultIfEmpty(0).Min()}/{nodes.Count} (lowest seen)",
                Inserted = rows.Count,
                Delivered = deliveries.Count,
                Lost = [.. rows.Keys.Except(deliveries.Select(d => d.Row)).Order()],
                Duplicated = duplicated,
                DuplicatedAfterLostAttempt = duplicated.Count(afterLost.Contains),
                Late = latencies.Count(l => l > plan.LateAfter.TotalMilliseconds),
                P50LatencyMs = Percentile(latencies, 0.50),
                P95LatencyMs = Percentile(latencies, 0.95),
                P99LatencyMs = Percentile(latencies, 0.99),
                MaxLatencyMs = latencies.DefaultIfEmpty(0).Max(),
                BadSignatures = (int)receiver.BadSignatures,
                LostAttempts = (int)await ScalarAsync<long>(db, "SELECT count(*) FROM observer_attempts t JOIN observer_actions a ON a.id = t.action_id WHERE a.observer = $1 AND t.outcome = 'lost'", ct, group).ConfigureAwait(false),
                RunningAtKill = runningAtKill,
                SlowCalls = receiver.SlowCalls,
                SlowDone = receiver.SlowDone.Count,
                Notes = notes,
            };
        }
        finally
        {
            await stopInserts.CancelAsync().ConfigureAwait(false);
            if (inserter is not null) await inserter.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            foreach (var node in nodes) await node.DisposeAsync().ConfigureAwait(false);
            foreach (var proxy in proxies) await proxy.DisposeAsync().ConfigureAwait(false);
            if (receiver is not null) await receiver.DisposeAsync().ConfigureAwait(false);
            foreach (var component in stack.Components.Where(c => c.State == StackComponentState.Stopped))
                await component.StartAsync(CancellationToken.None).ConfigureAwait(false);
            await DropAsync(db, group).ConfigureAwait(false);
            directory.Delete(recursive: true);
        }
    }

    private static string Rules(string group, Uri receiver, string secret, bool slow)
    {
        var retry = "[0s, 1s, 2s, 4s, 8s, 15s, 30s]";
        var yaml = $"""
            rules:
              - name: drill
                source: table:public.{group}
                on: [insert]
                actions:
                  - name: hook
                    webhook: {"{"} url: "{new Uri(receiver, "hook")}", secret: "{secret}", timeout: 5s {"}"}
                    retry: {retry}

            """;
        if (slow)
            yaml += $"""
                      - name: slow
                        webhook: {"{"} url: "{new Uri(receiver, "slow")}", secret: "{secret}", timeout: 2s {"}"}
                        retry: {retry}

                """;
        return yaml;
    }

    private static Dictionary<string, string?> Settings(LocalStack stack, ObserverDrillPlan plan, string group, string connectionString)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Parley:Data:PrimaryConnectionString"] = connectionString,
            ["Parley:Observer:ConnectionString"] = connectionString,
            ["Parley:Redis:Endpoint"] = stack.RedisEndpoint,
            ["Parley:Observer:Name"] = group,
            ["Parley:Observer:IndexMessages"] = "false",
            ["Parley:Observer:LeaseDuration"] = plan.LeaseDuration.ToString("c", CultureInfo.InvariantCulture),
            ["Parley:Observer:LeaseCheckInterval"] = plan.LeaseCheckInterval.ToString("c", CultureInfo.InvariantCulture),
            // A lost claim (its process killed) is taken again after timeout + 10 s instead of + 30 s, so drills stay short.
            ["Parley:Observer:ClaimGrace"] = "00:00:10",
            ["Parley:Observer:FailFastDelay"] = "00:00:01",
            ["Parley:Observer:HeartbeatInterval"] = "00:00:02",
            ["Parley:Observer:Breaker:BreakDuration"] = "00:00:03",
        };
        foreach (var (key, value) in plan.Overrides ?? new Dictionary<string, string?>()) settings[key] = value;
        return settings;
    }

    /// <summary>
    /// Holds the receiver until a standby (after 2 s, else the leader) runs actions; that process and how many it runs. The
    /// hold stays well inside the 5 s action timeout, so the live processes' held attempts are answered, not timed out.
    /// </summary>
    private static async Task<(int Victim, int Running)> HoldUntilClaimedAsync(HttpClient http, List<ParleyNode> nodes, WebhookReceiver receiver, int leader, TimeSpan bound, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + bound;
        while (true)
        {
            receiver.Hold();
            var holdEnds = DateTime.UtcNow + TimeSpan.FromSeconds(2);
            while (DateTime.UtcNow < holdEnds)
            {
                var now = await Task.WhenAll(nodes.Select(n => HealthAsync(http, n, ct))).ConfigureAwait(false);
                var standby = Array.FindIndex(now, h => h is { Role: "standby", Running: > 0 });
                if (standby >= 0) return (standby, now[standby]!.Running);
                // The leader runs what it enqueues in its own free slots, so a standby may get nothing: then the leader.
                if (DateTime.UtcNow > holdEnds - ProbeInterval * 5 && now[leader] is { Running: > 0 } l) return (leader, l.Running);
                await Task.Delay(ProbeInterval, ct).ConfigureAwait(false);
            }
            receiver.Release();
            if (DateTime.UtcNow > deadline) throw new TimeoutException("no observer ran an action while the receiver held them");
        }
    }

    private static async Task InsertLoopAsync(NpgsqlDataSource db, string table, double perSecond, Func<long> next, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        for (var i = 0L; !stop.IsCancellationRequested; i++)
        {
            var wait = TimeSpan.FromSeconds(i / perSecond) - clock.Elapsed;
            if (wait > TimeSpan.Zero) await Task.Delay(wait, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            var n = next();
            // The same n until it is in (the database may be down): the table is the truth of what was inserted.
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await ExecuteAsync(db, $"INSERT INTO {table} (n) VALUES ($1) ON CONFLICT (n) DO NOTHING", stop, n).ConfigureAwait(false);
                    break;
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException || e is OperationCanceledException && !stop.IsCancellationRequested)
                {
                    await Task.Delay(200, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private static Task InsertBatchAsync(NpgsqlDataSource db, string table, long first, int count, CancellationToken ct) =>
        ExecuteAsync(db, $"INSERT INTO {table} (n) SELECT g FROM generate_series($1::bigint, $2::bigint) g", ct, first, first + count - 1);

    private static async Task<Dictionary<long, DateTimeOffset>> RowsAsync(NpgsqlDataSource db, string table, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT n, at FROM {table}");
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var rows = new Dictionary<long, DateTimeOffset>();
        while (await reader.ReadAsync(ct).ConfigureAwait(false)) rows[reader.GetInt64(0)] = reader.GetFieldValue<DateTimeOffset>(1);
        return rows;
    }

    /// <summary>One process's <c>/health</c>; null when it does not answer within a second (killed, paused, starting).</summary>
    private static async Task<Health?> HealthAsync(HttpClient http, ParleyNode node, CancellationToken ct)
    {
        if (!node.IsRunning) return null;
        try
        {
            var h = await http.GetFromJsonAsync<JsonObject>(new Uri(node.BaseAddress, "/health"), ct).ConfigureAwait(false);
            return h is null ? null : new Health(
                h["instance"]!.GetValue<string>(), h["pid"]!.GetValue<int>(), h["role"]!.GetValue<string>(), h["streaming"]!.GetValue<bool>(),
                h["term"]?.GetValue<long>(), h["runningActions"]!.GetValue<int>());
        }
        catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException || e is TaskCanceledException && !ct.IsCancellationRequested)
        {
            return null;
        }
    }

    private static async Task<bool> BreakerOpenAsync(HttpClient http, List<ParleyNode> nodes, Uri endpoint, CancellationToken ct)
    {
        foreach (var node in nodes.Where(n => n.IsRunning))
        {
            try
            {
                var status = await http.GetFromJsonAsync<JsonObject>(new Uri(node.BaseAddress, "/status"), ct).ConfigureAwait(false);
                if (status?["breakers"]?.AsArray().Any(b => b?["endpoint"]?.GetValue<string>() == endpoint.ToString() && b["state"]?.GetValue<string>() == "open") == true) return true;
            }
            catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException || e is TaskCanceledException && !ct.IsCancellationRequested)
            {
                // not answering: try the next
            }
        }
        return false;
    }

    // The final scrape is not a probe: at load average 50-86 one /metrics answer took longer than the probes' 1 s, and the
    // drill then read observer_leader as 0.
    private static readonly HttpClient Scraper = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>The node's /metrics, tried up to three times (10 s each); empty when it never answered.</summary>
    private static async Task<string> MetricsAsync(ParleyNode node, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await Scraper.GetStringAsync(new Uri(node.BaseAddress, "/metrics"), ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException || e is TaskCanceledException && !ct.IsCancellationRequested)
            {
                if (attempt == 3) return "";
                await Task.Delay(TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);
            }
        }
    }

    private static double Metric(string text, string name)
    {
        foreach (Match m in MetricLine().Matches(text))
            if (m.Groups[1].Value == name) return double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        return double.NaN;
    }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    private static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan bound, CancellationToken ct, string what, ParleyNode node)
    {
        if (!await PollAsync(condition, bound, ct).ConfigureAwait(false))
            throw new TimeoutException($"Timed out after {bound.TotalSeconds:0} s waiting for {what}. Its output:\n{node.Log()}");
    }

    /// <summary>Polls until <paramref name="condition"/> holds (true) or <paramref name="bound"/> is over (false); a throwing probe counts as not yet.</summary>
    private static async Task<bool> PollAsync(Func<Task<bool>> condition, TimeSpan bound, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + bound;
        do
        {
            try
            {
                if (await condition().ConfigureAwait(false)) return true;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException || e is OperationCanceledException && !ct.IsCancellationRequested)
            {
                // the database may still be coming back
            }
            await Task.Delay(ProbeInterval, ct).ConfigureAwait(false);
        }
        while (DateTime.UtcNow < deadline);
        return false;
    }

    private static async Task DropAsync(NpgsqlDataSource db, string group)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await PollAsync(async () => await ScalarAsync<long>(db, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1 AND active", timeout.Token, group).ConfigureAwait(false) == 0,
                TimeSpan.FromSeconds(30), timeout.Token).ConfigureAwait(false);
            await ExecuteAsync(db, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", timeout.Token, group).ConfigureAwait(false);
            await ExecuteAsync(db, $"DROP PUBLICATION IF EXISTS \"{group}_outbox\", \"{group}_tables\"", timeout.Token).ConfigureAwait(false);
            foreach (var table in new[] { "observer_actions", "observer_leader", "observer_instances", "observer_checkpoints", "observer_endpoints" })
                await ExecuteAsync(db, $"DELETE FROM {table} WHERE observer = $1", timeout.Token, group).ConfigureAwait(false);
            await ExecuteAsync(db, $"DROP TABLE IF EXISTS {group}", timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            // best effort: the stack is the caller's, a leftover group does not disturb others (its own names)
        }
    }

    private static async Task ExecuteAsync(NpgsqlDataSource db, string sql, CancellationToken ct, params object[] args)
    {
        await using var cmd = db.CreateCommand(sql);
        foreach (var arg in args) cmd.Parameters.Add(new() { Value = arg });
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlDataSource db, string sql, CancellationToken ct, params object[] args)
    {
        await using var cmd = db.CreateCommand(sql);
        foreach (var arg in args) cmd.Parameters.Add(new() { Value = arg });
        var value = await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false);
        return value is DBNull or null ? default! : (T)value;
    }

    private static async Task<HashSet<string>> ListAsync(NpgsqlDataSource db, string sql, CancellationToken ct, params object[] args)
    {
        await using var cmd = db.CreateCommand(sql);
        foreach (var arg in args) cmd.Parameters.Add(new() { Value = arg });
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var list = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(ct).ConfigureAwait(false)) list.Add(reader.GetString(0));
        return list;
    }

    [GeneratedRegex(@"^(\w+)(?:\{[^}]*\})? (\S+)$", RegexOptions.Multiline)]
    private static partial Regex MetricLine();

    private sealed record Health(string Instance, int Pid, string Role, bool Streaming, long? Term, int Running);

    /// <summary>The drill's second endpoint hangs (a receiver that would take 100 s) until removed.</summary>
    private sealed class SlowEndpoint(WebhookReceiver receiver) : IFault
    {
        public string Description => "the slow endpoint hangs every request (a 100 s receiver; action timeout 2 s)";

        public Task InjectAsync(CancellationToken ct = default)
        {
            receiver.SlowHangs = true;
            return Task.CompletedTask;
        }

        public Task RemoveAsync(CancellationToken ct = default)
        {
            receiver.SlowHangs = false;
            return Task.CompletedTask;
        }
    }
}
