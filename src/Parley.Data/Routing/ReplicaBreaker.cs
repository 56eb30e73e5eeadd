using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Npgsql;
using Polly;
using Polly.CircuitBreaker;

namespace Parley.Data.Routing;

/// <summary>
/// The replica's circuit breaker (Polly). It opens on errors and timeouts of replica reads and
/// probes, and is held open (isolated) while the measured lag exceeds the bound; while it is not
/// closed, reads go to the primary. The probe is the half-open test: a healthy, fresh replica closes it.
/// </summary>
public sealed partial class ReplicaBreaker
{
    private static readonly Counter<long> Transitions = DataMetrics.Meter.CreateCounter<long>(
        "parley.replica.breaker.transitions", "{transition}", "Replica breaker state changes by new state.");

    private readonly ResiliencePipeline _pipeline;
    private readonly CircuitBreakerStateProvider _state = new();
    private readonly CircuitBreakerManualControl _control = new();
    private readonly ILogger _logger;
    private readonly ReplicaOptions _options;
    private volatile bool _isolatedByProbe;
    private readonly TimeSpan _readTimeout;
    private double _lastLagSeconds = double.NaN;

    public ReplicaBreaker(ReplicaOptions options, ILogger<ReplicaBreaker> logger, TimeProvider time)
    {
        _options = options;
        _logger = logger;
        LagBound = TimeSpan.FromSeconds(options.MaxLagSeconds);
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = 3,
                SamplingDuration = TimeSpan.FromSeconds(10),
                BreakDuration = TimeSpan.FromSeconds(options.BreakSeconds),
                StateProvider = _state,
                ManualControl = _control,
                ShouldHandle = new PredicateBuilder().Handle<NpgsqlException>().Handle<TimeoutException>().Handle<Polly.Timeout.TimeoutRejectedException>()
                    .Handle<OperationCanceledException>(),
                OnOpened = _ => Transition("open"),
                OnClosed = _ => Transition("closed"),
                OnHalfOpened = _ => Transition("half_open"),
            })
            .Build();
        _readTimeout = TimeSpan.FromSeconds(options.ReadTimeoutSeconds);
        DataMetrics.Meter.CreateObservableGauge("parley.replica.breaker.state", () => (int)State,
            description: "Replica breaker: 0 closed, 1 open, 2 half-open, 3 isolated (lag over bound).");
        DataMetrics.Meter.CreateObservableGauge("db.replica.lag", () => Volatile.Read(ref _lastLagSeconds), "s",
            "Replica replay lag measured by the probe (NaN when unknown).");
    }

    public TimeSpan LagBound { get; }

    public CircuitState State => _state.CircuitState;

    public bool AllowsReads => _state.CircuitState == CircuitState.Closed;

    public double LastLagSeconds => Volatile.Read(ref _lastLagSeconds);

    /// <summary>
    /// Runs a read on the replica through the breaker. The read is abandoned (not just asked to stop)
    /// after the read timeout: on a partitioned replica a connection may not honour cancellation, and
    /// the caller must fall back to the primary within one timeout.
    /// </summary>
    public async Task<T> ExecuteAsync<T>(NpgsqlDataSource replica, Func<NpgsqlDataSource, CancellationToken, Task<T>> query, CancellationToken ct) =>
        await _pipeline.ExecuteAsync(static async (state, token) => await Bounded(state.query(state.replica, token), state.timeout, token),
            (replica, query, timeout: _readTimeout), ct);

    private static async Task<T> Bounded<T>(Task<T> work, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            return await work.WaitAsync(timeout, ct);
        }
        catch (TimeoutException)
        {
            _ = work.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default); // observe the abandoned read's fault
            throw;
        }
    }

    /// <summary>
    /// Measures the replica's lag (through the breaker, so an unreachable replica counts as a
    /// failure) and isolates or releases the breaker by the bound.
    /// </summary>
    public async Task ProbeAsync(NpgsqlDataSource replica, CancellationToken ct)
    {
        double lag;
        try
        {
            if (_state.CircuitState == CircuitState.Isolated)
                lag = await Bounded(MeasureLagAsync(replica, ct), _readTimeout, ct); // isolated: measure directly, Polly would refuse
            else
                lag = await ExecuteAsync(replica, MeasureLagAsync, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // An unreachable replica is taken out at once, not after enough reads have waited on it.
            Volatile.Write(ref _lastLagSeconds, double.NaN);
            LogProbeFailed(_logger, e.Message);
            await IsolateAsync(ct);
            return;
        }
        Volatile.Write(ref _lastLagSeconds, lag);
        if (lag > _options.MaxLagSeconds && !_isolatedByProbe)
        {
            LogLagOverBound(_logger, lag, _options.MaxLagSeconds);
            await IsolateAsync(ct);
        }
        else if (lag <= _options.MaxLagSeconds && _isolatedByProbe)
        {
            _isolatedByProbe = false;
            await _control.CloseAsync(ct);
        }
    }

    private async Task IsolateAsync(CancellationToken ct)
    {
        if (_isolatedByProbe) return;
        _isolatedByProbe = true;
        await _control.IsolateAsync(ct);
        await Transition("isolated");
    }

    private static async Task<double> MeasureLagAsync(NpgsqlDataSource replica, CancellationToken ct)
    {
        // Nothing left to replay means no lag, however old the last replayed transaction is.
        await using var cmd = replica.CreateCommand("""
            SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                        ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8
            """);
        return (double)(await cmd.ExecuteScalarAsync(ct))!;
    }

    private ValueTask Transition(string to)
    {
        Transitions.Add(1, new KeyValuePair<string, object?>("state", to));
        LogTransition(_logger, to);
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Replica breaker is now {State}")]
    private static partial void LogTransition(ILogger logger, string state);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Replica lag {Lag:F1} s is over the bound of {Bound} s; reads go to the primary")]
    private static partial void LogLagOverBound(ILogger logger, double lag, double bound);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Replica probe failed, reads go to the primary: {Reason}")]
    private static partial void LogProbeFailed(ILogger logger, string reason);
}
