using System.Diagnostics;
using System.Net.Http;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Parley.Kit.Load.Engine;

/// <summary>What the engine reports once a second: the interval that ended and where the run stands.</summary>
public sealed record TickInfo(
    TimeSpan Elapsed,
    TimeSpan Total,
    bool WarmingUp,
    int Stage,
    double Target,
    long InFlight,
    LatencyHistogram IntervalLatency,
    long IntervalRequests,
    long IntervalErrors);

/// <summary>
/// Runs a scenario's iterations under a <see cref="LoadProfile"/>. Open model: iteration n is scheduled at the plan's
/// n-th arrival time and its latency runs from that scheduled time, so a slow server inflates the latency instead of
/// silently lowering the rate (no coordinated omission); arrivals beyond the in-flight cap are dropped and counted as
/// errors. Closed model: as many virtual users as the plan says, each sending its next request when the last answered.
/// </summary>
/// <remarks><paramref name="connectionFactory"/> gives closed-model user n its own client (its own connection); without it users share the context's.</remarks>
public sealed class LoadEngine(ILoadScenario scenario, LoadContext context, LoadRecorder recorder, Func<int, ParleyApiClient>? connectionFactory = null)
{
    /// <summary>The operation name of iterations that ended in an exception (timeout, refused connection) before saying what they were.</summary>
    public const string UnfinishedOperation = "(unfinished)";

    private long _inFlight;
    private long _measured;
    private long _iteration;

    /// <summary>Set when the run was stopped before its plan ended (a gate breached, the request bound reached).</summary>
    public string? StopReason { get; private set; }

    /// <summary>Runs warm-up then the plan; <paramref name="onTick"/> is called once a second and may return a reason to stop.</summary>
    public async Task RunAsync(Func<TickInfo, string?> onTick, CancellationToken ct)
    {
        var profile = context.Profile;
        profile.Validate();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var clock = Stopwatch.StartNew();
        var total = profile.WarmUp + profile.Plan.Duration;

        var ticker = TickAsync(clock, total, onTick, stop);
        var load = profile.Model == LoadModel.Open ? RunOpenAsync(clock, stop.Token) : RunClosedAsync(clock, stop.Token);
        try
        {
            await load.ConfigureAwait(false);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await ticker.ConfigureAwait(false);
        }
        ct.ThrowIfCancellationRequested();
    }

    private TimeSpan PlanTime(Stopwatch clock) => clock.Elapsed - context.Profile.WarmUp;

    private bool BoundReached => Interlocked.Read(ref _measured) >= context.Profile.MaxRequests;

    private async Task TickAsync(Stopwatch clock, TimeSpan total, Func<TickInfo, string?> onTick, CancellationTokenSource stop)
    {
        var next = TimeSpan.FromSeconds(1);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var wait = next - clock.Elapsed;
                if (wait > TimeSpan.Zero) await Task.Delay(wait, stop.Token).ConfigureAwait(false);
                next += TimeSpan.FromSeconds(1);
                if (Tick(clock, total, onTick) is { } reason)
                {
                    StopReason = reason;
                    await stop.CancelAsync().ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        // The last, partial second (requests that finished while draining) still belongs in the timeline.
        if (PlanTime(clock) > TimeSpan.FromSeconds(0.5)) Tick(clock, total, onTick);
    }

    private string? Tick(Stopwatch clock, TimeSpan total, Func<TickInfo, string?> onTick)
    {
        // A tick reports the second that just ended: still warm-up if most of that second came before the plan began.
        var profile = context.Profile;
        var planTime = PlanTime(clock);
        var warming = planTime < TimeSpan.FromSeconds(0.5);
        var interval = recorder.Rotate();
        var info = new TickInfo(clock.Elapsed, total, warming, warming ? -1 : profile.Plan.StageAt(planTime),
            profile.Plan.TargetAt(warming ? TimeSpan.Zero : planTime), Interlocked.Read(ref _inFlight), interval.Latency, interval.Requests, interval.Errors);
        return onTick(info);
    }

    private async Task RunOpenAsync(Stopwatch clock, CancellationToken ct)
    {
        var profile = context.Profile;
        var cap = (long)profile.Connections * (1 + profile.QueuePerConnection);
        var warmUpArrivals = (long)Math.Round(profile.WarmUp.TotalSeconds * profile.Plan.Start);
        long issued = 0;
        var end = profile.WarmUp + profile.Plan.Duration;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (BoundReached)
                {
                    StopReason ??= $"request bound reached ({profile.MaxRequests:N0})";
                    break;
                }
                var scheduled = issued < warmUpArrivals
                    ? TimeSpan.FromSeconds((issued + 1) / profile.Plan.Start)
                    : profile.WarmUp + profile.Plan.ScheduledTimeOf(issued - warmUpArrivals);
                if (scheduled >= end) break;
                var wait = scheduled - clock.Elapsed;
                if (wait > TimeSpan.FromMilliseconds(1)) await Task.Delay(wait, ct).ConfigureAwait(false);
                var iteration = issued++;
                var scheduledTimestamp = (long)(scheduled.TotalSeconds * Stopwatch.Frequency);
                if (Interlocked.Read(ref _inFlight) >= cap)
                {
                    if (scheduled >= profile.WarmUp)
                    {
                        recorder.RecordDropped();
                        Interlocked.Increment(ref _measured);
                    }
                    continue;
                }
                Interlocked.Increment(ref _inFlight);
                ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.Engine.IterateAsync(state.Clock, state.Start, state.Iteration, state.Ct),
                    (Engine: this, Clock: clock, Start: scheduledTimestamp, Iteration: iteration, Ct: ct), preferLocal: false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        await DrainAsync(clock).ConfigureAwait(false);
    }

    private async Task RunClosedAsync(Stopwatch clock, CancellationToken ct)
    {
        var profile = context.Profile;
        var users = (int)Math.Ceiling(profile.Plan.Peak);
        var end = profile.WarmUp + profile.Plan.Duration;
        var tasks = new Task[users];
        for (var i = 0; i < users; i++)
        {
            var user = i;
            tasks[i] = Task.Run(() => VirtualUserAsync(user, clock, end, ct), CancellationToken.None);
        }
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>A closed-model user: its own connection while active (closed when the plan drops below it), paced or back to back.</summary>
    private async Task VirtualUserAsync(int user, Stopwatch clock, TimeSpan end, CancellationToken ct)
    {
        var profile = context.Profile;
        ParleyApiClient? own = null;
        // Paced users start at a random point of their first interval, so 10,000 of them do not fire at once.
        var next = clock.Elapsed + Jitter(profile.Pacing);
        try
        {
            while (!ct.IsCancellationRequested && clock.Elapsed < end)
            {
                if (BoundReached)
                {
                    StopReason ??= $"request bound reached ({profile.MaxRequests:N0})";
                    return;
                }
                var planTime = PlanTime(clock);
                var active = planTime < TimeSpan.Zero ? profile.Plan.Start : profile.Plan.TargetAt(planTime);
                if (user >= Math.Ceiling(active))
                {
                    if (own is not null)
                    {
                        own.Dispose();
                        own = null;
                    }
                    await Task.Delay(50, ct).ConfigureAwait(false);
                    next = clock.Elapsed + Jitter(profile.Pacing);
                    continue;
                }
                own ??= connectionFactory?.Invoke(user);
                long start;
                if (profile.Pacing > TimeSpan.Zero)
                {
                    if (next >= end) return;
                    var wait = next - clock.Elapsed;
                    if (wait > TimeSpan.Zero) await Task.Delay(wait, ct).ConfigureAwait(false);
                    start = (long)(next.TotalSeconds * Stopwatch.Frequency);
                    next += profile.Pacing;
                }
                else
                {
                    start = clock.ElapsedTicks;
                }
                Interlocked.Increment(ref _inFlight);
                await IterateAsync(clock, start, Interlocked.Increment(ref _iteration), ct, own).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            own?.Dispose();
        }
    }

    private static TimeSpan Jitter(TimeSpan pacing) =>
        pacing > TimeSpan.Zero ? TimeSpan.FromTicks(Random.Shared.NextInt64(pacing.Ticks)) : TimeSpan.Zero;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask IterateAsync(Stopwatch clock, long startTimestamp, long iteration, CancellationToken ct, ParleyApiClient? api = null)
    {
        Outcome outcome;
        var measuring = startTimestamp >= (long)(context.Profile.WarmUp.TotalSeconds * Stopwatch.Frequency);
        if (measuring && !context.Measuring) context.Measuring = true;
        try
        {
            outcome = await scenario.RunOnceAsync(context, api ?? context.Api, iteration, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Interlocked.Decrement(ref _inFlight);
            return; // stopped mid-request: neither a result nor an error
        }
        catch (Exception e)
        {
            outcome = Outcome.Failed(UnfinishedOperation, 0, Classify(e));
        }
        var latency = (clock.ElapsedTicks - startTimestamp) * (1_000_000_000.0 / Stopwatch.Frequency);
        if (measuring)
        {
            recorder.Record(outcome, (long)latency);
            Interlocked.Increment(ref _measured);
        }
        Interlocked.Decrement(ref _inFlight);
    }

    /// <summary>Waits for requests in flight to finish (at most one request timeout) so every sent request is counted.</summary>
    private async Task DrainAsync(Stopwatch clock)
    {
        var deadline = clock.Elapsed + context.Profile.RequestTimeout;
        while (Interlocked.Read(ref _inFlight) > 0 && clock.Elapsed < deadline)
            await Task.Delay(10).ConfigureAwait(false);
    }

    internal static string Classify(Exception e) => e switch
    {
        TaskCanceledException or TimeoutException => "timeout",
        HttpRequestException { InnerException: SocketException socket } => $"socket:{socket.SocketErrorCode}",
        HttpRequestException { HttpRequestError: var kind } => $"http:{kind}",
        System.Net.WebSockets.WebSocketException => "websocket",
        _ => e.GetType().Name,
    };
}
