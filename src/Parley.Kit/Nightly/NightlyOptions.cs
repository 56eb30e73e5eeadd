namespace Parley.Kit.Nightly;

/// <summary>How a night runs. Defaults are seed 002's full durations.</summary>
public sealed record NightlyOptions
{
    /// <summary>Environment variable that sets <see cref="Scale"/> when the command line does not (the test tiers read it).</summary>
    public const string ScaleVariable = "PARLEY_NIGHTLY_SCALE";

    /// <summary>The shortest a scaled load test runs.</summary>
    public static readonly TimeSpan MinimumDuration = TimeSpan.FromSeconds(10);

    /// <summary>Factor on the load tests' seed durations (1 = 30 min soak; 0.02 ≈ 36 s). Chaos scenarios keep their own fixed timelines. Default 1.</summary>
    public double Scale { get; init; } = 1;

    /// <summary>Minutes the whole night may take; when the plan at <see cref="Scale"/> is longer, the load tests are shortened further to fit. Default: none.</summary>
    public double? BudgetMinutes { get; init; }

    /// <summary>The run's report directory (report.html, summary.json, a folder per load test).</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Where <c>parley baseline</c> keeps load summaries (default &lt;repo&gt;/bench/baselines); the night's own history is under its <c>nightly/</c>.</summary>
    public required string BaselineDirectory { get; init; }

    /// <summary>Only these seed test numbers (default: all 15).</summary>
    public IReadOnlySet<int>? Only { get; init; }

    public IProgress<string>? Progress { get; init; }

    /// <summary>The scale from <see cref="ScaleVariable"/>, else <paramref name="fallback"/>.</summary>
    public static double ScaleFromEnvironment(double fallback = 1) =>
        double.TryParse(Environment.GetEnvironmentVariable(ScaleVariable), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0 ? s : fallback;
}
