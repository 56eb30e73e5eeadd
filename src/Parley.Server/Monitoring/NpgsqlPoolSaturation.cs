using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Parley.Server.Monitoring;

/// <summary>
/// <c>db_pool_saturation{source}</c>: connections in use / Max Pool Size of the <c>primary</c> and
/// <c>replica</c> data sources. Npgsql publishes both halves (<c>db.client.connection.count</c> by
/// state, <c>db.client.connection.max</c>) as observable instruments of its <c>Npgsql</c> meter but
/// not their ratio, and NpgsqlDataSource has no public statistics; so a private
/// <see cref="MeterListener"/> reads those two instruments whenever the gauge is observed. When
/// several data sources share a name (several servers in one process) the highest ratio wins.
/// <para>
/// The gauge is one instant; a check over an interval (the canary's <c>poolSaturation</c>) wants the interval's mean, so
/// the ratio is also sampled every <see cref="SampleEvery"/> and integrated over time:
/// <c>db_pool_saturation_seconds_total{source}</c> (ratio × seconds) and <c>db_pool_observed_seconds_total{source}</c>
/// (seconds sampled), whose increases divide to the mean over any window, from any scraper.
/// </para>
/// </summary>
public sealed class NpgsqlPoolSaturation : IDisposable
{
    private const string CountInstrument = "db.client.connection.count";
    private const string MaxInstrument = "db.client.connection.max";
    private const string PoolTag = "db.client.connection.pool.name";
    private const string StateTag = "db.client.connection.state";

    private readonly MeterListener _listener = new();
    private readonly Lock _lock = new();
    private readonly List<(string Pool, long Used)> _used = [];
    private readonly List<(string Pool, long Max)> _max = [];

    /// <summary>How often the ratio is sampled for the time-weighted counters: fine enough to see a stall of a few hundred ms.</summary>
    public static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(100);

    private readonly Timer _sampler;
    private readonly Dictionary<string, (double Busy, double Observed)> _integral = new(StringComparer.Ordinal);
    private long _sampledAt = Stopwatch.GetTimestamp();

    public NpgsqlPoolSaturation(MonitoringMeter meter)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Npgsql" && instrument.Name is CountInstrument or MaxInstrument)
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => OnMeasurement(instrument, value, tags));
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => OnMeasurement(instrument, value, tags));
        _listener.Start();
        meter.Meter.CreateObservableGauge("db.pool.saturation", Observe, unit: null,
            "Npgsql pool saturation per data source (primary, replica): connections in use / Max Pool Size.");
        meter.Meter.CreateObservableCounter("db.pool.saturation.seconds", () => ObserveIntegral(i => i.Busy), unit: "s",
            "Npgsql pool saturation integrated over time per data source: increase / increase of db_pool_observed_seconds_total is the mean saturation of a window.");
        meter.Meter.CreateObservableCounter("db.pool.observed.seconds", () => ObserveIntegral(i => i.Observed), unit: "s",
            "Seconds over which db_pool_saturation_seconds_total was sampled, per data source.");
        _sampler = new Timer(_ => Sample(), null, SampleEvery, SampleEvery);
    }

    /// <summary>The current ratio per source (<c>primary</c>, <c>replica</c>).</summary>
    public IReadOnlyDictionary<string, double> Read()
    {
        lock (_lock)
        {
            _used.Clear();
            _max.Clear();
            _listener.RecordObservableInstruments();
            var result = new Dictionary<string, double>(StringComparer.Ordinal);
            // Npgsql reports each data source's count right after its max, in the same order, so
            // the i-th used value pairs with the i-th max of the same name.
            foreach (string source in new[] { "primary", "replica" })
            {
                long[] used = [.. _used.Where(u => u.Pool == source).Select(u => u.Used)];
                long[] max = [.. _max.Where(m => m.Pool == source).Select(m => m.Max)];
                double? highest = null;
                for (int i = 0; i < Math.Min(used.Length, max.Length); i++)
                {
                    if (max[i] > 0)
                        highest = Math.Max(highest ?? 0, (double)used[i] / max[i]);
                }
                if (highest is { } ratio)
                    result[source] = ratio;
            }
            return result;
        }
    }

    public void Dispose()
    {
        _sampler.Dispose();
        _listener.Dispose();
    }

    // The ratio now stands for the time since the previous sample (a starved timer that ticks late still counts that time).
    private void Sample()
    {
        var ratios = Read();
        lock (_integral)
        {
            var now = Stopwatch.GetTimestamp();
            var seconds = Stopwatch.GetElapsedTime(_sampledAt, now).TotalSeconds;
            _sampledAt = now;
            foreach (var (source, ratio) in ratios)
            {
                var (busy, observed) = _integral.GetValueOrDefault(source);
                _integral[source] = (busy + ratio * seconds, observed + seconds);
            }
        }
    }

    private IEnumerable<Measurement<double>> ObserveIntegral(Func<(double Busy, double Observed), double> part)
    {
        lock (_integral)
            return [.. _integral.Select(p => new Measurement<double>(part(p.Value), new KeyValuePair<string, object?>("source", p.Key)))];
    }

    private IEnumerable<Measurement<double>> Observe()
    {
        foreach ((string source, double ratio) in Read())
            yield return new Measurement<double>(ratio, new KeyValuePair<string, object?>("source", source));
    }

    private void OnMeasurement(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string? pool = null, state = null;
        foreach (var tag in tags)
        {
            if (tag.Key == PoolTag) pool = tag.Value as string;
            else if (tag.Key == StateTag) state = tag.Value as string;
        }
        if (pool is not ("primary" or "replica"))
            return;
        if (instrument.Name == MaxInstrument)
            _max.Add((pool, value));
        else if (state == "used")
            _used.Add((pool, value));
    }
}
