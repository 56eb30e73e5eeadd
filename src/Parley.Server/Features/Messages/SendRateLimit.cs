using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Parley.Server.Auth;
using Parley.Server.Http;

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

/// <summary>
/// ASP.NET Core's rate limiter on <c>POST …/messages</c>, partitioned by the authenticated user. A send
/// over the rate is refused before its body is read: 429 problem+json with <c>Retry-After</c>.
/// </summary>
public static class SendRateLimit
{
    public const string Policy = "send";

    public static IServiceCollection AddSendRateLimit(this IServiceCollection services)
    {
        services.AddOptions<SendRateOptions>().BindConfiguration(SendRateOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<SendRateOptions>>((limiter, rate) =>
        {
            var o = rate.Value;
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = RejectAsync;
            limiter.AddPolicy(Policy, http => RateLimitPartition.GetTokenBucketLimiter(http.User.UserId(), _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = o.Burst,
                TokensPerPeriod = o.TokensPerPeriod,
                ReplenishmentPeriod = o.Period,
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
        });
        return services;
    }

    private static async ValueTask RejectAsync(OnRejectedContext context, CancellationToken ct)
    {
        var http = context.HttpContext;
        var wait = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        await Problems.RefuseAsync(http, StatusCodes.Status429TooManyRequests, ProblemTypes.SendRateLimited, "Too many messages",
            $"This user sends faster than the server allows (Parley:SendRate); retry in {seconds} s.", seconds);
    }
}
