using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Parley.Observer.Actions;
using Parley.Server.Observability;

namespace Parley.Observer.Tests.Actions;

[Trait("Category", "Smoke")]
public sealed class EndpointBreakerTests() : ReceiverTest(new BreakerOptions { MinimumThroughput = 2, FailureRatio = 0.5, BreakDuration = TimeSpan.FromSeconds(30) })
{
    // Short for the calls to a hanging receiver; long for the others, which must not time out on a loaded machine.
    private static readonly TimeSpan HangTimeout = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    // Each call has its own webhook-id, so a test asks whether that call reached the receiver instead of counting
    // requests: a timed-out attempt's request may arrive late, after the count was taken.
    private ActionWork WorkFor(string path, TimeSpan? timeout = null) =>
        Work.Webhook(Receiver.Url(path), Work.NewSecret(), timeout ?? Timeout, e: Work.Event(Guid.NewGuid().ToString("N")));

    private Task<ActionResult> RunAsync(ActionWork work) => Runners.Webhook.RunAsync(work, CancellationToken.None);

    private Task<ActionResult> CallAsync(string path, TimeSpan? timeout = null) => RunAsync(WorkFor(path, timeout));

    /// <summary>An attempt held back by an open breaker is never sent, so it can never arrive, late or not.</summary>
    private void AssertNeverSent(ActionWork work) =>
        Assert.DoesNotContain(Receiver.All, request => request.Headers["webhook-id"] == work.WebhookId);

    private BreakerState StateOf(string path) => Runners.Breakers.States()[EndpointBreakers.EndpointOf(Receiver.Url(path))];

    [Fact]
    public async Task An_endpoint_that_answers_in_100_s_times_out_then_fails_fast_while_open_is_probed_half_open_and_closes_when_it_recovers()
    {
        Receiver.Respond = Receiver.Hang;

        Assert.Equal(ActionOutcome.Failed, (await CallAsync("/slow", HangTimeout)).Outcome);
        Assert.Equal(ActionOutcome.Failed, (await CallAsync("/slow", HangTimeout)).Outcome);
        Assert.Equal(BreakerState.Open, StateOf("/slow"));

        var held = WorkFor("/slow");
        var fast = await RunAsync(held);
        Assert.Equal(ActionOutcome.FailedFast, fast.Outcome);
        Assert.NotNull(fast.RetryAfter);
        AssertNeverSent(held);

        Runners.Time.Advance(TimeSpan.FromSeconds(31));
        Receiver.Respond = Receiver.Status(204);
        Assert.Equal(ActionOutcome.Succeeded, (await CallAsync("/slow")).Outcome); // The half-open probe reached the receiver.
        Assert.Equal(BreakerState.Closed, StateOf("/slow"));
        Assert.Equal(ActionOutcome.Succeeded, (await CallAsync("/slow")).Outcome);
    }

    [Fact]
    public async Task A_failed_half_open_probe_opens_the_breaker_again()
    {
        Receiver.Respond = Receiver.Status(500);
        Assert.Equal(ActionOutcome.Failed, (await CallAsync("/flaky")).Outcome);
        Assert.Equal(ActionOutcome.Failed, (await CallAsync("/flaky")).Outcome);
        Runners.Time.Advance(TimeSpan.FromSeconds(31));

        var probe = await CallAsync("/flaky");
        Assert.Equal(ActionOutcome.Failed, probe.Outcome);
        Assert.Equal(500, probe.Status); // The probe reached the receiver, and the receiver's answer failed it.
        Assert.Equal(BreakerState.Open, StateOf("/flaky"));
        var held = WorkFor("/flaky");
        Assert.Equal(ActionOutcome.FailedFast, (await RunAsync(held)).Outcome);
        AssertNeverSent(held);
    }

    [Fact]
    public async Task While_the_half_open_probe_is_in_flight_every_other_attempt_fails_fast()
    {
        Receiver.Respond = Receiver.Status(500);
        await CallAsync("/probe");
        await CallAsync("/probe");
        Runners.Time.Advance(TimeSpan.FromSeconds(31));
        using var release = new CancellationTokenSource();
        Receiver.Respond = context => Task.Delay(Timeout, release.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        var probe = CallAsync("/probe");
        for (var i = 0; i < 3; i++)
            await Receiver.NextAsync(); // The two failures, then the probe: it is at the receiver now.

        var others = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => CallAsync("/probe")));
        release.Cancel();

        Assert.All(others, result => Assert.Equal(ActionOutcome.FailedFast, result.Outcome));
        Assert.Equal(ActionOutcome.Succeeded, (await probe).Outcome);
        Assert.Equal(BreakerState.Closed, StateOf("/probe"));
    }

    [Fact]
    public async Task An_open_breaker_holds_back_only_its_own_endpoint()
    {
        Receiver.Respond = context => context.Request.Path == "/broken" ? Receiver.Hang(context) : Task.CompletedTask;
        Assert.Equal(ActionOutcome.Failed, (await CallAsync("/broken", HangTimeout)).Outcome);
        Assert.Equal(ActionOutcome.Failed, (await CallAsync("/broken", HangTimeout)).Outcome);

        var held = WorkFor("/broken");
        Assert.Equal(ActionOutcome.FailedFast, (await RunAsync(held)).Outcome);
        AssertNeverSent(held);
        Assert.Equal(ActionOutcome.Succeeded, (await CallAsync("/fine")).Outcome);
        Assert.Equal(BreakerState.Closed, StateOf("/fine"));
    }

    [Fact]
    public async Task Gone_answers_do_not_open_the_breaker()
    {
        Receiver.Respond = Receiver.Status(410);
        for (var i = 0; i < 3; i++)
            Assert.Equal(ActionOutcome.Gone, (await CallAsync("/gone")).Outcome);

        Assert.Equal(BreakerState.Closed, StateOf("/gone"));
    }

    [Fact]
    public async Task The_breaker_state_is_exported_as_observer_breaker_state_per_endpoint()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddPrometheusExporter([EndpointBreakers.MeterName]);
        await using var app = builder.Build();
        app.MapPrometheusMetrics();
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        Receiver.Respond = Receiver.Status(500);
        await CallAsync("/metered");
        await CallAsync("/metered");

        var endpoint = EndpointBreakers.EndpointOf(Receiver.Url("/metered"));
        var lines = (await http.GetStringAsync("/metrics")).Split('\n');

        Assert.Contains("# TYPE observer_breaker_state gauge", lines);
        Assert.Contains($"observer_breaker_state{{endpoint=\"{endpoint}\"}} 1", lines);
    }

    [Fact]
    public void The_endpoint_key_is_scheme_host_port_and_path_without_the_query()
    {
        Assert.Equal("http://example.test:80/a/b", EndpointBreakers.EndpointOf(new Uri("http://Example.TEST/a/b?x=1#f")));
        Assert.Equal("https://127.0.0.1:8443/", EndpointBreakers.EndpointOf(new Uri("https://user:pw@127.0.0.1:8443")));
    }
}
