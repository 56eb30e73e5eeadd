using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Parley.Data.Conversations;
using Parley.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Parley.Server.Tests.DataLayer;

/// <summary>Local participant sets on every node, dropped through Redis pub/sub when membership changes.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class MembershipCacheTests(ParleyFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task A_removal_through_one_node_is_refused_on_another_node_that_cached_the_set()
    {
        var (nodeB, addressB) = await fixture.StartNodeAsync();
        await using var _ = nodeB;
        using var a = fixture.Client();
        using var b = new ApiClient(new HttpClient { BaseAddress = addressB });
        var cacheB = nodeB.Services.GetRequiredService<MembershipCache>();
        await Eventually.True(() => Task.FromResult(cacheB.Enabled), "node B's membership subscription");

        var owner = await a.NewUserAsync("mc");
        var member = await a.NewUserAsync("mc");
        var id = await a.CreateConversationAsync(owner, member);
        Assert.Equal(HttpStatusCode.OK, (await b.GetAsync(member, $"/v1/conversations/{id}/messages")).StatusCode);
        Assert.True(cacheB.TryGet(id, out var cached) && cached.Roles!.ContainsKey(member.Id), "node B holds the participant set");

        var clock = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.NoContent, (await a.SendAsync(owner, HttpMethod.Delete, $"/v1/conversations/{id}/participants/{member.Id}")).StatusCode);
        await Eventually.True(() => Task.FromResult(!cacheB.TryGet(id, out var __)), "node B to drop the set", TimeSpan.FromSeconds(10));
        output.WriteLine($"propagation to node B observed after {clock.Elapsed.TotalMilliseconds:F1} ms (includes the DELETE round trip)");
        await ApiClient.AssertProblem(await b.GetAsync(member, $"/v1/conversations/{id}/messages"), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Without_its_subscription_a_node_asks_the_primary()
    {
        var cache = fixture.Services.GetRequiredService<MembershipCache>();
        await Eventually.True(() => Task.FromResult(cache.Enabled), "the membership subscription");
        using var api = fixture.Client();
        var owner = await api.NewUserAsync("mc");
        var member = await api.NewUserAsync("mc");
        var id = await api.CreateConversationAsync(owner, member);
        await fixture.Stack.Redis!.StopAsync();
        try
        {
            await Eventually.True(() => Task.FromResult(!cache.Enabled), "local sets to be bypassed while Redis is down");
            Assert.Equal(HttpStatusCode.NoContent, (await api.SendAsync(owner, HttpMethod.Delete, $"/v1/conversations/{id}/participants/{member.Id}")).StatusCode);
            await ApiClient.AssertProblem(await api.GetAsync(member, $"/v1/conversations/{id}/messages"), HttpStatusCode.Forbidden);
        }
        finally
        {
            await fixture.Stack.Redis!.StartAsync();
        }
        await Eventually.True(() => Task.FromResult(cache.Enabled), "local sets to be used again", TimeSpan.FromSeconds(30));
    }
}
