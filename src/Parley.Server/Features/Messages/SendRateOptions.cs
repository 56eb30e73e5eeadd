using System.ComponentModel.DataAnnotations;

namespace Parley.Server.Features.Messages;

/// <summary>
/// The per-user send rate, bound from <c>Parley:SendRate</c>: a token bucket per user and node
/// (N nodes allow N times the rate). The defaults sit well above what the load kit asks of one user
/// (the send scenario at its 2,500 req/s target spreads over 20 users: 125/s each).
/// </summary>
public sealed class SendRateOptions
{
    public const string Section = "Parley:SendRate";

    /// <summary>Sends a user may make at once before the rate applies (the bucket). Default 400.</summary>
    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 400;

    /// <summary>Sends given back every <see cref="Period"/>. Default 20 (with 100 ms: 200 sends per second).</summary>
    [Range(1, 1_000_000)]
    public int TokensPerPeriod { get; set; } = 20;

    /// <summary>Refill period. Default 100 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan Period { get; set; } = TimeSpan.FromMilliseconds(100);
}
