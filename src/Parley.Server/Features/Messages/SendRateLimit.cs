using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Parley.Server.Auth;
using Parley.Server.Http;

namespace Parley.Server.Features.Messages;

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
