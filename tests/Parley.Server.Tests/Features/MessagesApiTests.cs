using System.Net;
using System.Text;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.Features;

[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class MessagesApiTests(ParleyFixture fixture)
{
    [Fact]
    public async Task Send_stores_the_message_and_history_returns_it()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(owner);
        var sent = await api.SendMessageAsync(owner, id, "hello", "c-1");
        Assert.Equal(owner.Id.ToString(), sent["senderId"]!.GetValue<string>());
        Assert.Equal(id.ToString(), sent["conversationId"]!.GetValue<string>());
        Assert.Equal("c-1", sent["clientMessageId"]!.GetValue<string>());
        var history = await ApiClient.Json(await api.GetAsync(owner, $"/v1/conversations/{id}/messages"));
        Assert.Equal(sent.ToJsonString(), history["items"]![0]!.ToJsonString());
        Assert.Null(history["nextCursor"]);
    }

    [Fact]
    public async Task The_same_client_message_id_replays_the_original()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(owner);
        var first = await api.SendMessageAsync(owner, id, "once", "idem-1");
        var again = await api.PostAsync(owner, $"/v1/conversations/{id}/messages", new { body = "once", clientMessageId = "idem-1" });
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal("true", again.Headers.GetValues("Idempotent-Replay").Single());
        Assert.Equal(first.ToJsonString(), (await ApiClient.Json(again)).ToJsonString());
        var history = await ApiClient.Json(await api.GetAsync(owner, $"/v1/conversations/{id}/messages"));
        Assert.Single(history["items"]!.AsArray());
    }

    [Fact]
    public async Task Concurrent_retries_with_one_client_message_id_store_one_message()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(owner);
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            api.PostAsync(owner, $"/v1/conversations/{id}/messages", new { body = "race", clientMessageId = "race-1" })));
        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"got {(int)r.StatusCode}"));
        var ids = await Task.WhenAll(responses.Select(async r => (await ApiClient.Json(r))["id"]!.GetValue<string>()));
        Assert.Single(ids.Distinct());
    }

    [Fact]
    public async Task A_64_KiB_body_is_accepted_byte_identical_and_one_byte_more_is_413()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(owner);
        // Multi-byte characters exercise the UTF-8 count, not the char count.
        var body = string.Concat(Enumerable.Repeat("é", 65_536 / 2));
        Assert.Equal(65_536, Encoding.UTF8.GetByteCount(body));
        var sent = await api.SendMessageAsync(owner, id, body);
        var history = await ApiClient.Json(await api.GetAsync(owner, $"/v1/conversations/{id}/messages"));
        Assert.Equal(body, history["items"]![0]!["body"]!.GetValue<string>());
        Assert.Equal(sent["id"]!.GetValue<string>(), history["items"]![0]!["id"]!.GetValue<string>());

        await ApiClient.AssertProblem(await api.PostAsync(owner, $"/v1/conversations/{id}/messages", new { body = body + "x" }), HttpStatusCode.RequestEntityTooLarge);
        history = await ApiClient.Json(await api.GetAsync(owner, $"/v1/conversations/{id}/messages"));
        Assert.Single(history["items"]!.AsArray());
    }

    [Fact]
    public async Task The_read_marker_never_moves_back()
    {
        using var api = fixture.Client();
        var me = await api.NewUserAsync();
        var friend = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(me, friend);
        var first = await api.SendMessageAsync(friend, id, "1");
        var second = await api.SendMessageAsync(friend, id, "2");
        await api.SendMessageAsync(friend, id, "3");
        Assert.Equal(HttpStatusCode.NoContent, (await api.PostAsync(me, $"/v1/conversations/{id}/read", new { messageId = second["id"]!.GetValue<string>() })).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await api.PostAsync(me, $"/v1/conversations/{id}/read", new { messageId = first["id"]!.GetValue<string>() })).StatusCode);
        var list = await ApiClient.Json(await api.GetAsync(me, "/v1/conversations"));
        Assert.Equal(1, list["items"]![0]!["unreadCount"]!.GetValue<long>());
        await ApiClient.AssertProblem(await api.PostAsync(me, $"/v1/conversations/{id}/read", new { messageId = Guid.NewGuid() }), HttpStatusCode.NotFound);
    }
}
