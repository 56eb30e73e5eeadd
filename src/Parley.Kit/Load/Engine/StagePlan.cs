using System.Globalization;

namespace Parley.Kit.Load.Engine;

/// <summary>One step of a load profile: move linearly to <paramref name="Target"/> (requests/s or connections) over <paramref name="Duration"/>.</summary>
public sealed record Stage(TimeSpan Duration, double Target);

/// <summary>
/// A piecewise-linear target over time (k6's stages): starts at <see cref="Start"/>, then each stage ramps linearly to
/// its target; a stage whose target equals the previous one holds it. Pure, so the arithmetic is unit-tested.
/// </summary>
public sealed class StagePlan
{
    public StagePlan(double start, IReadOnlyList<Stage> stages)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        if (stages.Count == 0) throw new ArgumentException("A plan needs at least one stage.", nameof(stages));
        foreach (var stage in stages)
        {
            if (stage.Duration <= TimeSpan.Zero) throw new ArgumentException("Every stage needs a positive duration.", nameof(stages));
            ArgumentOutOfRangeException.ThrowIfNegative(stage.Target);
        }
        Start = start;
        Stages = stages;
        Duration = TimeSpan.FromTicks(stages.Sum(s => s.Duration.Ticks));
    }

    public double Start { get; }

    public IReadOnlyList<Stage> Stages { get; }

    public TimeSpan Duration { get; }

    public double Peak => Math.Max(Start, Stages.Max(s => s.Target));

    /// <summary>A constant target for <paramref name="duration"/>.</summary>
    public static StagePlan Constant(double target, TimeSpan duration) => new(target, [new Stage(duration, target)]);

    /// <summary>The target at <paramref name="elapsed"/> (the last target after the end).</summary>
    public double TargetAt(TimeSpan elapsed)
    {
        var from = Start;
        var t = elapsed.TotalSeconds;
        foreach (var stage in Stages)
        {
            var d = stage.Duration.TotalSeconds;
            if (t < d) return from + (stage.Target - from) * (t / d);
            t -= d;
            from = stage.Target;
        }
        return from;
    }

    /// <summary>The stage (0-based) running at <paramref name="elapsed"/>.</summary>
    public int StageAt(TimeSpan elapsed)
    {
        var t = elapsed;
        for (var i = 0; i < Stages.Count; i++)
        {
            if (t < Stages[i].Duration) return i;
            t -= Stages[i].Duration;
        }
        return Stages.Count - 1;
    }

    /// <summary>For a rate plan: how many arrivals are due by <paramref name="elapsed"/> (the integral of the rate).</summary>
    public double ArrivalsBy(TimeSpan elapsed)
    {
        var from = Start;
        var t = Math.Max(0, elapsed.TotalSeconds);
        var total = 0.0;
        foreach (var stage in Stages)
        {
            var d = stage.Duration.TotalSeconds;
            var span = Math.Min(t, d);
            var end = from + (stage.Target - from) * (span / d);
            total += (from + end) / 2 * span;
            t -= span;
            if (t <= 0) return total;
            from = stage.Target;
        }
        return total + from * t;
    }

    /// <summary>For a rate plan: when arrival number <paramref name="n"/> (0-based) is scheduled, the inverse of <see cref="ArrivalsBy"/>.</summary>
    public TimeSpan ScheduledTimeOf(long n)
    {
        // Arrival n is due once n + 1 arrivals fit: the first at 1/rate, as a constant-rate clock would.
        var wanted = n + 1.0;
        double low = 0, high = Math.Max(Duration.TotalSeconds, 1);
        while (ArrivalsBy(TimeSpan.FromSeconds(high)) < wanted)
        {
            if (high > 1e7) return TimeSpan.MaxValue;
            high *= 2;
        }
        for (var i = 0; i < 64 && high - low > 1e-7; i++)
        {
            var mid = (low + high) / 2;
            if (ArrivalsBy(TimeSpan.FromSeconds(mid)) >= wanted) high = mid; else low = mid;
        }
        return TimeSpan.FromSeconds(high);
    }

    /// <summary>
    /// Parses <c>30s:100,1m:500,2m:500</c> (each <c>duration:target</c>); durations take ms, s, m or h.
    /// Throws <see cref="FormatException"/> naming the bad part.
    /// </summary>
    public static StagePlan Parse(string text, double start = 0)
    {
        var stages = new List<Stage>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pieces = part.Split(':');
            if (pieces.Length != 2 || !Durations.TryParse(pieces[0], out var duration) || duration <= TimeSpan.Zero
                || !double.TryParse(pieces[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var target) || target < 0)
                throw new FormatException($"'{part}' is not a stage: write duration:target, e.g. 30s:100 or 1m:5000.");
            stages.Add(new Stage(duration, target));
        }
        if (stages.Count == 0) throw new FormatException("No stages given: write e.g. 30s:100,1m:500.");
        return new StagePlan(start, stages);
    }
}

/// <summary>Durations as people type them: <c>250ms</c>, <c>30s</c>, <c>5m</c>, <c>1h</c>, or plain seconds.</summary>
public static class Durations
{
    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = default;
        text = text.Trim();
        (string suffix, double scale)[] units = [("ms", 0.001), ("us", 1e-6), ("µs", 1e-6), ("s", 1), ("m", 60), ("h", 3600)];
        var scale = 1.0;
        foreach (var (suffix, factor) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                text = text[..^suffix.Length];
                scale = factor;
                break;
            }
        }
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || double.IsInfinity(value))
            return false;
        duration = TimeSpan.FromSeconds(value * scale);
        return true;
    }

    public static TimeSpan Parse(string text) =>
        TryParse(text, out var duration) ? duration : throw new FormatException($"'{text}' is not a duration: write e.g. 500ms, 30s, 5m.");

    /// <summary>A latency for people: <c>850 µs</c>, <c>14.2 ms</c>, <c>1.53 s</c>.</summary>
    public static string Format(double nanoseconds) => nanoseconds switch
    {
        < 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{nanoseconds / 1_000:0} µs"),
        < 1_000_000_000 => string.Create(CultureInfo.InvariantCulture, $"{nanoseconds / 1_000_000:0.0} ms"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{nanoseconds / 1_000_000_000:0.00} s"),
    };
}
