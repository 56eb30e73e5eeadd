using Parley.Kit.Load.Engine;

namespace Parley.Kit.Tests.Load;

[Trait("Category", "Smoke")]
public sealed class StagePlanTests
{
    [Fact]
    public void A_ramp_interpolates_linearly_and_holds_after_the_end()
    {
        var plan = StagePlan.Parse("10s:100,10s:100,5s:0", start: 0);

        Assert.Equal(TimeSpan.FromSeconds(25), plan.Duration);
        Assert.Equal(50, plan.TargetAt(TimeSpan.FromSeconds(5)), 6);
        Assert.Equal(100, plan.TargetAt(TimeSpan.FromSeconds(15)), 6);
        Assert.Equal(50, plan.TargetAt(TimeSpan.FromSeconds(22.5)), 6);
        Assert.Equal(0, plan.TargetAt(TimeSpan.FromSeconds(99)), 6);
        Assert.Equal(2, plan.StageAt(TimeSpan.FromSeconds(21)));
    }

    [Fact]
    public void Arrivals_are_the_integral_of_the_rate()
    {
        var plan = StagePlan.Parse("10s:100,10s:100", start: 0);

        Assert.Equal(500, plan.ArrivalsBy(TimeSpan.FromSeconds(10)), 6);   // triangle: 10 s × 100/2
        Assert.Equal(1500, plan.ArrivalsBy(TimeSpan.FromSeconds(20)), 6);  // + 10 s × 100
        Assert.Equal(1500, plan.ArrivalsBy(TimeSpan.FromSeconds(30)) - 100 * 10, 6);
    }

    [Fact]
    public void A_constant_rate_schedules_arrivals_evenly()
    {
        var plan = StagePlan.Constant(200, TimeSpan.FromSeconds(10));

        Assert.Equal(0.005, plan.ScheduledTimeOf(0).TotalSeconds, 5);
        Assert.Equal(5.0, plan.ScheduledTimeOf(999).TotalSeconds, 5);
        Assert.Equal(10.0, plan.ScheduledTimeOf(1999).TotalSeconds, 5);
    }

    [Fact]
    public void Scheduled_times_invert_the_arrival_count_on_a_ramp()
    {
        var plan = StagePlan.Parse("10s:1000", start: 0);

        for (var n = 0L; n < 5000; n += 397)
            Assert.Equal(n + 1, plan.ArrivalsBy(plan.ScheduledTimeOf(n)), 2);
    }

    [Theory]
    [InlineData("30s")]
    [InlineData("30s:fast")]
    [InlineData("0s:100")]
    [InlineData("")]
    public void Malformed_stages_are_refused(string text) => Assert.Throws<FormatException>(() => StagePlan.Parse(text));

    [Theory]
    [InlineData("250ms", 0.25)]
    [InlineData("30s", 30)]
    [InlineData("5m", 300)]
    [InlineData("1h", 3600)]
    [InlineData("12", 12)]
    public void Durations_parse_with_units(string text, double seconds) => Assert.Equal(seconds, Durations.Parse(text).TotalSeconds, 6);
}
