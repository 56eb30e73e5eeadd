using System.Net;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.Features;

/// <summary>The per-user send rate (Parley:SendRate): a token bucket per user, 429 + Retry-After past it.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class SendRateTests(ParleyFixture fixture)
{
    // A bucket of 3 that refills once an hour: the 4th send is over the rate whatever the machine's speed.
    private static readonly Dictionary<string, string?> TightRate = new()
    {
        ["Parley:SendRate:Burst"] = "3",
        ["Parley:SendRate:TokensPerPeriod"] = "1",
        ["Parley:SendRate:Period"] = "01:00:00",
    };

    [Fact]
    public async Task Sends_past_the_burst_are_429_with_retry_after_and_store_nothing()
    {
        await using var node = await fixture.StartOwnNodeAsync(TightRate);
        var api = node.Api;
        var user = await api.NewUserAsync("rate");
        var id = await api.CreateConversationAsync(user);
        for (var i = 0; i < 3; i++) await api.SendMessageAsync(user, id, $"within the burst {i}");

        var refused = await api.PostAsync(user, $"/v1/conversations/{id}/messages", new { body = "one too many" });
        var problem = await ApiClient.AssertProblem(refused, HttpStatusCode.TooManyRequests);
        Assert.Equal("urn:parley:problem:send-rate-limited", problem["type"]!.GetValue<string>());
        var retryAfter = int.Parse(refused.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 3600);
        // Refused before the body is read: even a bad body is a 429, and nothing was stored.
        await ApiClient.AssertProblem(await api.PostAsync(user, $"/v1/conversations/{id}/messages", new { body = "" }), HttpStatusCode.TooManyRequests);
        Assert.Equal(3, (await api.MessageIdsAsync(user, id)).Count);
    }

    [Fact]
    public async Task The_rate_is_per_user_and_covers_only_sends()
    {
        await using var node = await fixture.StartOwnNodeAsync(TightRate);
        var api = node.Api;
        var busy = await api.NewUserAsync("rate");
        var quiet = await api.NewUserAsync("rate");
        var id = await api.CreateConversationAsync(busy, quiet);
        for (var i = 0; i < 3; i++) await api.SendMessageAsync(busy, id, $"busy {i}");
        await ApiClient.AssertProblem(await api.PostAsync(busy, $"/v1/conversations/{id}/messages", new { body = "over" }), HttpStatusCode.TooManyRequests);

        await api.SendMessageAsync(quiet, id, "my own bucket");
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(busy, $"/v1/conversations/{id}/messages")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await api.PostAsync(busy, "/v1/conversations", new { title = "reads and other writes still work", participantIds = Array.Empty<Guid>() })).StatusCode);
    }
}
