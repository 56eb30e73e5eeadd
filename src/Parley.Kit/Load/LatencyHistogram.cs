using HdrHistogram;
using HdrHistogram.Utilities;

namespace Parley.Kit.Load;

/// <summary>
/// A latency histogram in nanoseconds on HdrHistogram (the histogram of wrk2 and most load tools), with 2 significant
/// digits: values below 256 ns are counted exactly, above each power of two is split into 128 buckets, so a percentile
/// is within 1/128 (0.8%) of the exact one. Recording is thread-safe (<see cref="LongConcurrentHistogram"/>); histograms
/// merge by adding counts (workers, seconds, runs). Min, max and sum are kept exactly beside it. Values above
/// <see cref="HighestTrackable"/> (about 36 minutes) are clamped to it. About 36 KB per histogram.
/// Latency is measured from each request's scheduled start by the engine (no coordinated omission), not corrected here.
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>2^41 - 1 ns, about 36 minutes: anything longer is recorded as this.</summary>
    public const long HighestTrackable = (1L << 41) - 1;

    private const int SignificantDigits = 2;

    private readonly HistogramBase _counts;
    private long _sum;
    private long _min = long.MaxValue;
    private long _max;

    public LatencyHistogram() : this(new LongConcurrentHistogram(1, HighestTrackable, SignificantDigits))
    {
    }

    private LatencyHistogram(HistogramBase counts) => _counts = counts;

    public long Count => _counts.TotalCount;

    /// <summary>The largest value recorded, exactly (not a bucket value); 0 when empty.</summary>
    public long MaxNanoseconds => Volatile.Read(ref _max);

    /// <summary>The smallest value recorded, exactly; 0 when empty.</summary>
    public long MinNanoseconds => Count == 0 ? 0 : Volatile.Read(ref _min);

    public double MeanNanoseconds => Count == 0 ? 0 : (double)Volatile.Read(ref _sum) / Count;

    public void Record(TimeSpan latency) => Record(latency.Ticks * 100);

    public void Record(long nanoseconds) => Record(nanoseconds, 1);

    /// <summary>Records <paramref name="count"/> occurrences of a value; negative values count as 0.</summary>
    public void Record(long nanoseconds, long count)
    {
        if (count <= 0) return;
        var value = Math.Clamp(nanoseconds, 0, HighestTrackable);
        _counts.RecordValueWithCount(value, count);
        Interlocked.Add(ref _sum, value * count);
        UpdateMin(value);
        UpdateMax(value);
    }

    /// <summary>Adds <paramref name="other"/>'s counts to this one.</summary>
    public void Merge(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Count == 0) return;
        _counts.Add(other._counts);
        Interlocked.Add(ref _sum, Volatile.Read(ref other._sum));
        UpdateMin(Volatile.Read(ref other._min));
        UpdateMax(other.MaxNanoseconds);
    }

    /// <summary>
    /// The value at percentile <paramref name="percentile"/> (0..100) by nearest rank: the smallest recorded value
    /// with at least that share of values at or below it, as the highest value of its bucket (HdrHistogram's rule),
    /// clamped to the exact min and max. 0 when empty.
    /// </summary>
    public long ValueAtPercentile(double percentile)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(percentile, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100);
        var total = Count;
        if (total == 0) return 0;
        if (percentile >= 100) return MaxNanoseconds;
        // Nearest rank by ceiling, as before (HdrHistogram's GetValueAtPercentile rounds the rank, one sample lower at times).
        var rank = Math.Max(1, (long)Math.Ceiling(percentile / 100.0 * total));
        long seen = 0;
        foreach (var (value, count) in Buckets())
        {
            seen += count;
            if (seen >= rank) return Math.Clamp(value, MinNanoseconds, MaxNanoseconds);
        }
        return MaxNanoseconds;
    }

    public TimeSpan Percentile(double percentile) => TimeSpan.FromTicks(ValueAtPercentile(percentile) / 100);

    /// <summary>The buckets that hold values, as (highest value of the bucket in ns, count), ascending.</summary>
    public IEnumerable<(long Value, long Count)> Buckets()
    {
        foreach (var bucket in _counts.RecordedValues())
            yield return (bucket.ValueIteratedTo, bucket.CountAtValueIteratedTo);
    }

    /// <summary>A compact form for JSON: HdrHistogram's compressed encoding (as in its logs) in base64, plus min, max and sum.</summary>
    public HistogramSnapshot ToSnapshot()
    {
        var buffer = ByteBuffer.Allocate(_counts.GetNeededByteBufferCapacity());
        var bytes = new byte[_counts.EncodeIntoCompressedByteBuffer(buffer)];
        buffer.Position = 0;
        for (var i = 0; i < bytes.Length; i++) bytes[i] = buffer.Get();
        return new HistogramSnapshot(Count, MinNanoseconds, MaxNanoseconds, Volatile.Read(ref _sum), Convert.ToBase64String(bytes));
    }

    /// <summary>Rebuilds a histogram from <see cref="ToSnapshot"/>; rejects an encoding HdrHistogram cannot read.</summary>
    public static LatencyHistogram FromSnapshot(HistogramSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.Hdr is null)
            throw new FormatException("A histogram snapshot needs its HdrHistogram encoding (\"hdr\"); runs recorded before it cannot be read: record them again.");
        HistogramBase decoded;
        try
        {
            decoded = HistogramEncoding.DecodeFromCompressedByteBuffer(ByteBuffer.Allocate(Convert.FromBase64String(snapshot.Hdr)), HighestTrackable);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new FormatException("A histogram snapshot's HdrHistogram encoding cannot be read.", e);
        }
        var histogram = new LatencyHistogram();
        histogram._counts.Add(decoded);
        histogram._sum = snapshot.Sum;
        if (histogram.Count > 0)
        {
            histogram._min = snapshot.Min;
            histogram._max = snapshot.Max;
        }
        return histogram;
    }

    private void UpdateMin(long value)
    {
        var current = Volatile.Read(ref _min);
        while (value < current)
        {
            var seen = Interlocked.CompareExchange(ref _min, value, current);
            if (seen == current) return;
            current = seen;
        }
    }

    private void UpdateMax(long value)
    {
        var current = Volatile.Read(ref _max);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref _max, value, current);
            if (seen == current) return;
            current = seen;
        }
    }
}

/// <summary>A <see cref="LatencyHistogram"/> as stored in run summaries and baselines (nanoseconds); <paramref name="Hdr"/> is HdrHistogram's compressed encoding in base64.</summary>
public sealed record HistogramSnapshot(long Count, long Min, long Max, long Sum, string? Hdr);
