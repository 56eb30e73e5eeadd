using System.ComponentModel.DataAnnotations;

namespace Parley.Observer.Actions;

/// <summary>
/// The per-endpoint circuit breakers of webhook and Slack actions (per URL) and email actions (per SMTP server), bound from <c>Parley:Observer:Breaker</c>.
/// An endpoint opens when, within <see cref="SamplingDuration"/>, at least <see cref="MinimumThroughput"/> attempts
/// were made and at least <see cref="FailureRatio"/> of them failed or timed out; after <see cref="BreakDuration"/>
/// one probe goes through (half-open) and its success closes the breaker.
/// </summary>
public sealed class BreakerOptions
{
    public const string Section = "Parley:Observer:Breaker";

    /// <summary>Share of failed attempts that opens the breaker. Default 0.5.</summary>
    [Range(0.01, 1.0)]
    public double FailureRatio { get; set; } = 0.5;

    /// <summary>Attempts within the sampling window before the ratio counts (Polly's minimum is 2). Default 3.</summary>
    [Range(2, 10_000)]
    public int MinimumThroughput { get; set; } = 3;

    /// <summary>The window over which failures are counted. Default 30 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.5", "1.00:00:00")]
    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an open breaker fails attempts fast before its half-open probe. Default 30 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.5", "1.00:00:00")]
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);
}
