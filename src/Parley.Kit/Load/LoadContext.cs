using System.Collections.Concurrent;
using Parley.Kit.Load.Engine;

namespace Parley.Kit.Load;

/// <summary>What a scenario works with: the API client on the run's connection pool, counters, extra histograms.</summary>
public sealed class LoadContext(ParleyApiClient api, Uri baseUri, LoadProfile profile, IProgress<string>? log, ParleyApiClient? setup = null)
{
    private readonly ConcurrentDictionary<string, StrongBox<long>> _counters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LatencyHistogram> _histograms = new(StringComparer.Ordinal);

    public ParleyApiClient Api { get; } = api;

    /// <summary>For setup and verification: its own connections and a long timeout (a registration costs a password hash).</summary>
    public ParleyApiClient Setup { get; } = setup ?? api;

    public Uri BaseUri { get; } = baseUri;

    public LoadProfile Profile { get; } = profile;

    /// <summary>A unique prefix for this run's handles and titles, so runs never collide.</summary>
    public string RunId { get; } = Guid.CreateVersion7().ToString("N")[^10..];

    /// <summary>True once warm-up is over; scenarios record their own histograms only while measuring.</summary>
    public bool Measuring { get; internal set; }

    public void Log(string line) => log?.Report(line);

    /// <summary>Adds to a named counter (lost, duplicates, stale, corrupted, disconnects, ...).</summary>
    public void Count(string name, long delta = 1) => Interlocked.Add(ref _counters.GetOrAdd(name, _ => new StrongBox<long>()).Value, delta);

    /// <summary>Makes a counter exist with 0, so a gate on it has data even when nothing went wrong.</summary>
    public void DeclareCounter(string name) => _counters.GetOrAdd(name, _ => new StrongBox<long>());

    public IReadOnlyDictionary<string, long> Counters => _counters.ToDictionary(p => p.Key, p => Interlocked.Read(ref p.Value.Value));

    /// <summary>A named latency histogram beside the request latency (e.g. <c>delivery</c>, <c>invalidation</c>).</summary>
    public LatencyHistogram Histogram(string name) => _histograms.GetOrAdd(name, _ => new LatencyHistogram());

    public IReadOnlyDictionary<string, LatencyHistogram> Histograms => _histograms;

    public sealed class StrongBox<T>
    {
        public T Value = default!;
    }
}
