using System.Globalization;
using Parley.Kit.Load.Engine;
using Parley.Kit.Load.Gates;
using Parley.Kit.Load.Http;
using Parley.Kit.Load.Reports;
using Parley.Kit.Load.Sampling;

namespace Parley.Kit.Load;

/// <summary>What to run against where, judged by which gates.</summary>
public sealed record LoadRunSettings(string Url, LoadProfile Profile, IReadOnlyList<Gate> Gates, string PlanText)
{
    /// <summary>Called once a second with the live progress line.</summary>
    public Action<string>? OnProgress { get; init; }

    /// <summary>Setup and verification steps.</summary>
    public IProgress<string>? Log { get; init; }

    /// <summary>Runtime flags to set for the run (name → on/off), restored afterwards; needs <see cref="AdminHandle"/> to be an admin (`parley admin grant`).</summary>
    public IReadOnlyDictionary<string, bool> Flags { get; init; } = new Dictionary<string, bool>();

    public string AdminHandle { get; init; } = "load_admin";
}

/// <summary>
/// Runs one scenario end to end: loopback check, file limit, a sized connection pool, setup, the engine with live
/// progress and gate watch, server sampling from <c>/metrics</c>, verification, and the summary with gate verdicts.
/// </summary>
public static class LoadRunner
{
    // Setup's 503s are sent again for up to a minute (ParleyApiClient.RetryUnavailableFor).
    private static readonly TimeSpan SetupRetryUnavailable = TimeSpan.FromMinutes(1);

    public static async Task<RunSummary> RunAsync(ILoadScenario scenario, LoadRunSettings settings, CancellationToken ct)
    {
        SocketEngine.PreferEventLoops();
        var baseUri = LoopbackGuard.Ensure(settings.Url);
        if (!baseUri.AbsolutePath.EndsWith('/')) baseUri = new Uri(baseUri + "/");
        var profile = settings.Profile;
        profile.Validate();
        var sockets = profile.Model == LoadModel.Closed ? (int)Math.Ceiling(profile.Plan.Peak) : profile.Connections;
        var httpPool = scenario is IWebSocketScenario ? 128 : profile.Model == LoadModel.Open ? sockets : 64;
        var limit = FileLimit.Raise((ulong)(sockets * 2 + 1024));
        if (limit is { } l && l < (ulong)sockets + 256)
            settings.Log?.Report($"the open-file limit is {l}: fewer than the {sockets} connections asked for (raise the hard limit with ulimit -Hn)");

        using var http = CreateClient(baseUri, httpPool, profile.RequestTimeout);
        using var setupHttp = CreateClient(baseUri, 32, TimeSpan.FromMinutes(2));
        var context = new LoadContext(new ParleyApiClient(http), baseUri, profile, settings.Log, new ParleyApiClient(setupHttp) { RetryUnavailableFor = SetupRetryUnavailable });
        var recorder = new LoadRecorder();

        await using var flags = await RuntimeFlags.SetAsync(context.Setup, settings.AdminHandle, settings.Flags, settings.Log, ct).ConfigureAwait(false);
        settings.Log?.Report($"setting up '{scenario.Name}' against {baseUri} ...");
        await scenario.SetupAsync(context, ct).ConfigureAwait(false);

        await using var sampler = new ServerSampler(baseUri);
        sampler.Start();
        var monitor = new GateMonitor(settings.Gates, Math.Max(1, (int)profile.GateWindow.TotalSeconds));
        var timeline = new List<TimelinePoint>();
        // Connections open before the clock starts: the open model's pool, or each closed-model user's own connection.
        if (profile.Model == LoadModel.Open && scenario is not IWebSocketScenario)
            await OpenConnectionsAsync(http, sockets, settings.Log, ct).ConfigureAwait(false);
        using var users = profile.Model == LoadModel.Closed
            ? await OwnConnections.OpenAsync(context.Api, (int)Math.Ceiling(profile.Plan.Start), settings.Log, ct).ConfigureAwait(false)
            : new OwnConnections([]);
        var engine = new LoadEngine(scenario, context, recorder, users.Take);
        var startedAt = DateTimeOffset.UtcNow;
        var measuringMarked = false;

        string? OnTick(TickInfo tick)
        {
            if (!tick.WarmingUp && !measuringMarked)
            {
                sampler.MarkMeasuring();
                measuringMarked = true;
            }
            var interval = tick.IntervalLatency;
            var pool = sampler.Latest?.PoolSaturation;
            if (!tick.WarmingUp)
                timeline.Add(new TimelinePoint(Math.Round((tick.Elapsed - profile.WarmUp).TotalSeconds), tick.IntervalRequests, tick.IntervalErrors,
                    Ms(interval.ValueAtPercentile(50)), Ms(interval.ValueAtPercentile(95)), Ms(interval.ValueAtPercentile(99)), Ms(interval.MaxNanoseconds),
                    Math.Round(tick.Target, 1), pool));
            settings.OnProgress?.Invoke(ProgressLine(tick, recorder, pool, profile.Model));
            return tick.WarmingUp ? null : monitor.Observe(interval, tick.IntervalRequests, tick.IntervalErrors);
        }

        await engine.RunAsync(OnTick, ct).ConfigureAwait(false);
        var finishedLoad = DateTimeOffset.UtcNow;
        var server = await sampler.FinishAsync().ConfigureAwait(false);
        settings.Log?.Report("verifying ...");
        string? verifyError = null;
        try
        {
            await scenario.VerifyAsync(context, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or System.Text.Json.JsonException
            || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            // The measured run is kept: a failed check leaves its counters unset, so their gates are inconclusive.
            verifyError = $"{e.GetType().Name}: {e.Message}";
            settings.Log?.Report($"verification failed: {verifyError}");
        }

        var measured = Math.Max(0.001, (finishedLoad - startedAt - profile.WarmUp).TotalSeconds);
        var values = context.Counters.ToDictionary(p => p.Key, p => (double)p.Value);
        if (server.MemoryGrowth is { } growth) values["memory_growth"] = growth;
        if (server.CacheHitRatio is { } hit) values["cache_hit"] = hit;
        if (server.PoolSaturationMax is { } saturation) values["pool"] = saturation;
        if (server.ReplicaLagMaxSeconds is { } lag) values["replica_lag"] = lag;
        var data = new GateData(recorder.All, recorder.Requests, recorder.Errors, TimeSpan.FromSeconds(measured),
            context.Histograms.ToDictionary(p => p.Key, p => p.Value).Concat(recorder.Operations.Select(p => KeyValuePair.Create(p.Key, p.Value.Latency)))
                .GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.First().Value),
            values);
        var verdicts = GateEvaluator.Evaluate(settings.Gates, data);

        return new RunSummary
        {
            Scenario = scenario.Name,
            StartedAt = startedAt,
            FinishedAt = DateTimeOffset.UtcNow,
            Url = baseUri.ToString(),
            Model = profile.Model.ToString().ToLowerInvariant(),
            Plan = settings.PlanText,
            Connections = sockets,
            WarmUpSeconds = profile.WarmUp.TotalSeconds,
            MeasuredSeconds = Math.Round(measured, 3),
            Requests = recorder.Requests,
            Ok = recorder.Ok,
            Expected = recorder.Expected,
            Errors = recorder.Errors,
            Latency = LatencySummary.Of(recorder.All),
            Operations = recorder.Operations.ToDictionary(p => p.Key, p => new OperationSummary(
                p.Value.Latency.Count, Interlocked.Read(ref p.Value.Errors),
                p.Value.Statuses.ToDictionary(s => s.Key.ToString(CultureInfo.InvariantCulture), s => s.Value), LatencySummary.Of(p.Value.Latency),
                p.Value.LatencyByStatus.ToDictionary(s => s.Key.ToString(CultureInfo.InvariantCulture), s => LatencySummary.Of(s.Value)))),
            ErrorKinds = recorder.ErrorKinds.ToDictionary(),
            Histograms = context.Histograms.ToDictionary(p => p.Key, p => LatencySummary.Of(p.Value)),
            Counters = context.Counters,
            Server = server,
            Timeline = timeline,
            Flags = settings.Flags,
            Gates = verdicts.Select(v => new GateVerdict(v.Gate.Text, v.Status.ToString().ToLowerInvariant(), v.Observed, v.Describe(), v.FormatObserved())).ToList(),
            Verdict = RunSummary.VerdictOf(verdicts),
            StopReason = engine.StopReason,
            VerifyError = verifyError,
            Machine = $"{Environment.ProcessorCount} cores shared by server, PostgreSQL, replica, Redis and the load generator ({Environment.MachineName})",
            LatencyHistogram = recorder.All.ToSnapshot(),
        };
    }

    private static double Ms(double ns) => Math.Round(ns / 1e6, 3);

    /// <summary>The load kit's HTTP/1.1 client with a pool of at most <paramref name="connections"/> kept-alive connections.</summary>
    public static LoopbackHttpClient CreateClient(Uri baseUri, int connections, TimeSpan timeout) =>
        new(baseUri, new LoopbackHttpOptions { MaxConnections = connections, RequestTimeout = timeout });

    /// <summary>
    /// Opens the pool's connections up front, so an open-model run holds <paramref name="connections"/> sockets like
    /// the seed's connection counts, not only as many as the rate needs.
    /// </summary>
    private static async Task OpenConnectionsAsync(LoopbackHttpClient http, int connections, IProgress<string>? log, CancellationToken ct)
    {
        if (connections > 64) log?.Report($"opening {connections:N0} connections ...");
        var opened = await http.OpenAsync(connections, ct).ConfigureAwait(false);
        if (opened < connections) log?.Report($"only {opened:N0} of {connections:N0} connections opened");
    }

    /// <summary>Closed-model users' own connections, opened before the run; users beyond the first stage open theirs when they start.</summary>
    private sealed class OwnConnections(ParleyApiClient?[] ready) : IDisposable
    {
        private ParleyApiClient? _api;

        public static async Task<OwnConnections> OpenAsync(ParleyApiClient api, int users, IProgress<string>? log, CancellationToken ct)
        {
            if (users > 64) log?.Report($"opening {users:N0} connections ...");
            var ready = new ParleyApiClient?[users];
            var opened = 0;
            await Parallel.ForEachAsync(Enumerable.Range(0, users), new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = ct }, async (user, token) =>
            {
                var own = api.WithOwnConnection();
                ready[user] = own;
                if (await own.Http.OpenAsync(1, token).ConfigureAwait(false) == 1) Interlocked.Increment(ref opened);
            }).ConfigureAwait(false);
            if (opened < users) log?.Report($"only {opened:N0} of {users:N0} connections opened");
            return new OwnConnections(ready) { _api = api };
        }

        /// <summary>User <paramref name="user"/>'s client: the one opened for it, or a new one.</summary>
        public ParleyApiClient Take(int user) =>
            (user < ready.Length ? Interlocked.Exchange(ref ready[user], null) : null) ?? _api!.WithOwnConnection();

        public void Dispose()
        {
            for (var i = 0; i < ready.Length; i++) Interlocked.Exchange(ref ready[i], null)?.Dispose();
        }
    }

    /// <summary><c>[ 5%] 12s | 2,480 req/s | p95 14.2 ms | errors 0 | pool 0.31</c></summary>
    public static string ProgressLine(TickInfo tick, LoadRecorder recorder, double? pool, LoadModel model)
    {
        var percent = tick.Total <= TimeSpan.Zero ? 100 : Math.Min(100, (int)(tick.Elapsed / tick.Total * 100));
        var phase = tick.WarmingUp ? " warm-up |" : $" stage {tick.Stage + 1} |";
        var target = model == LoadModel.Open ? $"target {tick.Target:N0}/s" : $"{tick.Target:N0} conns";
        return string.Create(CultureInfo.InvariantCulture,
            $"[{percent,3}%] {tick.Elapsed.TotalSeconds:0}s |{phase} {tick.IntervalRequests:N0} req/s ({target}) | p95 {Durations.Format(tick.IntervalLatency.ValueAtPercentile(95))} | errors {recorder.Errors:N0} | in flight {tick.InFlight:N0} | pool {(pool is { } p ? p.ToString("0.00", CultureInfo.InvariantCulture) : "-")}");
    }
}
