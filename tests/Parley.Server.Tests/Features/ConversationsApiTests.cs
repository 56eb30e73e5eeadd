using System.Net;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.Features;

[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class ConversationsApiTests(ParleyFixture fixture)
{
    [Fact]
    public async Task Create_makes_the_caller_owner_and_lists_participants()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync();
        var member = await api.NewUserAsync();
        var response = await api.PostAsync(owner, "/v1/conversations", new { title = "team", participantIds = new[] { member.Id } });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("\"1\"", response.Headers.ETag?.Tag);
        var conversation = await ApiClient.Json(response);
        Assert.Equal(owner.Id.ToString(), conversation["ownerId"]!.GetValue<string>());
        Assert.Equal(1, conversation["version"]!.GetValue<int>());
        var roles = conversation["participants"]!.AsArray().ToDictionary(p => p!["userId"]!.GetValue<string>(), p => p!["role"]!.GetValue<string>());
        Assert.Equal("owner", roles[owner.Id.ToString()]);
        Assert.Equal("member", roles[member.Id.ToString()]);
    }

    [Fact]
    public async Task Unknown_participant_ids_are_400_and_create_nothing()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync();
        var ghost = Guid.NewGuid();
        var problem = await ApiClient.AssertProblem(
            await api.PostAsync(owner, "/v1/conversations", new { participantIds = new[] { ghost } }), HttpStatusCode.BadRequest);
        Assert.Contains(ghost.ToString(), problem["errors"]!["participantIds"]![0]!.GetValue<string>());
        var list = await ApiClient.Json(await api.GetAsync(owner, "/v1/conversations"));
        Assert.Empty(list["items"]!.AsArray());
    }

    [Fact]
    public async Task Patch_needs_if_match_and_refuses_a_stale_version()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(owner);
        var path = $"/v1/conversations/{id}";

        await ApiClient.AssertProblem(await api.SendAsync(owner, HttpMethod.Patch, path, new { title = "x" }), HttpStatusCode.PreconditionRequired);

        var renamed = await api.SendAsync(owner, HttpMethod.Patch, path, new { title = "renamed" }, r => r.Headers.TryAddWithoutValidation("If-Match", "\"1\""));
        Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        Assert.Equal("\"2\"", renamed.Headers.ETag?.Tag);
        Assert.Equal("renamed", (await ApiClient.Json(renamed))["title"]!.GetValue<string>());

        await ApiClient.AssertProblem(
            await api.SendAsync(owner, HttpMethod.Patch, path, new { title = "lost update" }, r => r.Headers.TryAddWithoutValidation("If-Match", "\"1\"")),
            HttpStatusCode.Conflict);
        var current = await api.GetAsync(owner, path);
        Assert.Equal("\"2\"", current.Headers.ETag?.Tag);
        Assert.Equal("renamed", (await ApiClient.Json(current))["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task Soft_delete_is_owner_only_and_hides_the_conversation()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync();
        var member = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(owner, member);
        await ApiClient.AssertProblem(await api.SendAsync(member, HttpMethod.Delete, $"/v1/conversations/{id}"), HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.NoContent, (await api.SendAsync(owner, HttpMethod.Delete, $"/v1/conversations/{id}")).StatusCode);
        await ApiClient.AssertProblem(await api.GetAsync(owner, $"/v1/conversations/{id}"), HttpStatusCode.NotFound);
        await ApiClient.AssertProblem(await api.PostAsync(member, $"/v1/conversations/{id}/messages", new { body = "hello?" }), HttpStatusCode.NotFound);
        var list = await ApiClient.Json(await api.GetAsync(member, "/v1/conversations"));
        Assert.DoesNotContain(list["items"]!.AsArray(), c => c!["id"]!.GetValue<string>() == id.ToString());
    }

    [Fact]
    public async Task The_list_is_ordered_by_activity_with_last_message_and_unread_count()
    {
        using var api = fixture.Client();
        var me = await api.NewUserAsync();
        var friend = await api.NewUserAsync();
        var quiet = await api.CreateConversationAsync(me, friend);
        var busy = await api.CreateConversationAsync(me, friend);
        await api.SendMessageAsync(friend, busy, "one");
        var second = await api.SendMessageAsync(friend, busy, "two");
        await api.SendMessageAsync(me, busy, "mine does not count as unread");

        var list = await ApiClient.Json(await api.GetAsync(me, "/v1/conversations"));
        var items = list["items"]!.AsArray();
        Assert.Equal([busy.ToString(), quiet.ToString()], items.Select(i => i!["id"]!.GetValue<string>()).ToArray());
        Assert.Equal("mine does not count as unread", items[0]!["lastMessage"]!["body"]!.GetValue<string>());
        Assert.Equal(2, items[0]!["unreadCount"]!.GetValue<long>());
        Assert.Null(items[1]!["lastMessage"]);

        Assert.Equal(HttpStatusCode.NoContent, (await api.PostAsync(me, $"/v1/conversations/{busy}/read", new { messageId = second["id"]!.GetValue<string>() })).StatusCode);
        list = await ApiClient.Json(await api.GetAsync(me, "/v1/conversations"));
        Assert.Equal(0, list["items"]![0]!["unreadCount"]!.GetValue<long>());
    }

    [Fact]
    public async Task The_conversation_list_pages_without_repeats()
    {
        using var api = fixture.Client();
        var me = await api.NewUserAsync();
        var ids = new List<Guid>();
        for (var i = 0; i < 7; i++) ids.Add(await api.CreateConversationAsync(me));
        var seen = new List<string>();
        string? cursor = null;
        for (var page = 0; page < 10; page++)
        {
            var body = await ApiClient.Json(await api.GetAsync(me, $"/v1/conversations?limit=3{(cursor is null ? "" : "&cursor=" + cursor)}"));
            seen.AddRange(body["items"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()));
            cursor = body["nextCursor"]?.GetValue<string>();
            if (cursor is null) break;
        }
        Assert.Equal(ids.AsEnumerable().Reverse().Select(i => i.ToString()), seen);
    }
}
