using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Parley.Redis;

namespace Parley.Server.Features.Health;

/// <summary>
/// Redis answers <c>PING</c> and takes a write within <see cref="HealthOptions.RedisTimeoutMilliseconds"/>: a server that is
/// gone shows at once (the connection drops), one that hangs with its socket open (SIGSTOP, a stuck fork)
/// within one interval and timeout, one at maxmemory (writes refused) within one interval. The cache breaker, the outbox dispatcher and the stream consumer go by it.
/// </summary>
public sealed class RedisProbe : DependencyProbe
{
    public const string Answering = "answers PING";
    public const string NotConnected = "not connected; reads skip the cache, deliveries wait in the outbox";
    public const string NotAnswering = "no answer to PING in time; reads skip the cache, deliveries wait in the outbox";
    public const string Full = "refuses writes (maxmemory reached); reads skip the cache, deliveries wait in the outbox";

    // Written with a short expiry on every probe: a full Redis (noeviction) still answers PING but refuses the stream's XADDs.
    private const string WriteProbeKey = "parley:health:write";

    private readonly RedisClient _redis;
    private readonly HealthOptions _options;
    private readonly TimeProvider _time;
    private TaskCompletionSource _answers = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public RedisProbe(RedisClient redis, IOptions<HealthOptions> options, TimeProvider time, ILogger<RedisProbe> logger) : base(time, logger)
    {
        _redis = redis;
        _options = options.Value;
        _time = time;
        Probed += OnProbed;
        redis.ConnectionStateChanged += (_, e) =>
        {
            // A dropped connection is known now; a new one is trusted only once it answers.
            if (!e.IsConnected) Publish(Result(HealthStatus.Degraded, NotConnected, time.GetUtcNow()));
            ProbeSoon();
        };
    }

    public override string Name => "redis";

    public override TimeSpan Interval => TimeSpan.FromMilliseconds(_options.ProbeIntervalMilliseconds);

    public override TimeSpan Timeout => TimeSpan.FromMilliseconds(_options.RedisTimeoutMilliseconds);

    public override HealthStatus FailureStatus => HealthStatus.Degraded;

    protected override string FailureDescription => NotAnswering;

    /// <summary>False while Redis is known to be gone or hung: callers skip it instead of waiting on it.</summary>
    public bool Answers => _redis.IsConnected && Latest is null or { Status: HealthStatus.Healthy };

    /// <summary>Completes when <see cref="Answers"/> is true, or after <paramref name="max"/> (a bound, so a caller re-checks).</summary>
    public async Task WaitAnswersAsync(TimeSpan max, CancellationToken ct)
    {
        if (Answers) return;
        try
        {
            await Volatile.Read(ref _answers).Task.WaitAsync(max, _time, ct);
        }
        catch (TimeoutException)
        {
            // the caller tries anyway
        }
    }

    protected override async Task<ProbeResult> ProbeAsync(DateTimeOffset started, CancellationToken ct)
    {
        if (!_redis.IsConnected) return Result(HealthStatus.Degraded, NotConnected, started);
        try
        {
            await _redis.ExecuteAsync("SET", [WriteProbeKey, "1", "PX", "10000"], Timeout, ct);
        }
        catch (RedisServerException e) when (e.Prefix == "OOM")
        {
            return Result(HealthStatus.Degraded, Full, started);
        }
        return Result(HealthStatus.Healthy, Answering, started);
    }

    private void OnProbed(ProbeResult result)
    {
        if (result.Status == HealthStatus.Healthy) Volatile.Read(ref _answers).TrySetResult();
        else if (_answers.Task.IsCompleted) Volatile.Write(ref _answers, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }
}
