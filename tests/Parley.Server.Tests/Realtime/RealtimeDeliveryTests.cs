using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Parley.Redis;
using Parley.Server.Delivery;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.Realtime;

[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class RealtimeDeliveryTests(ParleyFixture fixture)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Message_reaches_every_participant_socket_and_no_outsider()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync("rto");
        var member = await api.NewUserAsync("rtm");
        var outsider = await api.NewUserAsync("rtx");
        var conversation = await api.CreateConversationAsync(owner, member);
        await using var ownerSocket = await WsClient.ConnectAsync(fixture.BaseAddress, owner.Token);
        await using var memberSocket1 = await WsClient.ConnectAsync(fixture.BaseAddress, member.Token);
        await using var memberSocket2 = await WsClient.ConnectAsync(fixture.BaseAddress, member.Token);
        await using var outsiderSocket = await WsClient.ConnectAsync(fixture.BaseAddress, outsider.Token);

        var sent = new List<Guid>();
        for (var i = 0; i < 3; i++)
            sent.Add(Guid.Parse((await api.SendMessageAsync(i % 2 == 0 ? owner : member, conversation, $"hello {i}"))["id"]!.GetValue<string>()));

        foreach (var socket in new[] { ownerSocket, memberSocket1, memberSocket2 })
        {
            await socket.WaitForMessagesAsync(3, Wait);
            Assert.Equal(sent, socket.MessageIds());
            var events = socket.Events("message.created");
            Assert.All(events, e => Assert.Equal(conversation.ToString(), e["conversationId"]!.GetValue<string>()));
            var ids = events.Select(e => StreamId.Parse(e["eventId"]!.GetValue<string>())).ToList();
            Assert.Equal(ids.Order().ToList(), ids);
            Assert.Equal(ids.Count, ids.Distinct().Count());
        }
        await outsiderSocket.PingAsync();
        Assert.Empty(outsiderSocket.Events());
    }

    [Fact]
    public async Task A_member_added_while_its_socket_is_open_receives_the_next_message()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync("ado");
        var newcomer = await api.NewUserAsync("adn");
        await using var socket = await WsClient.ConnectAsync(fixture.BaseAddress, newcomer.Token);
        var expected = new List<Guid>();
        for (var round = 0; round < 10; round++)
        {
            var conversation = await api.CreateConversationAsync(owner);
            await api.SendMessageAsync(owner, conversation, "before the add");
            var added = await api.PostAsync(owner, $"/v1/conversations/{conversation}/participants", new { userId = newcomer.Id });
            Assert.Equal(HttpStatusCode.Created, added.StatusCode);
            expected.Add(Guid.Parse((await api.SendMessageAsync(owner, conversation, "after the add"))["id"]!.GetValue<string>()));
        }
        await socket.WaitUntilAsync(() => expected.All(new HashSet<Guid>(socket.MessageIds()).Contains), Wait,
            $"every message sent after the add (missing {expected.Except(socket.MessageIds()).Count()} of {expected.Count})");
    }

    [Fact]
    public async Task A_new_conversation_reaches_its_participants_sockets_as_participant_added_and_no_outsider_s()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync("nco");
        var member = await api.NewUserAsync("ncm");
        var outsider = await api.NewUserAsync("ncx");
        await using var ownerSocket = await WsClient.ConnectAsync(fixture.BaseAddress, owner.Token);
        await using var memberSocket = await WsClient.ConnectAsync(fixture.BaseAddress, member.Token);
        await using var outsiderSocket = await WsClient.ConnectAsync(fixture.BaseAddress, outsider.Token);

        var conversation = await api.CreateConversationAsync(owner, member);

        bool AddedToIt(JsonObject f) => WsClient.Type(f) == "participant.added" && f["conversationId"]?.GetValue<string>() == conversation.ToString();
        await memberSocket.WaitUntilAsync(() => memberSocket.Received.Any(AddedToIt), Wait, "participant.added for the new conversation");
        // One event per member, heard by every participant (the owner too); a message sent after it arrives after it,
        // and no outsider hears of the conversation.
        await api.SendMessageAsync(owner, conversation, "after the create");
        await ownerSocket.WaitForMessagesAsync(1, Wait);
        await memberSocket.WaitForMessagesAsync(1, Wait);
        lock (memberSocket.Received)
        {
            var added = Assert.Single(memberSocket.Received, AddedToIt);
            Assert.Equal(member.Id.ToString(), added["userId"]!.GetValue<string>());
        }
        lock (ownerSocket.Received) Assert.Single(ownerSocket.Received, AddedToIt); // participants hear of each other's add
        lock (outsiderSocket.Received) Assert.DoesNotContain(outsiderSocket.Received, f => f["conversationId"]?.GetValue<string>() == conversation.ToString());
    }

    [Fact]
    public async Task Removal_stops_delivery_at_once()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync("rmo");
        var member = await api.NewUserAsync("rmm");
        var conversation = await api.CreateConversationAsync(owner, member);
        await using var ownerSocket = await WsClient.ConnectAsync(fixture.BaseAddress, owner.Token);
        await using var memberSocket = await WsClient.ConnectAsync(fixture.BaseAddress, member.Token);

        await api.SendMessageAsync(owner, conversation, "before");
        await memberSocket.WaitForMessagesAsync(1, Wait);
        var removed = await api.SendAsync(owner, HttpMethod.Delete, $"/v1/conversations/{conversation}/participants/{member.Id}");
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        await api.SendMessageAsync(owner, conversation, "after");

        await ownerSocket.WaitForMessagesAsync(2, Wait);
        await memberSocket.WaitUntilAsync(() => memberSocket.Events("participant.removed").Count == 1, Wait, "the participant.removed event");
        await memberSocket.PingAsync();
        Assert.Single(memberSocket.MessageIds());
        Assert.Equal(member.Id.ToString(), memberSocket.Events("participant.removed")[0]["userId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Resume_with_since_replays_exactly_the_missed_events_in_order()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync("rso");
        var member = await api.NewUserAsync("rsm");
        var conversation = await api.CreateConversationAsync(owner, member);
        string since;
        await using (var first = await WsClient.ConnectAsync(fixture.BaseAddress, member.Token))
        {
            await api.SendMessageAsync(owner, conversation, "seen");
            await first.WaitForMessagesAsync(1, Wait);
            since = first.Events()[^1]["eventId"]!.GetValue<string>();
        }
        var missed = new List<Guid>();
        for (var i = 0; i < 25; i++)
            missed.Add(Guid.Parse((await api.SendMessageAsync(owner, conversation, $"missed {i}"))["id"]!.GetValue<string>()));
        await WaitDispatchedAsync(conversation);

        await using var resumed = await WsClient.ConnectAsync(fixture.BaseAddress, member.Token, since);
        await resumed.WaitForMessagesAsync(missed.Count, Wait);
        await resumed.PingAsync();
        Assert.Equal(missed, resumed.MessageIds());
        var ids = resumed.Events().Select(e => StreamId.Parse(e["eventId"]!.GetValue<string>())).ToList();
        Assert.All(ids, id => Assert.True(id > StreamId.Parse(since)));
        Assert.Equal(ids.Order().ToList(), ids);

        // Live events follow the replay.
        var live = Guid.Parse((await api.SendMessageAsync(owner, conversation, "live"))["id"]!.GetValue<string>());
        await resumed.WaitForMessagesAsync(missed.Count + 1, Wait);
        Assert.Equal(live, resumed.MessageIds()[^1]);
    }

    [Fact]
    public async Task Resume_from_beyond_retention_answers_resync_required()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync("rro");
        var conversation = await api.CreateConversationAsync(owner);
        string since;
        await using (var first = await WsClient.ConnectAsync(fixture.BaseAddress, owner.Token))
        {
            await api.SendMessageAsync(owner, conversation, "one");
            await first.WaitForMessagesAsync(1, Wait);
            since = first.Events()[^1]["eventId"]!.GetValue<string>();
        }
        await api.SendMessageAsync(owner, conversation, "two");
        await api.SendMessageAsync(owner, conversation, "three");
        await WaitDispatchedAsync(conversation);
        // Retention trims what came after `since` (as MAXLEN would, only sooner).
        var redis = fixture.Services.GetRequiredService<RedisClient>();
        var stream = fixture.Services.GetRequiredService<EventStream>();
        await redis.XTrimAsync(stream.Key, StreamTrim.MaxLength(1, approximate: false));

        await using var resumed = await WsClient.ConnectAsync(fixture.BaseAddress, owner.Token, since);
        await resumed.WaitUntilAsync(() => resumed.Received.Any(f => WsClient.Type(f) == "resync.required"), Wait, "resync.required");
        Assert.Empty(resumed.Events("message.created"));
    }

    [Fact]
    public async Task A_64_KiB_message_arrives_byte_identical()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync("rbo");
        var member = await api.NewUserAsync("rbm");
        var conversation = await api.CreateConversationAsync(owner, member);
        await using var socket = await WsClient.ConnectAsync(fixture.BaseAddress, member.Token);
        var body = MaxBody();
        Assert.Equal(65_536, Encoding.UTF8.GetByteCount(body));
        await api.SendMessageAsync(owner, conversation, body);
        await socket.WaitForMessagesAsync(1, Wait);
        var received = socket.Events("message.created")[0]["message"]!["body"]!.GetValue<string>();
        Assert.True(Encoding.UTF8.GetBytes(body).AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(received)),
            $"The body changed on the way: sent {body.Length} chars, received {received.Length}.");
    }

    [Fact]
    public async Task Ping_is_answered_and_bad_requests_are_refused()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync("rpp");
        await using (var socket = await WsClient.ConnectAsync(fixture.BaseAddress, user.Token))
            await socket.PingAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, (await api.GetAsync(null, "/v1/ws")).StatusCode);
        await ApiClient.AssertProblem(await api.GetAsync(user, "/v1/ws"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Conversation_and_participant_changes_are_delivered()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync("rco");
        var joiner = await api.NewUserAsync("rcj");
        var conversation = await api.CreateConversationAsync(owner);
        await using var socket = await WsClient.ConnectAsync(fixture.BaseAddress, owner.Token);
        Assert.Equal(HttpStatusCode.Created, (await api.PostAsync(owner, $"/v1/conversations/{conversation}/participants", new { userId = joiner.Id })).StatusCode);
        var patch = await api.SendAsync(owner, HttpMethod.Patch, $"/v1/conversations/{conversation}", new { title = "renamed" },
            r => r.Headers.TryAddWithoutValidation("If-Match", "\"1\""));
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await api.SendAsync(owner, HttpMethod.Delete, $"/v1/conversations/{conversation}")).StatusCode);
        await socket.WaitUntilAsync(() => socket.Events().Count >= 3, Wait, "three conversation events");
        Assert.Equal(["participant.added", "conversation.updated", "conversation.deleted"], socket.Events().Select(e => WsClient.Type(e)!).ToArray());
        Assert.Equal(joiner.Id.ToString(), socket.Events()[0]["userId"]!.GetValue<string>());
    }

    private static string MaxBody()
    {
        var builder = new StringBuilder();
        var pieces = new[] { "héllo ", "\"quoted\" ", "back\\slash ", "emoji 😀 ", "中文 ", "tab\t", "<script>&amp;</script> " };
        var i = 0;
        while (Encoding.UTF8.GetByteCount(builder.ToString()) < 65_000) builder.Append(pieces[i++ % pieces.Length]);
        while (Encoding.UTF8.GetByteCount(builder.ToString()) < 65_536) builder.Append('x');
        return builder.ToString();
    }

    /// <summary>Waits until the conversation's outbox rows are published (its own rows: the collection shares the stack).</summary>
    private async Task WaitDispatchedAsync(Guid conversation)
    {
        await using var source = fixture.OpenPrimary();
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            await using var cmd = source.CreateCommand($"SELECT count(*) FROM outbox WHERE dispatched_at IS NULL AND conversation_id = '{conversation}'");
            if ((long)(await cmd.ExecuteScalarAsync())! == 0) return;
            if (DateTime.UtcNow > deadline) Assert.Fail("Outbox rows were not dispatched within 30 s; is the dispatcher running and Redis up?");
            await Task.Delay(50); // polls the count, bounded by the deadline
        }
    }
}
