using Parley.Observer.Actions;

namespace Parley.Observer.Queue;

/// <summary>What becomes of a claimed action after one attempt.</summary>
/// <param name="Status"><c>succeeded</c>, <c>pending</c> (again after <see cref="Delay"/>) or <c>dead</c>.</param>
/// <param name="AttemptsDelta">Added to the row's attempts (-1: the attempt did not count, e.g. an open breaker).</param>
/// <param name="DisableEndpoint">The receiver answered 410: its endpoint waits until enabled again.</param>
public sealed record Decision(string Status, TimeSpan Delay, int AttemptsDelta = 0, string? DeadReason = null, bool DisableEndpoint = false);

/// <summary>
/// The retry schedule (OBSERVER.md, "Webhooks"): the entry for the next attempt with ±20% jitter,
/// never sooner than a <c>Retry-After</c>; after the last entry, the dead-letter queue.
/// </summary>
public static class RetryPolicy
{
    public const string Succeeded = "succeeded";
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Dead = "dead";

    public const string Exhausted = "exhausted";
    public const string TooLarge = "too_large";

    /// <param name="attempt">The attempt just made, 1-based.</param>
    public static Decision Decide(ActionResult result, int attempt, IReadOnlyList<TimeSpan> schedule, bool hasEndpoint, TimeSpan failFastDelay, Random random)
    {
        switch (result.Outcome)
        {
            case ActionOutcome.Succeeded:
                return new(Succeeded, TimeSpan.Zero);
            case ActionOutcome.FailedFast:
                return new(Pending, Max(failFastDelay, result.RetryAfter), AttemptsDelta: -1);
            case ActionOutcome.Gone when hasEndpoint:
                // Waits (without using up its attempts) until the endpoint is enabled again.
                return new(Pending, TimeSpan.Zero, AttemptsDelta: -1, DisableEndpoint: true);
        }
        if (attempt >= schedule.Count) return new(Dead, TimeSpan.Zero, DeadReason: Exhausted);
        return new(Pending, Max(Jitter(schedule[attempt], random), result.RetryAfter));
    }

    /// <summary>±20%, uniformly.</summary>
    public static TimeSpan Jitter(TimeSpan delay, Random random) => delay * (0.8 + 0.4 * random.NextDouble());

    private static TimeSpan Max(TimeSpan a, TimeSpan? b) => b is { } x && x > a ? x : a;
}
