using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Parley.Server.Features.Health;

/// <summary>One probe's outcome. <see cref="Description"/> is one of the probe's fixed strings, never an exception's text.</summary>
public sealed record ProbeResult(HealthStatus Status, string Description, DateTimeOffset At, TimeSpan Duration, double? LagSeconds = null);

/// <summary>
/// A dependency probed by this node itself on its own schedule, so readiness tells a hung or dead dependency
/// without any traffic. Each probe is bounded by <see cref="Timeout"/> (abandoned, not only cancelled, so a
/// probe stuck on a frozen socket cannot stall the loop); readiness reports <see cref="Latest"/> and its age.
/// Why a probe failed goes to the log only. A healthy dependency turns failed after two probes in a row
/// fail (a dropped connection shows at once, see <see cref="Publish"/>).
/// </summary>
public abstract partial class DependencyProbe(TimeProvider time, ILogger logger) : BackgroundService
{
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ProbeResult? _latest;

    /// <summary>The check's name in <c>/health/ready</c>.</summary>
    public abstract string Name { get; }

    public abstract TimeSpan Interval { get; }

    public abstract TimeSpan Timeout { get; }

    /// <summary>What a failed or timed-out probe reports: Unhealthy for the primary, Degraded for the others.</summary>
    public abstract HealthStatus FailureStatus { get; }

    /// <summary>The fixed description of a failed or timed-out probe.</summary>
    protected abstract string FailureDescription { get; }

    /// <summary>A result older than this is not trusted (the probe loop itself is stuck): three intervals plus one timeout.</summary>
    public TimeSpan StaleAfter => (3 * Interval) + Timeout;

    public ProbeResult? Latest => Volatile.Read(ref _latest);

    /// <summary>Completes when the first probe has a result (readiness right after start waits for it).</summary>
    public Task FirstResult => _first.Task;

    /// <summary>Raised after every probe with its result.</summary>
    public event Action<ProbeResult>? Probed;

    /// <summary>Probes again now instead of at the next interval (repeated calls coalesce).</summary>
    public void ProbeSoon()
    {
        try
        {
            if (_wake.CurrentCount == 0) _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // already signalled
        }
    }

    /// <summary>One probe. Returns the healthy (or otherwise known) result; throws or overruns <see cref="Timeout"/> on failure.</summary>
    protected abstract Task<ProbeResult> ProbeAsync(DateTimeOffset started, CancellationToken ct);

    protected ProbeResult Result(HealthStatus status, string description, DateTimeOffset started, double? lag = null) =>
        new(status, description, time.GetUtcNow(), time.GetUtcNow() - started, lag);

    /// <summary>Records a result known without probing (a connection that just dropped).</summary>
    protected void Publish(ProbeResult result)
    {
        if (Latest is { } last && last.Status != result.Status) LogStatusChanged(logger, Name, result.Status, result.Description);
        Volatile.Write(ref _latest, result);
        _first.TrySetResult();
        Probed?.Invoke(result);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            var result = await RunOnceAsync(stoppingToken);
            // Like a balancer's "fall 2": a healthy dependency is declared failed only when a second probe,
            // run at once, fails too. One late answer while this node is starved of CPU is not an outage;
            // a hung dependency still shows within two timeouts.
            if (result.Status != HealthStatus.Healthy && Latest is { Status: HealthStatus.Healthy } && !stoppingToken.IsCancellationRequested)
                result = await RunOnceAsync(stoppingToken);
            Publish(result);
            try
            {
                await _wake.WaitAsync(Interval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<ProbeResult> RunOnceAsync(CancellationToken stoppingToken)
    {
        var started = time.GetUtcNow();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(Timeout);
        var probe = ProbeAsync(started, timeout.Token);
        try
        {
            return await probe.WaitAsync(Timeout, time, stoppingToken);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            _ = probe.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default); // observe an abandoned probe's fault
            // Logged when the dependency goes bad, not every interval while it stays so.
            if (Latest is not { } last || last.Status == HealthStatus.Healthy)
                LogProbeFailed(logger, Name, e is TimeoutException or OperationCanceledException ? $"no answer within {Timeout.TotalMilliseconds} ms" : e.Message);
            return Result(FailureStatus, FailureDescription, started);
        }
    }

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Readiness probe of {Dependency} failed: {Reason}")]
    private static partial void LogProbeFailed(ILogger logger, string dependency, string reason);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Information, Message = "Readiness of {Dependency} is now {Status}: {Description}")]
    private static partial void LogStatusChanged(ILogger logger, string dependency, HealthStatus status, string description);
}
