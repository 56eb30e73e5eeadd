using System.Diagnostics.Metrics;
using Parley.Observer.Actions;

namespace Parley.Observer.Metrics;

/// <summary>
/// The observer's instruments (OBSERVER.md, "Metrics"), on the <c>Parley.Observer</c> meter of the
/// host's <see cref="IMeterFactory"/>; the exporter names them <c>observer_events_total</c>,
/// <c>observer_actions_total</c>, <c>observer_action_duration_seconds</c>, <c>observer_retries_total</c>,
/// <c>observer_dlq_depth</c>, <c>observer_checkpoint_lag_seconds</c>,
/// <c>observer_replication_retained_bytes</c>, <c>observer_leader</c>, <c>observer_failovers_total</c>, and
/// <c>observer_dedup_hits_total</c> (events the Redis fast path recognised as already enqueued) and
/// <c>observer_stage_duration_seconds{stage}</c> (where an event's time goes: <see cref="Stage"/>).
/// <c>observer_breaker_state</c> is the breakers' own (<see cref="EndpointBreakers"/>).
/// </summary>
public sealed class ObserverMetrics
{
    private readonly Counter<long> _events;
    private readonly Counter<long> _actions;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _failovers;
    private readonly Counter<long> _dedupHits;
    private readonly Histogram<double> _stage;
    private long _eventsRead;
    private long _dedupHitCount;
    private long _dlqDepth;
    private double _lagSeconds;
    private long _retainedBytes;
    private int _leader;

    public ObserverMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(EndpointBreakers.MeterName);
        _events = meter.CreateCounter<long>("observer.events", "{event}", "Events read from the replication slot and enqueued past, by source and type.");
        _actions = meter.CreateCounter<long>("observer.actions", "{action}",
            "Action attempts by rule, action and outcome (succeeded, failed, failed_fast, gone, timeout), and actions dead-lettered (dead_lettered, too_large).");
        _duration = meter.CreateHistogram<double>("observer.action.duration", "s", "Duration of one action attempt.");
        _retries = meter.CreateCounter<long>("observer.retries", "{retry}", "Failed attempts rescheduled on the retry schedule.");
        _failovers = meter.CreateCounter<long>("observer.failovers", "{failover}", "Times this process took the lead over from an earlier leader.");
        _dedupHits = meter.CreateCounter<long>("observer.dedup.hits", "{event}", "Events read again that the Redis fast path recognised as already enqueued (skipped without a database write).");
        _stage = meter.CreateHistogram<double>("observer.stage.duration", "s",
            "Time spent per step of the event path (the stage tag: stream (commit -> read from the slot, per transaction), decode, match, dedup_check, enqueue, confirm, dedup_mark, claim, run, record); a batch step counts once per batch.");
        meter.CreateObservableGauge("observer.dlq.depth", () => Interlocked.Read(ref _dlqDepth), "{action}", "Actions in the dead-letter queue.");
        meter.CreateObservableGauge("observer.checkpoint.lag", () => Volatile.Read(ref _lagSeconds), "s",
            "Age of the newest change read but not yet checkpointed (0 when caught up).");
        meter.CreateObservableGauge("observer.replication.retained", () => Interlocked.Read(ref _retainedBytes), "By",
            "WAL the replication slot holds back on the primary (current WAL position minus the slot's restart position).");
        meter.CreateObservableGauge("observer.leader", () => Volatile.Read(ref _leader), null, "1 while this process leads (reads the slot), else 0.");
    }

    public void EventRead(string source, string type)
    {
        Interlocked.Increment(ref _eventsRead);
        _events.Add(1, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("type", type));
    }

    public void DedupHits(int events)
    {
        if (events == 0) return;
        Interlocked.Add(ref _dedupHitCount, events);
        _dedupHits.Add(events);
    }

    /// <summary>Events read by this process since it started (for the events-per-second of <c>GET /status</c>).</summary>
    public long EventsRead => Interlocked.Read(ref _eventsRead);

    /// <summary>Events the dedup fast path skipped since this process started.</summary>
    public long DedupHitCount => Interlocked.Read(ref _dedupHitCount);

    /// <summary>The value of <c>observer_checkpoint_lag_seconds</c>.</summary>
    public double LagSeconds => Volatile.Read(ref _lagSeconds);

    public void ActionDone(string rule, string action, string outcome, TimeSpan? duration = null)
    {
        _actions.Add(1, new KeyValuePair<string, object?>("rule", rule), new KeyValuePair<string, object?>("action", action), new KeyValuePair<string, object?>("outcome", outcome));
        if (duration is { } d) _duration.Record(d.TotalSeconds);
    }

    /// <summary>Records <paramref name="stage"/> as having run since <paramref name="startedTimestamp"/> (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>).</summary>
    public void Stage(string stage, long startedTimestamp) =>
        _stage.Record(System.Diagnostics.Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, new KeyValuePair<string, object?>("stage", stage));

    /// <summary>Records <paramref name="stage"/> as having taken <paramref name="elapsed"/> (e.g. <c>stream</c>: commit -> its end read from the slot).</summary>
    public void Stage(string stage, TimeSpan elapsed) =>
        _stage.Record(Math.Max(0, elapsed.TotalSeconds), new KeyValuePair<string, object?>("stage", stage));

    public void Retried() => _retries.Add(1);

    public void FailedOver() => _failovers.Add(1);

    public void SetLeader(bool leading) => Volatile.Write(ref _leader, leading ? 1 : 0);

    public void SetLag(double seconds) => Volatile.Write(ref _lagSeconds, Math.Max(0, seconds));

    public void SetDlqDepth(long depth) => Interlocked.Exchange(ref _dlqDepth, depth);

    public void SetRetainedBytes(long bytes) => Interlocked.Exchange(ref _retainedBytes, bytes);
}
