using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Parley.Data.Flags;
using Parley.Server.Caching;
using Parley.Server.Tests.Infrastructure;
using Parley.Kit.Load;

namespace Parley.Server.Tests.DataLayer;

/// <summary>Seed 000's "Cache Validity and Invalidation", against the real Redis.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class CacheTests(ParleyFixture fixture) : IAsyncLifetime
{
    private readonly ApiClient _api = fixture.Client();
    private ApiUser _admin = null!;

    public async Task InitializeAsync()
    {
        _admin = await fixture.AdminAsync(_api);
        await SetFlag(FlagNames.HistoryCache, true);
        await SetFlag(FlagNames.ListCache, true);
    }

    public async Task DisposeAsync()
    {
        await SetFlag(FlagNames.HistoryCache, false);
        await SetFlag(FlagNames.ListCache, false);
        _api.Dispose();
    }

    private async Task SetFlag(string name, bool enabled) =>
        Assert.Equal(HttpStatusCode.OK, (await _api.SendAsync(_admin, HttpMethod.Put, $"/v1/admin/flags/{name}", new { enabled, percentage = 100 })).StatusCode);

    private Task<double> Hits() => MetricsScrape.ValueAsync(_api.Http, "parley_cache_requests_total", "result=\"hit\"");

    private async Task<List<string>> Bodies(ApiUser user, Guid id, int limit = 50)
    {
        var response = await _api.GetAsync(user, $"/v1/conversations/{id}/messages?limit={limit}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await ApiClient.Json(response))["items"]!.AsArray().Select(i => i!["body"]!.GetValue<string>()).ToList();
    }

    [Fact]
    public async Task The_second_read_is_a_hit_with_the_same_answer()
    {
        var user = await _api.NewUserAsync("ca");
        var id = await _api.CreateConversationAsync(user);
        await _api.SendMessageAsync(user, id, "cached");
        var first = await Bodies(user, id);
        var hits = await Hits();
        Assert.Equal(first, await Bodies(user, id));
        Assert.Equal(hits + 1, await Hits());
    }

    [Fact]
    public async Task A_cached_read_reports_the_server_s_time_and_the_cache_s_part_of_it_in_server_timing()
    {
        var user = await _api.NewUserAsync("ca");
        var id = await _api.CreateConversationAsync(user);
        var response = await _api.GetAsync(user, $"/v1/conversations/{id}/messages");
        var metrics = string.Join(",", response.Headers.GetValues("Server-Timing")).Split(',', StringSplitOptions.TrimEntries)
            .Select(m => m.Split(";dur=")).ToDictionary(p => p[0], p => double.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(["app", "cache"], metrics.Keys.Order());
        Assert.True(metrics["cache"] > 0, "the lookup and the fill wait on Redis");
        Assert.True(metrics["app"] >= metrics["cache"], "the cache's time is part of the request's");
    }

    [Fact]
    public async Task A_write_is_visible_on_the_next_read_for_every_cached_page_of_the_conversation()
    {
        var owner = await _api.NewUserAsync("ca");
        var member = await _api.NewUserAsync("ca");
        var id = await _api.CreateConversationAsync(owner, member);
        await _api.SendMessageAsync(owner, id, "one");
        await Bodies(member, id, 10);
        await Bodies(member, id, 20); // two entries of one conversation
        await _api.SendMessageAsync(owner, id, "two");
        Assert.Equal(["two", "one"], await Bodies(member, id, 10));
        Assert.Equal(["two", "one"], await Bodies(member, id, 20));
    }

    [Fact]
    public async Task Cached_lists_show_new_messages_and_unread_counts_at_once()
    {
        var me = await _api.NewUserAsync("ca");
        var friend = await _api.NewUserAsync("ca");
        var id = await _api.CreateConversationAsync(friend, me);
        var list = await ApiClient.Json(await _api.GetAsync(me, "/v1/conversations"));
        Assert.Equal(0, list["items"]![0]!["unreadCount"]!.GetValue<long>());
        var sent = await _api.SendMessageAsync(friend, id, "ping");
        list = await ApiClient.Json(await _api.GetAsync(me, "/v1/conversations"));
        Assert.Equal(1, list["items"]![0]!["unreadCount"]!.GetValue<long>());
        Assert.Equal("ping", list["items"]![0]!["lastMessage"]!["body"]!.GetValue<string>());
        await _api.PostAsync(me, $"/v1/conversations/{id}/read", new { messageId = sent["id"]!.GetValue<string>() });
        list = await ApiClient.Json(await _api.GetAsync(me, "/v1/conversations"));
        Assert.Equal(0, list["items"]![0]!["unreadCount"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_removed_participant_cannot_read_the_cached_history()
    {
        var owner = await _api.NewUserAsync("ca");
        var member = await _api.NewUserAsync("ca");
        var id = await _api.CreateConversationAsync(owner, member);
        await _api.SendMessageAsync(owner, id, "secret");
        await Bodies(member, id);
        var hits = await Hits();
        Assert.Equal(["secret"], await Bodies(member, id));
        Assert.Equal(hits + 1, await Hits()); // the member was served from the cache
        Assert.Equal(HttpStatusCode.NoContent, (await _api.SendAsync(owner, HttpMethod.Delete, $"/v1/conversations/{id}/participants/{member.Id}")).StatusCode);
        // The owner's reads cache the page again: the removed member's read finds it cached and is still refused.
        await Bodies(owner, id);
        hits = await Hits();
        Assert.Equal(["secret"], await Bodies(owner, id));
        Assert.Equal(hits + 1, await Hits());
        await ApiClient.AssertProblem(await _api.GetAsync(member, $"/v1/conversations/{id}/messages"), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task With_redis_stopped_answers_come_from_the_database_and_caching_resumes_after()
    {
        var owner = await _api.NewUserAsync("ca");
        var id = await _api.CreateConversationAsync(owner);
        await _api.SendMessageAsync(owner, id, "before");
        await Bodies(owner, id);
        await fixture.Stack.Redis!.StopAsync();
        try
        {
            await _api.SendMessageAsync(owner, id, "during");
            for (var i = 0; i < 10; i++) Assert.Equal(["during", "before"], await Bodies(owner, id));
            await Eventually.True(async () => (await ApiClient.Json(await _api.Http.GetAsync("/health/ready")))["status"]!.GetValue<string>() == "Degraded",
                "readiness to show Redis gone");
        }
        finally
        {
            await fixture.Stack.Redis!.StartAsync();
        }
        var cache = fixture.Services.GetRequiredService<ReadCache>();
        await Eventually.True(() => Task.FromResult(cache.Available), "the cache to be used again", TimeSpan.FromSeconds(30));
        await _api.SendMessageAsync(owner, id, "after");
        await Bodies(owner, id);
        var hits = await Hits();
        Assert.Equal(["after", "during", "before"], await Bodies(owner, id));
        Assert.Equal(hits + 1, await Hits());
    }
}
