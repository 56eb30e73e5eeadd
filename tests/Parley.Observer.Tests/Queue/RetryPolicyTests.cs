using Parley.Observer.Actions;
using Parley.Observer.Queue;
using Parley.Observer.Rules;

namespace Parley.Observer.Tests.Queue;

[Trait("Category", "Smoke")]
public sealed class RetryPolicyTests
{
    private static readonly IReadOnlyList<TimeSpan> Schedule = RuleAction.DefaultRetry;
    private static readonly TimeSpan FailFast = TimeSpan.FromSeconds(5);

    private static Decision Decide(ActionResult result, int attempt, int seed = 1) =>
        RetryPolicy.Decide(result, attempt, Schedule, hasEndpoint: true, FailFast, new Random(seed));

    [Fact]
    public void A_failed_attempt_waits_its_schedule_entry_within_twenty_percent()
    {
        var delays = Enumerable.Range(0, 200).Select(seed => Decide(new ActionResult(ActionOutcome.Failed), attempt: 2, seed).Delay).ToList();

        // After attempt 2 comes the schedule's third entry, 5 minutes.
        Assert.All(delays, d => Assert.InRange(d, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(6)));
        Assert.True(delays.Distinct().Count() > 100, "the delays are jittered");
    }

    [Fact]
    public void Retry_after_is_honoured_when_it_is_later_than_the_schedule()
    {
        var decision = Decide(new ActionResult(ActionOutcome.Failed, 429, RetryAfter: TimeSpan.FromMinutes(1)), attempt: 1);

        Assert.Equal((RetryPolicy.Pending, TimeSpan.FromMinutes(1), 0), (decision.Status, decision.Delay, decision.AttemptsDelta));
    }

    [Fact]
    public void The_last_attempt_s_failure_goes_to_the_dead_letter_queue() =>
        Assert.Equal((RetryPolicy.Dead, RetryPolicy.Exhausted), (Decide(new ActionResult(ActionOutcome.Failed), 8).Status, Decide(new ActionResult(ActionOutcome.Failed), 8).DeadReason));

    [Fact]
    public void Failing_fast_is_retried_soon_and_gives_its_attempt_back() =>
        Assert.Equal((RetryPolicy.Pending, FailFast, -1), Tuple(Decide(new ActionResult(ActionOutcome.FailedFast), 8)));

    [Fact]
    public void Gone_disables_the_endpoint_and_the_action_waits_for_it()
    {
        var decision = Decide(new ActionResult(ActionOutcome.Gone, 410), 1);

        Assert.True(decision.DisableEndpoint);
        Assert.Equal((RetryPolicy.Pending, TimeSpan.Zero, -1), Tuple(decision));
    }

    [Fact]
    public void Success_is_done() => Assert.Equal(RetryPolicy.Succeeded, Decide(ActionResult.Success(204), 3).Status);

    private static (string, TimeSpan, int) Tuple(Decision d) => (d.Status, d.Delay, d.AttemptsDelta);
}
