using System.Diagnostics.Metrics;
using System.Text;

namespace Parley.Server.Observability;

/// <summary>
/// A Prometheus text exporter (format 0.0.4) fed by a <see cref="MeterListener"/>: it aggregates
/// the measurements of the instruments of the configured meters per instrument and tag set, and
/// renders them on <see cref="Scrape"/>.
/// <list type="bullet">
/// <item>Counter and ObservableCounter → <c>counter</c> (<c>_total</c>); UpDownCounter,
/// ObservableUpDownCounter, Gauge and ObservableGauge → <c>gauge</c>; Histogram → <c>histogram</c>
/// with the instrument's advised bucket bounds, else defaults for seconds, milliseconds or other units.</item>
/// <item>Observable instruments are read at each scrape; a tag set they no longer report disappears.</item>
/// <item>Recording is lock-free: one dictionary read and one interlocked update per measurement.</item>
/// <item>Each instrument keeps at most <see cref="PrometheusExporterOptions.MaxSeriesPerInstrument"/>
/// tag sets; measurements beyond are counted in <c>parley_metrics_dropped_series_total</c>.</item>
/// <item>Instruments that map to one name form one family (first type wins; a later instrument of
/// another type, or a repeated tag set, is left out), so each family is printed once and whole.</item>
/// </list>
/// Meters created by an <see cref="IMeterFactory"/> other than the one given (another host in the
/// same process, as in tests) are ignored.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    /// <summary>The content type of <see cref="Scrape"/>'s output.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>The family that counts measurements dropped by the cardinality cap.</summary>
    public const string DroppedSeriesMetricName = "parley_metrics_dropped_series_total";

    private readonly PrometheusExporterOptions _options;
    private readonly IMeterFactory? _meterFactory;
    private readonly MeterListener _listener;
    private readonly Lock _instrumentsLock = new();
    private readonly List<InstrumentState> _instruments = [];
    private readonly Lock _scrapeLock = new();
    private readonly StringBuilder _output = new(16 * 1024);
    private long _droppedMeasurements;
    private long _scrape;
    private bool _disposed;

    /// <summary>Starts listening at once.</summary>
    /// <param name="options">Which meters, and the limits; see <see cref="PrometheusExporterOptions"/>.</param>
    /// <param name="meterFactory">The host's meter factory: meters of other factories are ignored.</param>
    public PrometheusExporter(PrometheusExporterOptions? options = null, IMeterFactory? meterFactory = null)
    {
        _options = options ?? new PrometheusExporterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxSeriesPerInstrument, 1, nameof(options));
        _meterFactory = meterFactory;
        _listener = new MeterListener
        {
            InstrumentPublished = OnInstrumentPublished,
            MeasurementsCompleted = OnMeasurementsCompleted,
        };
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<short>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<byte>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<decimal>(static (_, value, tags, state) => ((InstrumentState)state!).Record((double)value, tags));
        _listener.Start();
    }

    /// <summary>The number of the scrape in progress (observable series are stamped with it).</summary>
    internal long CurrentScrape => Volatile.Read(ref _scrape);

    /// <summary>Reads the observable instruments and renders every family in the text format.</summary>
    public string Scrape()
    {
        lock (_scrapeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            long scrape = Interlocked.Increment(ref _scrape);
            _listener.RecordObservableInstruments();
            _output.Clear();
            Render(_output, scrape);
            return _output.ToString();
        }
    }

    /// <summary>Writes <see cref="Scrape"/>'s output to <paramref name="destination"/> as UTF-8.</summary>
    public async Task WriteAsync(Stream destination, CancellationToken cancellationToken = default)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(Scrape());
        await destination.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops listening.</summary>
    public void Dispose()
    {
        lock (_scrapeLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _listener.Dispose();
        }
    }

    internal void CountDroppedMeasurement() => Interlocked.Increment(ref _droppedMeasurements);

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        if (!IsExported(instrument.Meter))
        {
            return;
        }

        InstrumentState? state = InstrumentState.Create(this, instrument, _options);
        if (state is null || state.Name == DroppedSeriesMetricName)
        {
            return;
        }

        lock (_instrumentsLock)
        {
            _instruments.Add(state);
        }

        listener.EnableMeasurementEvents(instrument, state);
    }

    private void OnMeasurementsCompleted(Instrument instrument, object? state)
    {
        if (state is InstrumentState instrumentState)
        {
            lock (_instrumentsLock)
            {
                _instruments.Remove(instrumentState);
            }
        }
    }

    private bool IsExported(Meter meter)
    {
        if (meter.Scope is IMeterFactory factory && _meterFactory is not null && !ReferenceEquals(factory, _meterFactory))
        {
            return false;
        }

        foreach (string pattern in _options.MeterNames)
        {
            if (MatchesMeterName(pattern, meter.Name))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary><c>Foo*</c> matches names starting with <c>Foo</c>; <c>Foo</c> matches <c>Foo</c> and <c>Foo.*</c>.</summary>
    internal static bool MatchesMeterName(string pattern, string meterName)
    {
        if (pattern.EndsWith('*'))
        {
            return meterName.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.OrdinalIgnoreCase);
        }

        return meterName.Equals(pattern, StringComparison.OrdinalIgnoreCase)
            || (meterName.Length > pattern.Length
                && meterName[pattern.Length] == '.'
                && meterName.StartsWith(pattern, StringComparison.OrdinalIgnoreCase));
    }

    private void Render(StringBuilder output, long scrape)
    {
        InstrumentState[] instruments;
        lock (_instrumentsLock)
        {
            instruments = [.. _instruments];
        }

        // Families by name, in order of name; instruments of a family in order of publication.
        foreach (IGrouping<string, InstrumentState> family in instruments.GroupBy(i => i.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            InstrumentState first = family.First();
            PrometheusText.AppendFamilyHeader(output, first.Name, first.Help, first.Type);
            HashSet<string>? seen = family.Skip(1).Any() ? new HashSet<string>(StringComparer.Ordinal) : null;
            foreach (InstrumentState instrument in family)
            {
                if (instrument.Type != first.Type)
                {
                    continue;
                }

                foreach ((string labels, MetricSeries series) in instrument.Snapshot(scrape))
                {
                    if (seen is not null && !seen.Add(labels))
                    {
                        continue;
                    }

                    if (series is HistogramSeries histogram)
                    {
                        AppendHistogram(output, instrument.Name, labels, instrument.Bounds!, histogram);
                    }
                    else
                    {
                        PrometheusText.AppendSample(output, instrument.Name, labels, ((ValueSeries)series).Value);
                    }
                }
            }
        }

        PrometheusText.AppendFamilyHeader(
            output,
            DroppedSeriesMetricName,
            $"Measurements dropped because their instrument already had {_options.MaxSeriesPerInstrument} tag sets.",
            PrometheusMetricType.Counter);
        PrometheusText.AppendSample(output, DroppedSeriesMetricName, "", Interlocked.Read(ref _droppedMeasurements));
    }

    private static void AppendHistogram(StringBuilder output, string name, string labels, double[] bounds, HistogramSeries histogram)
    {
        Span<long> counts = bounds.Length < 128 ? stackalloc long[bounds.Length + 1] : new long[bounds.Length + 1];
        histogram.ReadCounts(counts);
        long cumulative = 0;
        for (int i = 0; i < bounds.Length; i++)
        {
            cumulative += counts[i];
            PrometheusText.AppendBucket(output, name, labels, PrometheusText.FormatDouble(bounds[i]), cumulative);
        }

        cumulative += counts[bounds.Length];
        PrometheusText.AppendBucket(output, name, labels, "+Inf", cumulative);
        PrometheusText.AppendSample(output, name + "_sum", labels, histogram.Sum);
        PrometheusText.AppendSample(output, name + "_count", labels, cumulative);
    }
}
