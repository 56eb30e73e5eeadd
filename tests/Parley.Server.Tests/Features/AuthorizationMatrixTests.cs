using System.Net;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.Features;

/// <summary>Outsider, member and owner against every conversation endpoint.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class AuthorizationMatrixTests(ParleyFixture fixture)
{
    public enum Who { Anonymous, Outsider, Member, Owner }

    public static TheoryData<string, Who, int> Matrix()
    {
        var data = new TheoryData<string, Who, int>();
        void Row(string endpoint, int anonymous, int outsider, int member, int owner)
        {
            data.Add(endpoint, Who.Anonymous, anonymous);
            data.Add(endpoint, Who.Outsider, outsider);
            data.Add(endpoint, Who.Member, member);
            data.Add(endpoint, Who.Owner, owner);
        }
        Row("GET conversation", 401, 403, 200, 200);
        Row("PATCH conversation", 401, 403, 200, 200);
        Row("DELETE conversation", 401, 403, 403, 204);
        Row("GET participants", 401, 403, 200, 200);
        Row("POST participant", 401, 403, 403, 201);
        Row("DELETE other participant", 401, 403, 403, 204);
        Row("POST message", 401, 403, 201, 201);
        Row("GET messages", 401, 403, 200, 200);
        Row("GET messages after", 401, 403, 200, 200);
        Row("POST read", 401, 403, 204, 204);
        Row("GET conversations", 401, 200, 200, 200);
        Row("POST conversation", 401, 201, 201, 201);
        Row("GET search", 401, 200, 200, 200); // Anyone signed in searches; only their own conversations match.
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Each_role_gets_the_expected_status(string endpoint, Who who, int expected)
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync("own");
        var member = await api.NewUserAsync("mem");
        var bystander = await api.NewUserAsync("by");
        var outsider = await api.NewUserAsync("out");
        var id = await api.CreateConversationAsync(owner, member, bystander);
        var message = await api.SendMessageAsync(owner, id, "seed");
        var messageId = message["id"]!.GetValue<string>();
        var caller = who switch { Who.Owner => owner, Who.Member => member, Who.Outsider => outsider, _ => null };
        var ifMatch = (Action<HttpRequestMessage>)(r => r.Headers.TryAddWithoutValidation("If-Match", "\"1\""));

        var response = endpoint switch
        {
            "GET conversation" => await api.GetAsync(caller, $"/v1/conversations/{id}"),
            "PATCH conversation" => await api.SendAsync(caller, HttpMethod.Patch, $"/v1/conversations/{id}", new { title = "t" }, ifMatch),
            "DELETE conversation" => await api.SendAsync(caller, HttpMethod.Delete, $"/v1/conversations/{id}"),
            "GET participants" => await api.GetAsync(caller, $"/v1/conversations/{id}/participants"),
            "POST participant" => await api.PostAsync(caller, $"/v1/conversations/{id}/participants", new { userId = (await api.NewUserAsync("new")).Id }),
            "DELETE other participant" => await api.SendAsync(caller, HttpMethod.Delete, $"/v1/conversations/{id}/participants/{bystander.Id}"),
            "POST message" => await api.PostAsync(caller, $"/v1/conversations/{id}/messages", new { body = "hi" }),
            "GET messages" => await api.GetAsync(caller, $"/v1/conversations/{id}/messages"),
            "GET messages after" => await api.GetAsync(caller, $"/v1/conversations/{id}/messages?after={messageId}"),
            "POST read" => await api.PostAsync(caller, $"/v1/conversations/{id}/read", new { messageId }),
            "GET conversations" => await api.GetAsync(caller, "/v1/conversations"),
            "POST conversation" => await api.PostAsync(caller, "/v1/conversations", new { participantIds = Array.Empty<Guid>() }),
            "GET search" => await api.GetAsync(caller, "/v1/search/messages?q=seed"),
            _ => throw new ArgumentOutOfRangeException(nameof(endpoint)),
        };
        if (expected >= 400)
            await ApiClient.AssertProblem(response, (HttpStatusCode)expected);
        else
            Assert.True(expected == (int)response.StatusCode, $"{endpoint} as {who}: expected {expected}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");

        // A refused request changed nothing: the seed message is still the only one, the title unchanged.
        if (expected >= 400)
        {
            var history = await ApiClient.Json(await api.GetAsync(owner, $"/v1/conversations/{id}/messages"));
            Assert.Single(history["items"]!.AsArray());
            var conversation = await api.GetAsync(owner, $"/v1/conversations/{id}");
            Assert.Equal("\"1\"", conversation.Headers.ETag?.Tag);
            Assert.Equal(3, (await ApiClient.Json(conversation))["participants"]!.AsArray().Count);
        }
    }

    [Fact]
    public async Task An_unknown_conversation_is_404_for_everyone()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var ghost = Guid.NewGuid();
        await ApiClient.AssertProblem(await api.GetAsync(user, $"/v1/conversations/{ghost}"), HttpStatusCode.NotFound);
        await ApiClient.AssertProblem(await api.GetAsync(user, $"/v1/conversations/{ghost}/messages"), HttpStatusCode.NotFound);
        await ApiClient.AssertProblem(await api.PostAsync(user, $"/v1/conversations/{ghost}/messages", new { body = "x" }), HttpStatusCode.NotFound);
        await ApiClient.AssertProblem(await api.GetAsync(user, $"/v1/conversations/{ghost}/participants"), HttpStatusCode.NotFound);
    }
}
