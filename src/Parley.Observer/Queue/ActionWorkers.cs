using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Parley.Observer.Actions;
using Parley.Observer.Events;
using Parley.Observer.Hosting;
using Parley.Observer.Metrics;

namespace Parley.Observer.Queue;

/// <summary>
/// The worker pool of one process (leader or standby): claims due actions up to
/// <see cref="ObserverOptions.MaxConcurrentActions"/>, runs each with the runner that can run it under
/// its own timeout, and records the outcome. Actions are independent rows, so a slow or failing one
/// holds one slot and never the others of its event.
/// </summary>
public sealed partial class ActionWorkers(
    ActionQueue queue, IEnumerable<IActionRunner> runners, ObserverIdentity identity, ObserverMetrics metrics,
    IOptions<ObserverOptions> options, ILogger<ActionWorkers> logger) : BackgroundService
{
    private static readonly TimeSpan ErrorBackoff = TimeSpan.FromSeconds(1);

    /// <summary>A runner that ignores its token is abandoned this long after its timeout (claims outlast it: <see cref="ActionQueue"/>).</summary>
    internal static readonly TimeSpan AbandonGrace = TimeSpan.FromSeconds(1);

    private readonly IActionRunner[] _runners = runners.ToArray();
    private readonly ObserverOptions _options = options.Value;
    private readonly SemaphoreSlim _slots = new(options.Value.MaxConcurrentActions);
    private readonly Random _random = new();
    private readonly Channel<Completion> _completions = Channel.CreateBounded<Completion>(new BoundedChannelOptions(CompletionBacklog));
    private readonly HashSet<Task> _inFlight = [];
    private CancellationToken _stopping = new(canceled: true);
    private int _running;

    // Outcomes recorded per statement at most.
    private const int CompletionBatch = 256;

    // Outcome statements in flight at once: one at a time (~50 ms each at load average 18) was busy most of a 1,000 events/s
    // run, and a full backlog keeps finished attempts in their slots. Each outcome is fenced by its own claim token, so
    // the order between statements does not matter.
    private const int Recorders = 2;

    // Attempts done but not yet recorded at most; past it a finished attempt keeps its slot until there is room.
    private const int CompletionBacklog = 4 * CompletionBatch;

    /// <summary>Actions running in this process now.</summary>
    public int Running => Volatile.Read(ref _running);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Outcomes are written even while stopping (a claim would otherwise wait out its lease).
        var recorders = Enumerable.Range(0, Recorders).Select(_ => Task.Run(() => RecordAsync(CancellationToken.None), CancellationToken.None)).ToArray();
        _stopping = stoppingToken;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await _slots.WaitAsync(stoppingToken);
                // At most half the pool per claim: the slots are held while the claim runs, and the leader's inserts
                // claim their due actions into free slots at once (a claim round trip and a poll fewer per action).
                var take = 1 + TryReserve(Math.Max(1, _options.MaxConcurrentActions / 2) - 1);
                IReadOnlyList<ClaimedAction> claimed;
                try
                {
                    var started = Stopwatch.GetTimestamp();
                    claimed = await queue.ClaimAsync(identity.Instance, take, stoppingToken);
                    // An empty poll is no event's time (the stage histograms say where events' time goes).
                    if (claimed.Count > 0) metrics.Stage("claim", started);
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
                {
                    _slots.Release(take);
                    LogClaimFailed(logger, e.Message);
                    await Task.Delay(ErrorBackoff, stoppingToken);
                    continue;
                }
                Run(take, claimed);
                // Full claims mean more may be due; otherwise wait for new work or the poll interval.
                if (claimed.Count < take)
                    await identity.WorkEnqueued.WaitAsync(_options.PollInterval, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
        Task[] remaining;
        lock (_inFlight) remaining = [.. _inFlight];
        await Task.WhenAll(remaining);
        _completions.Writer.Complete();
        await Task.WhenAll(recorders);
    }

    /// <summary>Takes up to <paramref name="wanted"/> free slots without waiting (none while stopped); each is given back by <see cref="Run"/>.</summary>
    internal int TryReserve(int wanted)
    {
        var taken = 0;
        while (taken < wanted && !_stopping.IsCancellationRequested && _slots.Wait(0)) taken++;
        return taken;
    }

    /// <summary>Runs <paramref name="claimed"/> (at most <paramref name="reserved"/>) in reserved slots and gives back the slots left over.</summary>
    internal void Run(int reserved, IReadOnlyList<ClaimedAction> claimed)
    {
        if (reserved > claimed.Count) _slots.Release(reserved - claimed.Count);
        foreach (var action in claimed)
        {
            Interlocked.Increment(ref _running);
            var slot = 1;
            void ReleaseSlot()
            {
                if (Interlocked.Exchange(ref slot, 0) == 0) return;
                Interlocked.Decrement(ref _running);
                _slots.Release();
            }
            var task = RunAsync(action, ReleaseSlot, _stopping);
            lock (_inFlight) _inFlight.Add(task);
            _ = task.ContinueWith(t =>
            {
                ReleaseSlot();
                lock (_inFlight) _inFlight.Remove(t);
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>Writes the outcomes the workers hand over, many per statement (one round trip for a batch instead of one each).</summary>
    private async Task RecordAsync(CancellationToken ct)
    {
        var batch = new List<Completion>(CompletionBatch);
        while (await _completions.Reader.WaitToReadAsync(ct))
        {
            while (batch.Count < CompletionBatch && _completions.Reader.TryRead(out var next)) batch.Add(next);
            // Both recorders wake for the same outcomes; the one that finds them taken has nothing to write.
            if (batch.Count == 0) continue;
            try
            {
                var started = Stopwatch.GetTimestamp();
                var recorded = await CompleteBatchAsync(batch);
                metrics.Stage("record", started);
                foreach (var c in batch) c.Recorded.TrySetResult(recorded.Contains(c.Claim.Id));
            }
            catch (Exception e)
            {
                foreach (var c in batch) c.Recorded.TrySetException(e);
            }
            batch.Clear();
        }
    }

    /// <summary>
    /// Records a batch, again and again while the database is unreachable (a partition, a restart) and every claim in it
    /// still holds: an outcome dropped here would have its action done a second time after the claim lapses.
    /// </summary>
    private async Task<IReadOnlySet<long>> CompleteBatchAsync(List<Completion> batch)
    {
        var until = batch.Min(c => c.ClaimHoldsUntil);
        while (true)
        {
            try
            {
                using var timeout = new CancellationTokenSource(Clamp(until - DateTime.UtcNow, ErrorBackoff, TimeSpan.FromSeconds(10)));
                return await queue.CompleteBatchAsync([.. batch.Select(c => (c.Claim, c.Attempt, c.Decision))], identity.Instance, timeout.Token);
            }
            catch (Exception e) when ((e is NpgsqlException or TimeoutException or OperationCanceledException) && DateTime.UtcNow + ErrorBackoff < until)
            {
                LogRecordRetry(logger, batch.Count, e.Message);
                await Task.Delay(ErrorBackoff);
            }
        }
    }

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) => value < min ? min : value > max ? max : value;

    /// <param name="attemptDone">Frees the worker slot once the attempt's outcome is handed to the recorder.</param>
    private async Task RunAsync(ClaimedAction claim, Action attemptDone, CancellationToken stopping)
    {
        await Task.Yield();
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        ActionResult result;
        string outcome;
        if (claim.Attempt > claim.Retry.Count)
        {
            // Reclaimed after its last attempt was lost: nothing left to try.
            result = new ActionResult(ActionOutcome.Failed, Error: "the last attempt was lost (its process died or hung)");
            outcome = "lost";
        }
        else
        {
            try
            {
                var spec = ActionSpecJson.Read(claim.SpecJson);
                var work = new ActionWork(ObserverEvent.FromJson(System.Text.Encoding.UTF8.GetBytes(claim.EventJson)), claim.Rule, claim.Action, spec, claim.Attempt);
                var runStarted = Stopwatch.GetTimestamp();
                (result, outcome) = await AttemptAsync(work, claim.Timeout, stopping);
                metrics.Stage("run", runStarted);
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or KeyNotFoundException or NullReferenceException or InvalidOperationException)
            {
                result = new ActionResult(ActionOutcome.Failed, Error: $"the queued action cannot be read: {e.Message}");
                outcome = "failed";
            }
        }
        clock.Stop();

        Decision decision;
        if (stopping.IsCancellationRequested && outcome == "interrupted")
            decision = new Decision(RetryPolicy.Pending, TimeSpan.Zero, AttemptsDelta: -1);
        else
            decision = RetryPolicy.Decide(result, claim.Attempt, claim.Retry, claim.Endpoint is not null, _options.FailFastDelay, _random);
        var attempt = new AttemptRecord(claim.Attempt, started, clock.Elapsed, outcome, result.Status, result.Error);
        bool recorded;
        try
        {
            // The outcome is recorded even while stopping: the claim would otherwise wait out its lease.
            if (decision.DisableEndpoint)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                recorded = await queue.CompleteAsync(claim, identity.Instance, attempt, decision, timeout.Token);
            }
            else
            {
                var completion = new Completion(claim, attempt, decision, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously),
                    started.UtcDateTime + claim.Timeout + _options.ClaimGrace);
                await _completions.Writer.WriteAsync(completion, CancellationToken.None);
                attemptDone();
                recorded = await completion.Recorded.Task;
            }
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException or ChannelClosedException)
        {
            // The claim lapses and another attempt follows; an action may run twice, never zero times.
            LogRecordFailed(logger, claim.EventId, claim.Rule, claim.Action, e.Message);
            return;
        }
        if (!recorded)
        {
            LogFenced(logger, claim.EventId, claim.Rule, claim.Action);
            return;
        }
        metrics.ActionDone(claim.Rule, claim.Action, outcome, clock.Elapsed);
        if (decision.Status == RetryPolicy.Dead)
        {
            metrics.ActionDone(claim.Rule, claim.Action, "dead_lettered");
            LogDeadLettered(logger, claim.EventId, claim.Rule, claim.Action, claim.Attempt, result.Error ?? outcome);
        }
        else if (decision.Status == RetryPolicy.Pending && decision.AttemptsDelta == 0)
            metrics.Retried();
    }

    private async Task<(ActionResult, string)> AttemptAsync(ActionWork work, TimeSpan timeout, CancellationToken stopping)
    {
        if (Array.Find(_runners, r => r.CanRun(work.Spec)) is not { } runner)
            return (new ActionResult(ActionOutcome.Failed, Error: $"no runner for {ActionSpecJson.Kind(work.Spec)} actions in this process"), "failed");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        cts.CancelAfter(timeout);
        var run = runner.RunAsync(work, cts.Token);
        var winner = await Task.WhenAny(run, Task.Delay(timeout + AbandonGrace, CancellationToken.None));
        if (stopping.IsCancellationRequested)
            return (new ActionResult(ActionOutcome.Failed, Error: "interrupted: the process is stopping"), "interrupted");
        if (winner != run)
        {
            _ = run.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
            return (new ActionResult(ActionOutcome.Failed, Error: $"timed out after {timeout.TotalSeconds:0.###} s"), "timeout");
        }
        try
        {
            var result = await run;
            if (result.Outcome != ActionOutcome.Succeeded && cts.IsCancellationRequested)
                return (result with { Error = $"timed out after {timeout.TotalSeconds:0.###} s" + (result.Error is null ? "" : $" ({result.Error})") }, "timeout");
            return (result, Outcome(result.Outcome));
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return (new ActionResult(ActionOutcome.Failed, Error: $"timed out after {timeout.TotalSeconds:0.###} s"), "timeout");
        }
        catch (Exception e)
        {
            // Runners return failures; one that throws anyway fails this attempt, not the worker.
            return (new ActionResult(ActionOutcome.Failed, Error: $"{e.GetType().Name}: {e.Message}"), "failed");
        }
    }

    /// <param name="ClaimHoldsUntil">No later than the claim lapses (it was taken before the attempt started).</param>
    private sealed record Completion(ClaimedAction Claim, AttemptRecord Attempt, Decision Decision, TaskCompletionSource<bool> Recorded, DateTime ClaimHoldsUntil);

    private static string Outcome(ActionOutcome outcome) => outcome switch
    {
        ActionOutcome.Succeeded => "succeeded",
        ActionOutcome.FailedFast => "failed_fast",
        ActionOutcome.Gone => "gone",
        _ => "failed",
    };

    [LoggerMessage(EventId = 8101, Level = LogLevel.Warning, Message = "Observer workers: claiming actions failed, retrying: {Reason}")]
    private static partial void LogClaimFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 8102, Level = LogLevel.Warning, Message = "Observer workers: the outcome of {EventId}.{Rule}.{Action} was not recorded ({Reason}); it runs again when its claim lapses")]
    private static partial void LogRecordFailed(ILogger logger, string eventId, string rule, string action, string reason);

    [LoggerMessage(EventId = 8103, Level = LogLevel.Warning, Message = "Observer workers: the claim on {EventId}.{Rule}.{Action} lapsed and was taken by another worker; this outcome is dropped")]
    private static partial void LogFenced(ILogger logger, string eventId, string rule, string action);

    [LoggerMessage(EventId = 8105, Level = LogLevel.Warning, Message = "Observer workers: recording {Count} outcomes failed, retrying while their claims hold: {Reason}")]
    private static partial void LogRecordRetry(ILogger logger, int count, string reason);

    [LoggerMessage(EventId = 8104, Level = LogLevel.Error, Message = "Observer workers: {EventId}.{Rule}.{Action} dead-lettered after attempt {Attempt}: {Error}")]
    private static partial void LogDeadLettered(ILogger logger, string eventId, string rule, string action, int attempt, string error);
}
