using System.Net;
using System.Text;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.Features;

/// <summary>Bad input gets a clear 4xx problem+json and changes nothing.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class BadInputTests(ParleyFixture fixture)
{
    private static StringContent Raw(string text, string mediaType = "application/json") => new(text, Encoding.UTF8, mediaType);

    public static TheoryData<string, int> BadMessageBodies() => new()
    {
        { "{\"body\": ", 400 },                       // truncated JSON
        { "{body: 'single quotes'}", 400 },           // not JSON
        { "{\"body\": 42}", 400 },                    // wrong type
        { "{\"body\": [\"a\"]}", 400 },               // wrong type
        { "{\"body\": \"\"}", 400 },                  // empty
        { "{\"body\": \"   \"}", 400 },               // blank
        { "{}", 400 },                                // missing
        { "{\"body\": \"x\", \"clientMessageId\": 7}", 400 },
        { "[]", 400 },
        { "null", 400 },
    };

    [Theory]
    [MemberData(nameof(BadMessageBodies))]
    public async Task Malformed_or_mistyped_message_bodies_are_400_and_store_nothing(string json, int status)
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(user);
        var response = await api.SendAsync(user, HttpMethod.Post, $"/v1/conversations/{id}/messages", Raw(json));
        await ApiClient.AssertProblem(response, (HttpStatusCode)status);
        var history = await ApiClient.Json(await api.GetAsync(user, $"/v1/conversations/{id}/messages"));
        Assert.Empty(history["items"]!.AsArray());
    }

    [Fact]
    public async Task A_request_body_over_the_cap_is_413()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(user);
        var huge = "{\"body\": \"" + new string('a', 300 * 1024) + "\"}";
        await ApiClient.AssertProblem(await api.SendAsync(user, HttpMethod.Post, $"/v1/conversations/{id}/messages", Raw(huge)), HttpStatusCode.RequestEntityTooLarge);
        var history = await ApiClient.Json(await api.GetAsync(user, $"/v1/conversations/{id}/messages"));
        Assert.Empty(history["items"]!.AsArray());
    }

    [Theory]
    [InlineData("/v1/conversations/not-a-uuid")]
    [InlineData("/v1/conversations/not-a-uuid/messages")]
    [InlineData("/v1/no-such-route")]
    [InlineData("/nothing/here")]
    public async Task Invalid_ids_and_unknown_routes_are_404_problems(string path)
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        await ApiClient.AssertProblem(await api.GetAsync(user, path), HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=101")]
    [InlineData("limit=abc")]
    [InlineData("after=not-a-uuid")]
    public async Task Bad_query_parameters_are_400(string query)
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(user);
        await ApiClient.AssertProblem(await api.GetAsync(user, $"/v1/conversations/{id}/messages?{query}"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task After_a_message_of_another_conversation_is_400()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var a = await api.CreateConversationAsync(user);
        var b = await api.CreateConversationAsync(user);
        var message = await api.SendMessageAsync(user, a, "in a");
        await ApiClient.AssertProblem(await api.GetAsync(user, $"/v1/conversations/{b}/messages?after={message["id"]}"), HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("{\"participantIds\": \"nope\"}")]
    [InlineData("{\"participantIds\": [\"not-a-uuid\"]}")]
    [InlineData("{\"title\": 5, \"participantIds\": []}")]
    public async Task Bad_conversation_bodies_are_400_and_create_nothing(string json)
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        await ApiClient.AssertProblem(await api.SendAsync(user, HttpMethod.Post, "/v1/conversations", Raw(json)), HttpStatusCode.BadRequest);
        var list = await ApiClient.Json(await api.GetAsync(user, "/v1/conversations"));
        Assert.Empty(list["items"]!.AsArray());
    }

    [Fact]
    public async Task A_non_json_content_type_is_a_415_problem()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(user);
        await ApiClient.AssertProblem(await api.SendAsync(user, HttpMethod.Post, $"/v1/conversations/{id}/messages", Raw("body=hi", "text/plain")), HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task A_malformed_if_match_is_400_and_changes_nothing()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(user);
        await ApiClient.AssertProblem(await api.SendAsync(user, HttpMethod.Patch, $"/v1/conversations/{id}", new { title = "x" }, r => r.Headers.TryAddWithoutValidation("If-Match", "version-one")), HttpStatusCode.BadRequest);
        Assert.Equal("\"1\"", (await api.GetAsync(user, $"/v1/conversations/{id}")).Headers.ETag?.Tag);
    }
}
