using System.Collections.Concurrent;

namespace Parley.Kit.Load.Engine;

/// <summary>
/// Collects every measured request: latency per operation and overall, outcome counts by operation and status,
/// and per-second intervals for the timeline and the gate window. Thread-safe; the engine hands it only measured requests.
/// </summary>
public sealed class LoadRecorder
{
    private readonly ConcurrentDictionary<string, OperationStats> _operations = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _errorKinds = new(StringComparer.Ordinal);
    private Interval _interval = new();
    private long _ok;
    private long _expected;
    private long _errors;

    public LatencyHistogram All { get; } = new();

    public long Requests => Interlocked.Read(ref _ok) + Interlocked.Read(ref _expected) + Interlocked.Read(ref _errors);

    public long Ok => Interlocked.Read(ref _ok);

    public long Expected => Interlocked.Read(ref _expected);

    public long Errors => Interlocked.Read(ref _errors);

    public IReadOnlyDictionary<string, OperationStats> Operations => _operations;

    /// <summary>Errors by kind: an HTTP status (<c>503</c>), <c>timeout</c>, <c>connect</c>, <c>dropped</c>, or the scenario's word.</summary>
    public IReadOnlyDictionary<string, long> ErrorKinds => _errorKinds;

    public void Record(in Outcome outcome, long latencyNanoseconds)
    {
        All.Record(latencyNanoseconds);
        var interval = Volatile.Read(ref _interval);
        interval.Latency.Record(latencyNanoseconds);
        Interlocked.Increment(ref interval.Requests);
        var op = _operations.GetOrAdd(outcome.Operation, _ => new OperationStats());
        op.Latency.Record(latencyNanoseconds);
        op.CountStatus(outcome.Status, latencyNanoseconds);
        switch (outcome.Kind)
        {
            case OutcomeKind.Ok:
                Interlocked.Increment(ref _ok);
                break;
            case OutcomeKind.Expected:
                Interlocked.Increment(ref _expected);
                break;
            default:
                Interlocked.Increment(ref _errors);
                Interlocked.Increment(ref interval.Errors);
                Interlocked.Increment(ref op.Errors);
                _errorKinds.AddOrUpdate(outcome.Error ?? $"{outcome.Status}", 1, (_, n) => n + 1);
                break;
        }
    }

    /// <summary>
    /// An arrival that found every allowed slot busy: an error (the server did not keep up) that never ran, so it has
    /// no latency and belongs to no operation.
    /// </summary>
    public void RecordDropped()
    {
        Interlocked.Increment(ref _errors);
        var interval = Volatile.Read(ref _interval);
        Interlocked.Increment(ref interval.Requests);
        Interlocked.Increment(ref interval.Errors);
        _errorKinds.AddOrUpdate("dropped", 1, (_, n) => n + 1);
    }

    /// <summary>Ends the current interval and starts the next; returns the one that ended.</summary>
    public Interval Rotate() => Interlocked.Exchange(ref _interval, new Interval());

    public sealed class Interval
    {
        public readonly LatencyHistogram Latency = new();

        /// <summary>Measured requests, dropped arrivals included (they have no latency).</summary>
        public long Requests;
        public long Errors;
    }

    public sealed class OperationStats
    {
        /// <summary>Counts by status 0..599 without a lock on the hot path; anything else (a scenario's own code) in <see cref="_others"/>.</summary>
        private readonly long[] _byStatus = new long[600];
        private readonly ConcurrentDictionary<int, long> _others = new();
        private readonly ConcurrentDictionary<int, LatencyHistogram> _latencyByStatus = new();
        public readonly LatencyHistogram Latency = new();

        /// <summary>
        /// Latency per status: an overloaded server's fast 503s and slow 201s mixed in <see cref="Latency"/> say nothing
        /// about how the accepted requests fared.
        /// </summary>
        public IReadOnlyDictionary<int, LatencyHistogram> LatencyByStatus => _latencyByStatus;
        public long Errors;

        public IReadOnlyDictionary<int, long> Statuses
        {
            get
            {
                var statuses = new Dictionary<int, long>(_others);
                for (var status = 0; status < _byStatus.Length; status++)
                {
                    var count = Interlocked.Read(ref _byStatus[status]);
                    if (count != 0) statuses[status] = count;
                }
                return statuses;
            }
        }

        internal void CountStatus(int status, long latencyNanoseconds)
        {
            _latencyByStatus.GetOrAdd(status, _ => new LatencyHistogram()).Record(latencyNanoseconds);
            if ((uint)status < (uint)_byStatus.Length) Interlocked.Increment(ref _byStatus[status]);
            else _others.AddOrUpdate(status, 1, (_, n) => n + 1);
        }
    }
}
