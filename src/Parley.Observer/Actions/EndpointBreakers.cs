using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;

namespace Parley.Observer.Actions;

/// <summary>A breaker's state as <c>observer_breaker_state</c> reports it: 0 closed, 1 open, 2 half-open.</summary>
public enum BreakerState
{
    Closed = 0,
    Open = 1,
    HalfOpen = 2,
}

/// <summary>
/// One Polly circuit breaker per endpoint (scheme, host, port and path of the URL), shared by every action that
/// calls it: an endpoint that keeps failing or timing out is not called while open (<see cref="ActionOutcome.FailedFast"/>),
/// gets one half-open probe after the break, and closes on its success. States are exported as the gauge
/// <c>observer_breaker_state{endpoint}</c> and listed by <see cref="States"/> for <c>parley observer status</c>.
/// </summary>
public sealed class EndpointBreakers : IDisposable
{
    /// <summary>The meter of the observer's instruments.</summary>
    public const string MeterName = "Parley.Observer";

    private readonly ConcurrentDictionary<string, Endpoint> _endpoints = new(StringComparer.Ordinal);
    private readonly BreakerOptions _options;
    private readonly TimeProvider _time;
    private readonly Meter? _ownMeter;

    public EndpointBreakers(IOptions<BreakerOptions> options, TimeProvider time, IMeterFactory? meters = null)
    {
        _options = options.Value;
        _time = time;
        var meter = meters?.Create(MeterName) ?? (_ownMeter = new Meter(MeterName));
        meter.CreateObservableGauge(
            "observer.breaker.state", Measure, unit: null,
            description: "Circuit breaker state per endpoint of webhook, Slack and email actions (smtp://host:port/): 0 closed, 1 open, 2 half-open.");
    }

    /// <summary>The breaker key of a URL: <c>scheme://host:port/path</c> (no query, no user info).</summary>
    public static string EndpointOf(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        return string.Create(CultureInfo.InvariantCulture, $"{url.Scheme}://{url.IdnHost}:{url.Port}{url.AbsolutePath}").ToLowerInvariant();
    }

    /// <summary>Every endpoint called so far and its breaker's state, for <c>parley observer status</c>.</summary>
    public IReadOnlyDictionary<string, BreakerState> States() =>
        _endpoints.ToDictionary(pair => pair.Key, pair => Map(pair.Value.State.CircuitState), StringComparer.Ordinal);

    /// <summary>
    /// Runs one attempt through the endpoint's breaker. A <see cref="ActionOutcome.Failed"/> result counts against the
    /// endpoint; while the breaker is open the attempt is not made and <see cref="ActionOutcome.FailedFast"/> comes back,
    /// with the time left until the probe as its retry-after.
    /// </summary>
    public async Task<ActionResult> ExecuteAsync(Uri url, Func<CancellationToken, ValueTask<ActionResult>> attempt, CancellationToken ct)
    {
        var endpoint = _endpoints.GetOrAdd(EndpointOf(url), _ => Create());
        try
        {
            return await endpoint.Pipeline.ExecuteAsync(static (attempt, token) => attempt(token), attempt, ct).ConfigureAwait(false);
        }
        catch (BrokenCircuitException e)
        {
            return new ActionResult(ActionOutcome.FailedFast, Error: "circuit open: the endpoint failed repeatedly", RetryAfter: e.RetryAfter);
        }
    }

    public void Dispose() => _ownMeter?.Dispose();

    private Endpoint Create()
    {
        var state = new CircuitBreakerStateProvider();
        var pipeline = new ResiliencePipelineBuilder<ActionResult> { TimeProvider = _time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<ActionResult>
            {
                FailureRatio = _options.FailureRatio,
                MinimumThroughput = _options.MinimumThroughput,
                SamplingDuration = _options.SamplingDuration,
                BreakDuration = _options.BreakDuration,
                StateProvider = state,
                // Failures count, and so does a runner that threw (Polly takes an unhandled outcome for a success, which would
                // close a half-open breaker); a 410 says nothing about the endpoint's health.
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome is { Result.Outcome: ActionOutcome.Failed } or { Exception: not null }),
            })
            .Build();
        return new Endpoint(pipeline, state);
    }

    private IEnumerable<Measurement<int>> Measure() =>
        _endpoints.Select(pair => new Measurement<int>((int)Map(pair.Value.State.CircuitState), new KeyValuePair<string, object?>("endpoint", pair.Key)));

    private static BreakerState Map(CircuitState state) => state switch
    {
        CircuitState.Closed => BreakerState.Closed,
        CircuitState.HalfOpen => BreakerState.HalfOpen,
        _ => BreakerState.Open,
    };

    private sealed record Endpoint(ResiliencePipeline<ActionResult> Pipeline, CircuitBreakerStateProvider State);
}
