using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Parley.Server.Observability;

/// <summary>
/// What the exporter keeps for one instrument: its Prometheus name and type, and one series per
/// tag set (at most <see cref="PrometheusExporterOptions.MaxSeriesPerInstrument"/>). The hot path
/// renders the tags into a per-thread buffer and looks the series up without allocating.
/// </summary>
internal sealed class InstrumentState
{
    private readonly PrometheusExporter _owner;
    private readonly ConcurrentDictionary<string, MetricSeries> _series = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, MetricSeries>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _maxSeries;
    private readonly Mode _mode;
    private int _seriesCount;

    private InstrumentState(PrometheusExporter owner, Instrument instrument, PrometheusMetricType type, Mode mode, double[]? bounds, int maxSeries)
    {
        _owner = owner;
        _lookup = _series.GetAlternateLookup<ReadOnlySpan<char>>();
        _maxSeries = maxSeries;
        _mode = mode;
        Instrument = instrument;
        Type = type;
        Bounds = bounds;
        Name = PrometheusNaming.MetricName(instrument.Name, instrument.Unit, type);
        Help = string.IsNullOrWhiteSpace(instrument.Description)
            ? $"{instrument.Name} (meter {instrument.Meter.Name})"
            : instrument.Description;
    }

    private enum Mode
    {
        /// <summary>Counter: adds non-negative increments.</summary>
        Increment,

        /// <summary>UpDownCounter: adds increments of either sign.</summary>
        Delta,

        /// <summary>Gauge and every observable instrument: keeps the last value.</summary>
        Last,

        /// <summary>Histogram: counts the value into its bucket.</summary>
        Distribution,
    }

    public Instrument Instrument { get; }

    public string Name { get; }

    public string Help { get; }

    public PrometheusMetricType Type { get; }

    /// <summary>Histogram bucket bounds, ascending; null for other types.</summary>
    public double[]? Bounds { get; }

    public bool IsObservable => Instrument.IsObservable;

    /// <summary>The state of an instrument, or null for an instrument kind the exporter does not know.</summary>
    public static InstrumentState? Create(PrometheusExporter owner, Instrument instrument, PrometheusExporterOptions options)
    {
        Type kind = instrument.GetType();
        if (!kind.IsGenericType)
        {
            return null;
        }

        Type definition = kind.GetGenericTypeDefinition();
        (PrometheusMetricType type, Mode mode)? shape =
            definition == typeof(Counter<>) ? (PrometheusMetricType.Counter, Mode.Increment)
            : definition == typeof(ObservableCounter<>) ? (PrometheusMetricType.Counter, Mode.Last)
            : definition == typeof(UpDownCounter<>) ? (PrometheusMetricType.Gauge, Mode.Delta)
            : definition == typeof(ObservableUpDownCounter<>) ? (PrometheusMetricType.Gauge, Mode.Last)
            : definition == typeof(Gauge<>) ? (PrometheusMetricType.Gauge, Mode.Last)
            : definition == typeof(ObservableGauge<>) ? (PrometheusMetricType.Gauge, Mode.Last)
            : definition == typeof(Histogram<>) ? (PrometheusMetricType.Histogram, Mode.Distribution)
            : null;
        if (shape is not { } s)
        {
            return null;
        }

        double[]? bounds = s.type == PrometheusMetricType.Histogram
            ? Normalize(AdvisedBounds(instrument) ?? DefaultBounds(instrument.Unit, options))
            : null;
        return new InstrumentState(owner, instrument, s.type, s.mode, bounds, options.MaxSeriesPerInstrument);
    }

    /// <summary>Records one measurement; called on the thread that made it.</summary>
    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (double.IsNaN(value) || (_mode == Mode.Increment && value < 0))
        {
            return;
        }

        ReadOnlySpan<char> key = LabelSetBuilder.Current.Build(tags, _mode == Mode.Distribution);
        if (!_lookup.TryGetValue(key, out MetricSeries? series))
        {
            series = AddSeries(key);
            if (series is null)
            {
                _owner.CountDroppedMeasurement();
                return;
            }
        }

        switch (_mode)
        {
            case Mode.Increment:
            case Mode.Delta:
                ((ValueSeries)series).Add(value);
                break;
            case Mode.Last:
                ((ValueSeries)series).Set(value);
                break;
            default:
                ((HistogramSeries)series).Record(value);
                break;
        }

        if (IsObservable)
        {
            series.LastObservedScrape = _owner.CurrentScrape;
        }
    }

    /// <summary>The series sorted by label text; observable series not reported in <paramref name="scrape"/> are removed.</summary>
    public List<KeyValuePair<string, MetricSeries>> Snapshot(long scrape)
    {
        var snapshot = new List<KeyValuePair<string, MetricSeries>>(Volatile.Read(ref _seriesCount));
        foreach (KeyValuePair<string, MetricSeries> entry in _series)
        {
            if (IsObservable && entry.Value.LastObservedScrape != scrape)
            {
                if (_series.TryRemove(entry))
                {
                    Interlocked.Decrement(ref _seriesCount);
                }

                continue;
            }

            snapshot.Add(entry);
        }

        snapshot.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return snapshot;
    }

    private MetricSeries? AddSeries(ReadOnlySpan<char> key)
    {
        if (Interlocked.Increment(ref _seriesCount) > _maxSeries)
        {
            Interlocked.Decrement(ref _seriesCount);
            return null;
        }

        MetricSeries created = Bounds is null ? new ValueSeries() : new HistogramSeries(Bounds);
        if (_lookup.TryAdd(key, created))
        {
            return created;
        }

        // Another thread added the same series first.
        Interlocked.Decrement(ref _seriesCount);
        return _lookup.TryGetValue(key, out MetricSeries? existing) ? existing : null;
    }

    private static double[]? AdvisedBounds(Instrument instrument) => instrument switch
    {
        Instrument<double> i => ToDoubles(i.Advice?.HistogramBucketBoundaries),
        Instrument<float> i => ToDoubles(i.Advice?.HistogramBucketBoundaries),
        Instrument<long> i => ToDoubles(i.Advice?.HistogramBucketBoundaries),
        Instrument<int> i => ToDoubles(i.Advice?.HistogramBucketBoundaries),
        Instrument<short> i => ToDoubles(i.Advice?.HistogramBucketBoundaries),
        Instrument<byte> i => ToDoubles(i.Advice?.HistogramBucketBoundaries),
        Instrument<decimal> i => ToDoubles(i.Advice?.HistogramBucketBoundaries),
        _ => null,
    };

    private static double[]? ToDoubles<T>(IReadOnlyList<T>? bounds)
        where T : struct, IConvertible =>
        bounds is null ? null : [.. bounds.Select(b => b.ToDouble(System.Globalization.CultureInfo.InvariantCulture))];

    private static IEnumerable<double> DefaultBounds(string? unit, PrometheusExporterOptions options) => unit switch
    {
        "s" => options.SecondsBuckets,
        "ms" => options.MillisecondsBuckets,
        _ => options.DefaultBuckets,
    };

    /// <summary>Ascending, distinct, finite bounds.</summary>
    private static double[] Normalize(IEnumerable<double> bounds) =>
        [.. bounds.Where(double.IsFinite).Distinct().Order()];
}
