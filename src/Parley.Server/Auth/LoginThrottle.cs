using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Parley.Server.Auth;

/// <summary>
/// Counts failed logins per handle and per client address in sliding windows. Successful logins
/// cost nothing, so a busy client that knows its passwords is never throttled; guessing is.
/// In-memory per node: N nodes allow N times the budget.
/// </summary>
public sealed class LoginThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> _byHandle;
    private readonly PartitionedRateLimiter<string> _byAddress;

    public LoginThrottle(IOptions<AuthOptions> options)
    {
        var o = options.Value;
        var window = TimeSpan.FromSeconds(o.FailureWindowSeconds);
        _byHandle = Create(o.FailedLoginsPerHandle, window);
        _byAddress = Create(o.FailedLoginsPerAddress, window);
        RetryAfter = window;
    }

    public TimeSpan RetryAfter { get; }

    public bool IsBlocked(string handle, string address) =>
        Exhausted(_byHandle, handle) || Exhausted(_byAddress, address);

    public void RecordFailure(string handle, string address)
    {
        _byHandle.AttemptAcquire(handle).Dispose();
        _byAddress.AttemptAcquire(address).Dispose();
    }

    private static bool Exhausted(PartitionedRateLimiter<string> limiter, string key) =>
        limiter.GetStatistics(key)?.CurrentAvailablePermits <= 0;

    private static PartitionedRateLimiter<string> Create(int permits, TimeSpan window) =>
        PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetSlidingWindowLimiter(key, _ => new SlidingWindowRateLimiterOptions
        {
            PermitLimit = permits,
            Window = window,
            SegmentsPerWindow = 6,
            QueueLimit = 0,
        }));

    public void Dispose()
    {
        _byHandle.Dispose();
        _byAddress.Dispose();
    }
}
