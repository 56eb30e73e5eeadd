using Microsoft.Extensions.Options;

namespace Parley.Server.Auth;

/// <summary>
/// Failed-login budgets per handle and per client address over a window. A guess reserves a slot in
/// both budgets <em>before</em> its password hash runs, so N parallel guesses can check at most the
/// budget: a reservation counts like a failure until its outcome is known. A success hands the slot
/// back, so a client that knows its password is never throttled; a failure keeps it for the window.
/// Own code, not <c>System.Threading.RateLimiting</c>: its window limiters cannot return a permit, so
/// every success would be charged like a guess. In-memory per node: N nodes allow N times the budget.
/// </summary>
public sealed class LoginThrottle(IOptions<AuthOptions> options, TimeProvider time)
{
    // Entries whose window passed are dropped on a sweep at most this often, bounding memory by the
    // number of keys that failed within one window plus this interval.
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(30);

    private readonly AuthOptions _options = options.Value;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Budget> _byHandle = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Budget> _byAddress = new(StringComparer.Ordinal);
    private DateTimeOffset _nextSweep = DateTimeOffset.MinValue;

    private TimeSpan Window => TimeSpan.FromSeconds(_options.FailureWindowSeconds);

    /// <summary>
    /// Reserves a guess for <paramref name="handle"/> from <paramref name="address"/>; null when either
    /// budget is spent (answer 429 with <paramref name="retryAfter"/>). Dispose the attempt after
    /// calling <see cref="Attempt.Refund"/> when the guess was right or never checked; otherwise it counts as a failure.
    /// </summary>
    public Attempt? TryBegin(string handle, string address, out TimeSpan retryAfter)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (now >= _nextSweep)
            {
                Sweep(_byHandle, now);
                Sweep(_byAddress, now);
                _nextSweep = now + SweepInterval;
            }
            var byHandle = Get(_byHandle, handle);
            var byAddress = Get(_byAddress, address);
            var handleWait = byHandle.Wait(now, Window, _options.FailedLoginsPerHandle);
            var addressWait = byAddress.Wait(now, Window, _options.FailedLoginsPerAddress);
            if (handleWait is not null || addressWait is not null)
            {
                retryAfter = Max(handleWait ?? TimeSpan.Zero, addressWait ?? TimeSpan.Zero);
                return null;
            }
            byHandle.InFlight++;
            byAddress.InFlight++;
            retryAfter = TimeSpan.Zero;
            return new Attempt(this, byHandle, byAddress);
        }
    }

    private void Finish(Budget byHandle, Budget byAddress, bool failed)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            byHandle.InFlight--;
            byAddress.InFlight--;
            if (!failed) return;
            byHandle.Failures.Enqueue(now);
            byAddress.Failures.Enqueue(now);
        }
    }

    private static Budget Get(Dictionary<string, Budget> budgets, string key)
    {
        if (!budgets.TryGetValue(key, out var budget)) budgets[key] = budget = new Budget();
        return budget;
    }

    private void Sweep(Dictionary<string, Budget> budgets, DateTimeOffset now)
    {
        foreach (var (key, budget) in budgets)
        {
            budget.Expire(now, Window);
            if (budget.InFlight == 0 && budget.Failures.Count == 0) budgets.Remove(key);
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    internal sealed class Budget
    {
        public Queue<DateTimeOffset> Failures { get; } = new();

        public int InFlight { get; set; }

        public void Expire(DateTimeOffset now, TimeSpan window)
        {
            while (Failures.TryPeek(out var oldest) && oldest + window <= now) Failures.Dequeue();
        }

        /// <summary>Null when a guess fits; otherwise how long until one may (at least a second: in-flight guesses end soon).</summary>
        public TimeSpan? Wait(DateTimeOffset now, TimeSpan window, int limit)
        {
            Expire(now, window);
            if (Failures.Count + InFlight < limit) return null;
            var untilOldest = Failures.TryPeek(out var oldest) && Failures.Count >= limit ? oldest + window - now : TimeSpan.Zero;
            return untilOldest > TimeSpan.FromSeconds(1) ? untilOldest : TimeSpan.FromSeconds(1);
        }
    }

    /// <summary>One reserved guess. Its outcome decides whether the slot is returned.</summary>
    public sealed class Attempt : IDisposable
    {
        private readonly LoginThrottle _owner;
        private readonly Budget _byHandle;
        private readonly Budget _byAddress;
        private bool _failed = true;
        private bool _done;

        internal Attempt(LoginThrottle owner, Budget byHandle, Budget byAddress)
        {
            _owner = owner;
            _byHandle = byHandle;
            _byAddress = byAddress;
        }

        /// <summary>The password was right, or none was checked (the hash queue was full): the slot goes back.</summary>
        public void Refund() => _failed = false;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _owner.Finish(_byHandle, _byAddress, _failed);
        }
    }
}
