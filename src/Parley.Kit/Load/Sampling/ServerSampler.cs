using System.Diagnostics;

namespace Parley.Kit.Load.Sampling;

/// <summary>One reading of the server's <c>/metrics</c>. Counters are cumulative; null when the server does not export it.</summary>
public sealed record ServerSample(
    double ElapsedSeconds,
    double? PoolSaturation,
    double? CacheHits,
    double? CacheMisses,
    double? ReplicaLagSeconds,
    double? ReplicaBreakerState,
    double? WorkingSetBytes,
    double? GcCollections,
    double? GcPauseSeconds,
    double? AllocatedBytes,
    double? WebSocketConnections,
    double? ConsumerLag)
{
    public static ServerSample From(double elapsedSeconds, IReadOnlyList<PrometheusSample> samples)
    {
        double? Max(string name, Func<PrometheusSample, bool>? where = null)
        {
            var matching = samples.Where(s => s.Name == name && (where?.Invoke(s) ?? true) && !double.IsNaN(s.Value)).ToList();
            return matching.Count == 0 ? null : matching.Max(s => s.Value);
        }
        double? Sum(string name, Func<PrometheusSample, bool>? where = null)
        {
            var matching = samples.Where(s => s.Name == name && (where?.Invoke(s) ?? true) && !double.IsNaN(s.Value)).ToList();
            return matching.Count == 0 ? null : matching.Sum(s => s.Value);
        }
        bool Result(PrometheusSample s, string result) => s.Labels.TryGetValue("result", out var r) && r == result;

        return new ServerSample(
            elapsedSeconds,
            Max("db_pool_saturation", s => !s.Labels.TryGetValue("source", out var source) || source == "primary"),
            Sum("parley_cache_requests_total", s => Result(s, "hit")),
            Sum("parley_cache_requests_total", s => Result(s, "miss")),
            Max("db_replica_lag_seconds"),
            Max("parley_replica_breaker_state"),
            Max("dotnet_process_memory_working_set_bytes") ?? Max("process_working_set_bytes"),
            Sum("dotnet_gc_collections_total"),
            Sum("dotnet_gc_pause_time_seconds_total"),
            Sum("dotnet_gc_heap_total_allocated_bytes_total"),
            Max("parley_ws_connections"),
            Max("parley_stream_consumer_lag"));
    }
}

/// <summary>What the samples say about the whole run.</summary>
public sealed record ServerSummary(
    int Samples,
    double? PoolSaturationMax,
    double? PoolSaturationMean,
    double? CacheHitRatio,
    double? ReplicaLagMaxSeconds,
    double? ReplicaBreakerMax,
    double? WorkingSetStartBytes,
    double? WorkingSetEndBytes,
    double? WorkingSetMaxBytes,
    double? MemoryGrowth,
    double? GcCollections,
    double? GcPauseSeconds,
    double? AllocatedBytes)
{
    /// <summary>Summarises samples taken while measuring (the first is the baseline for counters and memory).</summary>
    public static ServerSummary Of(IReadOnlyList<ServerSample> samples)
    {
        if (samples.Count == 0) return new ServerSummary(0, null, null, null, null, null, null, null, null, null, null, null, null);
        var first = samples[0];
        var last = samples[^1];
        double? Delta(Func<ServerSample, double?> f) => f(last) is { } end ? end - (f(first) ?? 0) : null;
        var pools = samples.Select(s => s.PoolSaturation).OfType<double>().ToList();
        var hits = Delta(s => s.CacheHits) ?? 0;
        var misses = Delta(s => s.CacheMisses) ?? 0;
        var start = first.WorkingSetBytes;
        var end = last.WorkingSetBytes;
        return new ServerSummary(
            samples.Count,
            pools.Count == 0 ? null : pools.Max(),
            pools.Count == 0 ? null : pools.Average(),
            hits + misses > 0 ? hits / (hits + misses) : null,
            samples.Select(s => s.ReplicaLagSeconds).OfType<double>().DefaultIfEmpty().Max() is var lag && samples.Any(s => s.ReplicaLagSeconds is not null) ? lag : null,
            samples.Any(s => s.ReplicaBreakerState is not null) ? samples.Max(s => s.ReplicaBreakerState ?? 0) : null,
            start,
            end,
            samples.Any(s => s.WorkingSetBytes is not null) ? samples.Max(s => s.WorkingSetBytes ?? 0) : null,
            start is > 0 && end is { } e ? (e - start.Value) / start.Value : null,
            Delta(s => s.GcCollections),
            Delta(s => s.GcPauseSeconds),
            Delta(s => s.AllocatedBytes));
    }
}

/// <summary>Reads <c>/metrics</c> once a second in the background (its own connection, outside the load's pool).</summary>
public sealed class ServerSampler : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly List<ServerSample> _samples = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private Task? _loop;

    public ServerSampler(Uri baseUri)
    {
        // Generous: samples are taken one after the other, and on a starved machine a scrape can take seconds; a final
        // sample lost to a short timeout lost the run's server figures (a cache hit ratio of "none" in a CI run at load 50).
        _http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>The latest sample, for the progress line.</summary>
    public ServerSample? Latest { get; private set; }

    /// <summary>Errors reading /metrics (the run goes on without server data).</summary>
    public int Failures { get; private set; }

    /// <summary>Samples taken since <see cref="MarkMeasuring"/>.</summary>
    public IReadOnlyList<ServerSample> Measured
    {
        get
        {
            lock (_lock) return _samples.Where(s => s.ElapsedSeconds >= _measuringFrom).ToList();
        }
    }

    private double _measuringFrom = double.MaxValue;

    public void Start() => _loop = LoopAsync(_stop.Token);

    /// <summary>From now on samples count for the summary (the last one before is kept as the baseline).</summary>
    public void MarkMeasuring()
    {
        lock (_lock) _measuringFrom = _samples.Count > 0 ? _samples[^1].ElapsedSeconds : 0;
    }

    /// <summary>Takes one last sample so the summary covers the end of the run.</summary>
    public async Task<ServerSummary> FinishAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null) await _loop.ConfigureAwait(false);
        await SampleAsync(CancellationToken.None).ConfigureAwait(false);
        return ServerSummary.Of(Measured);
    }

    private async Task LoopAsync(CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await SampleAsync(ct).ConfigureAwait(false);
                await Task.Delay(1000, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task SampleAsync(CancellationToken ct)
    {
        try
        {
            var text = await _http.GetStringAsync("metrics", ct).ConfigureAwait(false);
            var sample = ServerSample.From(_clock.Elapsed.TotalSeconds, PrometheusText.Parse(text));
            Latest = sample;
            lock (_lock) _samples.Add(sample);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            Failures++;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null) await _loop.ConfigureAwait(false);
        _stop.Dispose();
        _http.Dispose();
    }
}
