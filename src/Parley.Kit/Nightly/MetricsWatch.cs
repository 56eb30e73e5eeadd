using System.Diagnostics;
using Parley.Kit.Chaos.Faults;
using Parley.Kit.Chaos.Nodes;
using Parley.Kit.Load.Sampling;

namespace Parley.Kit.Nightly;

/// <summary>One scrape of one node: seconds since the fault's injection, whether the fault was still in, each metric summed over its labels.</summary>
public sealed record MetricsReading(double Seconds, bool DuringFault, int Node, IReadOnlyDictionary<string, double> Values)
{
    /// <summary>Each metric of a <c>/metrics</c> text summed over its labels, and by its <c>result</c> label as <c>name{result=hit}</c>.</summary>
    public static Dictionary<string, double> Totals(string text)
    {
        var samples = PrometheusText.Parse(text).Where(s => !double.IsNaN(s.Value)).ToList();
        var totals = samples.GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.Sum(s => s.Value), StringComparer.Ordinal);
        foreach (var g in samples.Where(s => s.Labels.ContainsKey("result")).GroupBy(s => $"{s.Name}{{result={s.Labels["result"]}}}"))
            totals[g.Key] = g.Sum(s => s.Value);
        return totals;
    }

    /// <summary>hit / (hit + miss) of a counter with a <c>result</c> label; null when neither was counted.</summary>
    public static double? HitRatio(IReadOnlyDictionary<string, double> totals, string metric)
    {
        var hits = totals.GetValueOrDefault($"{metric}{{result=hit}}");
        var misses = totals.GetValueOrDefault($"{metric}{{result=miss}}");
        return hits + misses > 0 ? Math.Round(hits / (hits + misses), 4) : null;
    }
}

/// <summary>
/// A fault wrapper that scrapes every node's <c>/metrics</c> every 250 ms from the injection until
/// <see cref="After"/> past the removal (nodes that are down are skipped), so a test can assert on server counters
/// (breaker state, outbox failures, reclaimed entries) during and after a chaos scenario.
/// </summary>
public sealed class WatchedFault(IFault inner, IReadOnlyList<ParleyNode> nodes, Func<Task>? afterInject = null) : IFault
{
    public static readonly TimeSpan After = TimeSpan.FromSeconds(12);
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    private readonly List<MetricsReading> _readings = [];
    private readonly Stopwatch _clock = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private volatile bool _removed;

    public string Description => inner.Description;

    /// <summary>Completes when the watch has ended (<see cref="After"/> past the removal).</summary>
    public Task Completion => _loop;

    public IReadOnlyList<MetricsReading> Readings
    {
        get
        {
            lock (_readings) return _readings.ToList();
        }
    }

    public async Task InjectAsync(CancellationToken ct = default)
    {
        _clock.Start();
        await inner.InjectAsync(ct).ConfigureAwait(false);
        if (afterInject is not null) await afterInject().ConfigureAwait(false);
        _stop.CancelAfter(TimeSpan.FromMinutes(10)); // bounded even if the scenario never removes the fault
        _loop = Task.Run(WatchAsync, CancellationToken.None);
    }

    public async Task RemoveAsync(CancellationToken ct = default)
    {
        _removed = true;
        await inner.RemoveAsync(ct).ConfigureAwait(false);
        _stop.CancelAfter(After);
    }

    /// <summary>The largest value of <paramref name="metric"/> seen on <paramref name="node"/> (any node when null), during or after the fault.</summary>
    public double? Max(string metric, bool? duringFault = null, int? node = null) =>
        Readings.Where(r => (duringFault is null || r.DuringFault == duringFault) && (node is null || r.Node == node) && r.Values.ContainsKey(metric))
            .Select(r => (double?)r.Values[metric]).Max();

    /// <summary>The last value of <paramref name="metric"/> read on <paramref name="node"/>.</summary>
    public double? Last(string metric, int node = 0) =>
        Readings.LastOrDefault(r => r.Node == node && r.Values.ContainsKey(metric))?.Values[metric];

    private async Task WatchAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        while (!_stop.IsCancellationRequested)
        {
            for (var i = 0; i < nodes.Count; i++)
            {
                try
                {
                    if (!nodes[i].IsRunning) continue;
                    var text = await http.GetStringAsync(new Uri(nodes[i].BaseAddress, "/metrics"), _stop.Token).ConfigureAwait(false);
                    var values = MetricsReading.Totals(text);
                    var during = !_removed;
                    lock (_readings) _readings.Add(new MetricsReading(_clock.Elapsed.TotalSeconds, during, i, values));
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException)
                {
                    // a node killed, stopping or already disposed by the scenario: read it again next round
                }
            }
            try
            {
                await Task.Delay(Interval, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
