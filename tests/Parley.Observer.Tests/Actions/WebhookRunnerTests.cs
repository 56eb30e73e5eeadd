using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Parley.Observer.Actions;

namespace Parley.Observer.Tests.Actions;

[Trait("Category", "Smoke")]
public sealed class WebhookRunnerTests : ReceiverTest
{
    /// <summary>
    /// The Standard Webhooks check a receiver does, written from the specification and not from the runner's code:
    /// the key is the base64 after <c>whsec_</c>, the signed content is <c>{id}.{timestamp}.{body}</c>, the header holds
    /// space-separated <c>v1,&lt;base64&gt;</c> signatures, compared in constant time; the timestamp is within 5 minutes.
    /// </summary>
    internal static bool Verifies(string secret, IHeaderDictionary headers, byte[] body, DateTimeOffset now)
    {
        string id = headers["webhook-id"].ToString(), timestamp = headers["webhook-timestamp"].ToString();
        if (id.Length == 0 || !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || Math.Abs(now.ToUnixTimeSeconds() - seconds) > 300)
            return false;
        var key = Convert.FromBase64String(secret.Split('_', 2)[1]);
        using var hmac = new HMACSHA256(key);
        var expected = hmac.ComputeHash(Encoding.UTF8.GetBytes(id + "." + timestamp + "." + Encoding.UTF8.GetString(body)));
        foreach (var signature in headers["webhook-signature"].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = signature.Split(',', 2);
            if (parts is ["v1", var value] && CryptographicOperations.FixedTimeEquals(Convert.FromBase64String(value), expected))
                return true;
        }
        return false;
    }

    [Fact]
    public async Task A_webhook_arrives_as_the_event_json_signed_so_an_independent_verifier_accepts_it_and_rejects_a_tampered_body()
    {
        var secret = Work.NewSecret();
        var work = Work.Webhook(Receiver.Url("/hook"), secret);

        var result = await Runners.Webhook.RunAsync(work, CancellationToken.None);
        var request = await Receiver.NextAsync();

        Assert.Equal(ActionOutcome.Succeeded, result.Outcome);
        Assert.Equal(200, result.Status);
        Assert.Equal("/hook", request.Path);
        Assert.Equal("application/json", request.Headers.ContentType.ToString());
        Assert.Equal(work.Event.ToJsonBytes(), request.Body);
        Assert.Equal("0/16B3748.0.big-orders.notify-shop", request.Headers["webhook-id"].ToString());
        Assert.True(Verifies(secret, request.Headers, request.Body, Runners.Time.GetUtcNow()));

        var tampered = (byte[])request.Body.Clone();
        tampered[^2] ^= 1;
        Assert.False(Verifies(secret, request.Headers, tampered, Runners.Time.GetUtcNow()));
        Assert.False(Verifies(Work.NewSecret(), request.Headers, request.Body, Runners.Time.GetUtcNow()));
    }

    [Fact]
    public async Task Every_attempt_of_an_action_carries_the_same_webhook_id_and_a_fresh_timestamp()
    {
        var secret = Work.NewSecret();
        await Runners.Webhook.RunAsync(Work.Webhook(Receiver.Url("/hook"), secret, attempt: 1), CancellationToken.None);
        var first = await Receiver.NextAsync();
        Runners.Time.Advance(TimeSpan.FromSeconds(90));
        await Runners.Webhook.RunAsync(Work.Webhook(Receiver.Url("/hook"), secret, attempt: 2), CancellationToken.None);
        var second = await Receiver.NextAsync();

        Assert.Equal(first.Headers["webhook-id"].ToString(), second.Headers["webhook-id"].ToString());
        Assert.Equal(
            long.Parse(first.Headers["webhook-timestamp"]!, CultureInfo.InvariantCulture) + 90,
            long.Parse(second.Headers["webhook-timestamp"]!, CultureInfo.InvariantCulture));
        Assert.True(Verifies(secret, second.Headers, second.Body, Runners.Time.GetUtcNow()));
    }

    [Fact]
    public async Task Attempts_to_one_endpoint_reuse_one_pooled_connection()
    {
        Receiver.Respond = context => context.Response.WriteAsync("{\"ok\":true}");

        await Runners.Webhook.RunAsync(Work.Webhook(Receiver.Url("/hook"), Work.NewSecret()), CancellationToken.None);
        await Runners.Webhook.RunAsync(Work.Webhook(Receiver.Url("/hook"), Work.NewSecret()), CancellationToken.None);

        Assert.Equal((await Receiver.NextAsync()).ConnectionId, (await Receiver.NextAsync()).ConnectionId);
    }

    [Fact]
    public async Task A_2xx_whose_body_never_ends_still_succeeds_the_status_decides()
    {
        Receiver.Respond = async context =>
        {
            context.Response.ContentLength = 100;
            await context.Response.WriteAsync("{\"partial");
            await context.Response.Body.FlushAsync();
            await Receiver.Hang(context);
        };

        var result = await Runners.Webhook.RunAsync(Work.Webhook(Receiver.Url("/hook"), Work.NewSecret()), CancellationToken.None);

        Assert.Equal(ActionOutcome.Succeeded, result.Outcome);
    }

    [Fact]
    public async Task A_500_is_a_failed_attempt_with_its_status()
    {
        Receiver.Respond = Receiver.Status(500);

        var result = await Runners.Webhook.RunAsync(Work.Webhook(Receiver.Url("/hook"), Work.NewSecret()), CancellationToken.None);

        Assert.Equal(new ActionResult(ActionOutcome.Failed, 500, "HTTP 500"), result);
    }

    [Fact]
    public async Task A_410_means_the_endpoint_is_gone()
    {
        Receiver.Respond = Receiver.Status(410);

        var result = await Runners.Webhook.RunAsync(Work.Webhook(Receiver.Url("/hook"), Work.NewSecret()), CancellationToken.None);

        Assert.Equal(ActionOutcome.Gone, result.Outcome);
        Assert.Equal(410, result.Status);
    }

    [Fact]
    public async Task A_429_with_retry_after_in_seconds_is_a_failed_attempt_that_waits_as_long_as_it_says()
    {
        Receiver.Respond = Receiver.Status(429, response => response.Headers.RetryAfter = "120");

        var result = await Runners.Webhook.RunAsync(Work.Webhook(Receiver.Url("/hook"), Work.NewSecret()), CancellationToken.None);

        Assert.Equal(new ActionResult(ActionOutcome.Failed, 429, "HTTP 429", TimeSpan.FromSeconds(120)), result);
    }

    [Fact]
    public async Task A_503_with_retry_after_as_an_http_date_waits_until_that_date()
    {
        var until = Runners.Time.GetUtcNow().AddMinutes(10);
        Receiver.Respond = Receiver.Status(503, response => response.Headers.RetryAfter = until.ToString("R", CultureInfo.InvariantCulture));

        var result = await Runners.Webhook.RunAsync(Work.Webhook(Receiver.Url("/hook"), Work.NewSecret()), CancellationToken.None);

        Assert.Equal(ActionOutcome.Failed, result.Outcome);
        Assert.Equal(503, result.Status);
        // The header has whole seconds; the clock does not.
        Assert.InRange(result.RetryAfter!.Value, TimeSpan.FromMinutes(10) - TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
    }

    [Fact]
    public async Task AReceiver_slower_than_the_timeout_is_a_failed_attempt_not_an_exception()
    {
        Receiver.Respond = Receiver.Hang;

        var result = await Runners.Webhook.RunAsync(Work.Webhook(Receiver.Url("/hook"), Work.NewSecret(), TimeSpan.FromMilliseconds(200)), CancellationToken.None);

        Assert.Equal(ActionOutcome.Failed, result.Outcome);
        Assert.Null(result.Status);
        Assert.Contains("timed out", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AReceiver_that_is_not_listening_is_a_failed_attempt_not_an_exception()
    {
        var closed = Receiver.BaseUrl;
        await Receiver.DisposeAsync();
        Receiver = await Receiver.StartAsync();

        var result = await Runners.Webhook.RunAsync(Work.Webhook(new Uri(closed, "/hook"), Work.NewSecret()), CancellationToken.None);

        Assert.Equal(ActionOutcome.Failed, result.Outcome);
        Assert.NotNull(result.Error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public async Task A_timeout_that_is_not_positive_fails_the_attempt_without_calling_the_receiver(int seconds)
    {
        var result = await Runners.Webhook.RunAsync(Work.Webhook(Receiver.Url("/hook"), Work.NewSecret(), TimeSpan.FromSeconds(seconds)), CancellationToken.None);

        Assert.Equal(ActionOutcome.Failed, result.Outcome);
        Assert.Equal(0, Receiver.Count);
    }

    [Fact]
    public async Task A_secret_without_the_whsec_prefix_fails_the_attempt_without_calling_theReceiver()
    {
        var result = await Runners.Webhook.RunAsync(Work.Webhook(Receiver.Url("/hook"), "not-a-secret"), CancellationToken.None);

        Assert.Equal(ActionOutcome.Failed, result.Outcome);
        Assert.Contains("secret", result.Error, StringComparison.Ordinal);
        Assert.Equal(0, Receiver.Count);
    }
}
