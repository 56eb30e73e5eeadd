using System.Text.Json.Nodes;
using Parley.Server.Tests.Infrastructure;
using Parley.Kit.Load;

namespace Parley.Server.Tests.Realtime;

/// <summary>A <c>since</c> replay reads a bounded part of the stream (Parley:Delivery:ReplayMax*); past it, resync.required.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class ReplayBoundTests(ParleyFixture fixture)
{
    [Fact]
    public async Task A_replay_past_its_entry_bound_says_resync_and_then_delivers_live()
    {
        // 150 entries of someone else's conversation, then one of ours: 151 entries to read, the bound is 100.
        await using var run = await ResumeAfterStrangerTrafficAsync(maxEntries: 100);
        Assert.Contains(run.Resumed.Received, f => WsClient.Type(f) == "resync.required");
        Assert.DoesNotContain(run.Missed, run.Resumed.MessageIds());
        await DeliveredLiveAsync(run.Resumed, await run.Node.Api.SendMessageAsync(run.User, run.Conversation, "live after the resync"));
    }

    [Fact]
    public async Task A_replay_within_its_bounds_sends_only_the_users_events()
    {
        await using var run = await ResumeAfterStrangerTrafficAsync(maxEntries: 1000);
        await run.Resumed.WaitUntilAsync(() => run.Resumed.MessageIds().Contains(run.Missed), TimeSpan.FromSeconds(30), "the replayed message");
        Assert.DoesNotContain(run.Resumed.Received, f => WsClient.Type(f) == "resync.required");
        Assert.All(run.Resumed.Events(), e => Assert.Equal(run.Conversation.ToString(), e["conversationId"]!.GetValue<string>()));
    }

    // A socket resumed from the user's first event after 150 messages of a stranger's conversation and one of the user's.
    private async Task<Run> ResumeAfterStrangerTrafficAsync(int maxEntries)
    {
        var node = await fixture.StartOwnNodeAsync(new Dictionary<string, string?> { ["Parley:Delivery:ReplayMaxEntries"] = maxEntries.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var api = node.Api;
        var (user, conversation, since, watcher) = await FirstEventAsync(api, node);
        var stranger = await api.NewUserAsync("replay");
        var elsewhere = await api.CreateConversationAsync(stranger);
        for (var i = 0; i < 150; i++) await api.SendMessageAsync(stranger, elsewhere, $"not yours {i}");
        var missed = await api.SendMessageAsync(user, conversation, "after the stranger's");
        await DeliveredLiveAsync(watcher, missed);
        var resumed = await WsClient.ConnectAsync(api.Http.BaseAddress!, user.Token, since);
        return new Run(node, watcher, user, conversation, resumed, Guid.Parse(missed["id"]!.GetValue<string>()));
    }

    private sealed record Run(OwnNode Node, WsClient Watcher, ApiUser User, Guid Conversation, WsClient Resumed, Guid Missed) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Resumed.DisposeAsync();
            await Watcher.DisposeAsync();
            await Node.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_replay_past_its_byte_bound_says_resync()
    {
        await using var node = await fixture.StartOwnNodeAsync(new Dictionary<string, string?> { ["Parley:Delivery:ReplayMaxBytes"] = "65536" });
        var api = node.Api;
        var (user, conversation, since, watcher) = await FirstEventAsync(api, node);
        await using var _ = watcher;
        JsonObject last = null!;
        for (var i = 0; i < 3; i++) last = await api.SendMessageAsync(user, conversation, new string((char)('a' + i), 30_000));
        await DeliveredLiveAsync(watcher, last);

        await using var resumed = await WsClient.ConnectAsync(node.Api.Http.BaseAddress!, user.Token, since);
        Assert.Contains(resumed.Received, f => WsClient.Type(f) == "resync.required");
        Assert.True(resumed.MessageIds().Count < 3, "the replay stopped at the byte bound");
    }

    // A user with a conversation, the eventId of its first message, and the live socket that saw it.
    private static async Task<(ApiUser User, Guid Conversation, string Since, WsClient Watcher)> FirstEventAsync(ApiClient api, OwnNode node)
    {
        var user = await api.NewUserAsync("replay");
        var conversation = await api.CreateConversationAsync(user);
        var watcher = await WsClient.ConnectAsync(node.Api.Http.BaseAddress!, user.Token);
        await api.SendMessageAsync(user, conversation, "first");
        await watcher.WaitForMessagesAsync(1);
        return (user, conversation, watcher.Events("message.created")[0]["eventId"]!.GetValue<string>(), watcher);
    }

    // Once the live socket has the message, the node's consumer is past it: a socket opened now gets it only by replay.
    private static Task DeliveredLiveAsync(WsClient watcher, JsonObject message) =>
        watcher.WaitUntilAsync(() => watcher.MessageIds().Contains(Guid.Parse(message["id"]!.GetValue<string>())), TimeSpan.FromSeconds(30), "live delivery");
}
