using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Parley.Redis;
using Parley.Server.Features.Health;
using Parley.Server.Observability;
using Polly;
using Polly.CircuitBreaker;

namespace Parley.Server.Caching;

/// <summary>
/// A read-through cache in Redis with generation-versioned keys: every scope (a conversation, a
/// user) has a generation counter, each entry's key includes it, and invalidating a scope is one
/// INCR, so all of a scope's entries go at once without KEYS or SCAN, and a reader that raced a
/// writer can only fill a key nobody reads any more. A global epoch is bumped whenever an
/// invalidation could not be delivered, so nothing stale survives a Redis outage.
/// Redis that is down or slow is skipped behind a breaker: callers get a miss at once. The first lost
/// connection or timed-out command opens it (held open, no minimum throughput: one request paying a
/// timeout is enough), as does a failed <see cref="RedisProbe"/>; the probe's next answered <c>PING</c> is
/// the half-open test that closes it.
/// </summary>
public sealed partial class ReadCache
{
    private static readonly Counter<long> Requests = ParleyMetrics.Meter.CreateCounter<long>(
        "parley.cache.requests", "{request}", "Cache lookups by result: hit, miss or skipped (cache unavailable).");
    private static readonly Histogram<double> LookupDuration = ParleyMetrics.Meter.CreateHistogram(
        "parley.cache.lookup.duration", "s", "Time of one cache lookup (a Lua round trip to Redis), hits and misses.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1] });
    private static readonly Counter<long> Invalidations = ParleyMetrics.Meter.CreateCounter<long>(
        "parley.cache.invalidations", "{scope}", "Scopes invalidated, by outcome.");

    private static readonly LuaScript Read = LuaScript.FromResource(typeof(ReadCache).Assembly, "cache-read.lua");
    private static readonly LuaScript Bump = LuaScript.FromResource(typeof(ReadCache).Assembly, "cache-bump.lua");

    private readonly RedisClient _redis;
    private readonly CacheOptions _options;
    private readonly ResiliencePipeline _pipeline;
    private readonly CircuitBreakerStateProvider _state = new();
    private readonly CircuitBreakerManualControl _control = new();
    private readonly SemaphoreSlim _controlGate = new(1, 1);
    private readonly RedisProbe _probe;
    private readonly ILogger<ReadCache> _logger;
    private readonly string _epochKey;
    private volatile bool _epochStale;
    private volatile bool _held;

    public ReadCache(RedisClient redis, RedisProbe probe, IOptions<CacheOptions> options, TimeProvider time, ILogger<ReadCache> logger)
    {
        _redis = redis;
        _probe = probe;
        _logger = logger;
        _options = options.Value;
        _epochKey = redis.Key(EpochKey);
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = 4,
                SamplingDuration = TimeSpan.FromSeconds(5),
                BreakDuration = TimeSpan.FromSeconds(_options.BreakSeconds),
                StateProvider = _state,
                ManualControl = _control,
                ShouldHandle = new PredicateBuilder().Handle<RedisException>().Handle<TimeoutException>(),
            })
            .Build();
        ParleyMetrics.Meter.CreateObservableGauge("parley.cache.breaker.state", () => (int)_state.CircuitState,
            description: "Cache breaker: 0 closed, 1 open, 2 half-open, 3 held open (Redis gone or not answering).");
        probe.Probed += result => _ = HoldAsync(result.Status != HealthStatus.Healthy);
        redis.ConnectionStateChanged += (_, e) =>
        {
            if (!e.IsConnected) _ = HoldAsync(true);
        };
    }

    private const string EpochKey = "cache:epoch";

    /// <summary>
    /// Makes every cached entry unreadable on every node at once (bumps the global epoch), for changes made
    /// beside the server, such as <c>parley restore</c> replacing the database.
    /// </summary>
    public static Task InvalidateEverythingAsync(RedisClient redis, TimeSpan timeout, CancellationToken ct) =>
        redis.ExecuteAsync("INCR", [redis.Key(EpochKey)], timeout, ct);

    public bool Available => _redis.IsConnected && _state.CircuitState == CircuitState.Closed;

    /// <summary>The entry if cached; otherwise a stamp to store a fresh value under, or null when the cache is unavailable.</summary>
    public async Task<CacheLookup> GetAsync(string scope, string name, CancellationToken ct)
    {
        // Held open (isolated): skip. Merely open: the pipeline refuses without asking Redis, and once the break has
        // passed lets the half-open trial through (Polly's state does not turn half-open by itself while nobody asks).
        if (!_redis.IsConnected || _state.CircuitState is CircuitState.Isolated)
        {
            Requests.Add(1, new KeyValuePair<string, object?>("result", "skipped"));
            return CacheLookup.Unavailable;
        }
        try
        {
            if (_epochStale)
            {
                await Run((r, t) => r.ExecuteAsync("INCR", [_epochKey], Timeout, t), ct);
                _epochStale = false;
            }
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var reply = await Run((r, t) => r.EvalAsync(Read, [_epochKey, ScopeKey(scope)], [name], t), ct);
            LookupDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
            var stamp = reply.Items[0].AsString()!;
            var value = reply.Items[1];
            Requests.Add(1, new KeyValuePair<string, object?>("result", value.IsNull ? "miss" : "hit"));
            return new CacheLookup(value.IsNull ? null : value.AsBytes(), stamp);
        }
        catch (Exception e) when (IsCacheFailure(e))
        {
            await OnFailureAsync(e);
            Requests.Add(1, new KeyValuePair<string, object?>("result", "skipped"));
            return CacheLookup.Unavailable;
        }
    }

    /// <summary>Stores a value read from the database under the stamp its lookup returned.</summary>
    public async Task SetAsync(string scope, string name, string stamp, byte[] value, CancellationToken ct)
    {
        try
        {
            var key = $"{ScopeKey(scope)}:{stamp}:{name}";
            await Run((r, t) => r.SetAsync(key, value, TimeSpan.FromSeconds(_options.TtlSeconds), cancellationToken: t), ct);
        }
        catch (Exception e) when (IsCacheFailure(e))
        {
            // a value not cached is only a later miss
            await OnFailureAsync(e);
        }
    }

    /// <summary>Ends every cached entry of these scopes. Called before a write answers.</summary>
    public async Task InvalidateAsync(IReadOnlyList<string> scopes, CancellationToken ct)
    {
        if (scopes.Count == 0) return;
        try
        {
            var keys = scopes.Select(ScopeKey).ToArray();
            // The generation outlives its entries so a bump is never lost to an expiry.
            await Run((r, t) => r.EvalAsync(Bump, keys, [(_options.TtlSeconds * 2).ToString(System.Globalization.CultureInfo.InvariantCulture)], t), ct);
            Invalidations.Add(scopes.Count, new KeyValuePair<string, object?>("outcome", "done"));
        }
        catch (Exception e) when (IsCacheFailure(e))
        {
            // Could not invalidate: retire every entry as soon as Redis answers again.
            _epochStale = true;
            await OnFailureAsync(e);
            Invalidations.Add(scopes.Count, new KeyValuePair<string, object?>("outcome", "deferred_to_epoch"));
        }
    }

    /// <summary>Retires every cached entry as soon as Redis answers (an invalidation that could not even be attempted).</summary>
    public void RetireAll() => _epochStale = true;

    public static string Conversation(Guid id) => $"c:{id:N}";

    public static string User(Guid id) => $"u:{id:N}";

    private TimeSpan Timeout => TimeSpan.FromMilliseconds(_options.TimeoutMilliseconds);

    private string ScopeKey(string scope) => _redis.Key($"cache:{scope}");

    private async Task<T> Run<T>(Func<RedisClient, CancellationToken, Task<T>> operation, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            return await _pipeline.ExecuteAsync(async token =>
            {
                try
                {
                    return await operation(_redis, token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    throw new TimeoutException("The cache did not answer in time.");
                }
            }, timeout.Token);
        }
        finally
        {
            ServerTiming.AddCache(System.Diagnostics.Stopwatch.GetElapsedTime(started));
        }
    }

    // A lost connection or a timeout says the connection is bad: the next request must not pay for it again.
    private Task OnFailureAsync(Exception e) =>
        e is RedisConnectionException or RedisTimeoutException or TimeoutException ? HoldAsync(true) : Task.CompletedTask;

    /// <summary>Holds the breaker open (isolated) while Redis is known bad; releases it once the probe's PING is answered.</summary>
    private async Task HoldAsync(bool hold)
    {
        if (_held == hold) return;
        await _controlGate.WaitAsync();
        try
        {
            if (_held == hold) return;
            if (hold) await _control.IsolateAsync();
            else await _control.CloseAsync();
            _held = hold;
        }
        finally
        {
            _controlGate.Release();
        }
        LogHeld(_logger, hold);
        if (hold) _probe.ProbeSoon();
    }

    [LoggerMessage(EventId = 1203, Level = LogLevel.Information, Message = "Cache breaker held open (Redis gone or not answering): {Held}")]
    private static partial void LogHeld(ILogger logger, bool held);

    private static bool IsCacheFailure(Exception e) =>
        e is RedisException or TimeoutException or BrokenCircuitException or IsolatedCircuitException
        || e is OperationCanceledException;
}

/// <summary>A lookup's result. <see cref="Stamp"/> is null when the cache could not be asked.</summary>
public readonly record struct CacheLookup(byte[]? Value, string? Stamp)
{
    public static CacheLookup Unavailable => new(null, null);
}
