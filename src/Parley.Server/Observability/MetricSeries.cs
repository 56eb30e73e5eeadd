namespace Parley.Server.Observability;

/// <summary>One tag set of one instrument. Updates are lock-free (interlocked).</summary>
internal abstract class MetricSeries
{
    private long _scrape;

    /// <summary>The scrape in which an observable instrument last reported this series.</summary>
    public long LastObservedScrape
    {
        get => Volatile.Read(ref _scrape);
        set => Volatile.Write(ref _scrape, value);
    }

    protected static void AddDouble(ref double location, double value)
    {
        double current = Volatile.Read(ref location);
        while (true)
        {
            double seen = Interlocked.CompareExchange(ref location, current + value, current);
            if (BitConverter.DoubleToInt64Bits(seen) == BitConverter.DoubleToInt64Bits(current))
            {
                return;
            }

            current = seen;
        }
    }
}

/// <summary>A counter's running total or a gauge's value.</summary>
internal sealed class ValueSeries : MetricSeries
{
    private double _value;

    public double Value => Volatile.Read(ref _value);

    public void Add(double value) => AddDouble(ref _value, value);

    public void Set(double value) => Interlocked.Exchange(ref _value, value);
}

/// <summary>
/// A histogram: a count per bucket (not cumulative; cumulated at scrape) and a sum.
/// The scraped <c>_count</c> is the sum of the bucket counts read, so it always equals the
/// <c>+Inf</c> bucket.
/// </summary>
internal sealed class HistogramSeries : MetricSeries
{
    private readonly double[] _bounds;
    private readonly long[] _counts;
    private double _sum;

    public HistogramSeries(double[] bounds)
    {
        _bounds = bounds;
        _counts = new long[bounds.Length + 1];
    }

    public double Sum => Volatile.Read(ref _sum);

    public void Record(double value)
    {
        Interlocked.Increment(ref _counts[BucketIndex(_bounds, value)]);
        AddDouble(ref _sum, value);
    }

    /// <summary>Copies the per-bucket counts (the last one is the overflow bucket).</summary>
    public void ReadCounts(Span<long> destination)
    {
        for (int i = 0; i < _counts.Length; i++)
        {
            destination[i] = Volatile.Read(ref _counts[i]);
        }
    }

    /// <summary>The index of the first bound that is ≥ <paramref name="value"/> (Prometheus's <c>le</c>), or the overflow bucket.</summary>
    internal static int BucketIndex(double[] bounds, double value)
    {
        if (bounds.Length <= 16)
        {
            for (int i = 0; i < bounds.Length; i++)
            {
                if (value <= bounds[i])
                {
                    return i;
                }
            }

            return bounds.Length;
        }

        int found = Array.BinarySearch(bounds, value);
        return found >= 0 ? found : ~found;
    }
}
