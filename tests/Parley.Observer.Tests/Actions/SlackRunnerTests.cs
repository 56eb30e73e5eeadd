using System.Text.Json.Nodes;
using Parley.Observer.Actions;

namespace Parley.Observer.Tests.Actions;

[Trait("Category", "Smoke")]
public sealed class SlackRunnerTests : ReceiverTest
{
    private ActionWork Slack(string text, TimeSpan? timeout = null) =>
        new(Work.Event(), "big-orders", "chat-ops", new SlackSpec(Receiver.Url("/slack"), text, timeout ?? TimeSpan.FromSeconds(5)), 1);

    [Fact]
    public async Task A_slack_action_posts_only_the_rendered_text_as_json()
    {
        var result = await Runners.Slack.RunAsync(Slack("New order 42 \"ünï\""), CancellationToken.None);
        var request = await Receiver.NextAsync();

        Assert.Equal(ActionOutcome.Succeeded, result.Outcome);
        Assert.Equal("application/json", request.Headers.ContentType.ToString());
        var body = JsonNode.Parse(request.Body)!.AsObject();
        Assert.Equal(["text"], body.Select(p => p.Key));
        Assert.Equal("New order 42 \"ünï\"", (string)body["text"]!);
        Assert.False(request.Headers.ContainsKey("webhook-signature"));
    }

    [Fact]
    public async Task A_slow_slack_endpoint_times_out_and_opens_its_breaker_like_a_webhook()
    {
        Receiver.Respond = Receiver.Hang;
        for (var i = 0; i < new BreakerOptions().MinimumThroughput; i++)
            Assert.Equal(ActionOutcome.Failed, (await Runners.Slack.RunAsync(Slack("x", TimeSpan.FromMilliseconds(200)), CancellationToken.None)).Outcome);

        Assert.Equal(ActionOutcome.FailedFast, (await Runners.Slack.RunAsync(Slack("x"), CancellationToken.None)).Outcome);
    }
}
