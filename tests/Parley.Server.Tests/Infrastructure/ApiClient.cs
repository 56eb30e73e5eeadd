using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parley.Server.Tests.Infrastructure;

/// <summary>A registered, logged-in user.</summary>
public sealed record TestUser(Guid Id, string Handle, string Token);

/// <summary>Thin HTTP helpers over the public API; every call returns the raw response to assert on.</summary>
public sealed class ApiClient(HttpClient http) : IDisposable
{
    private static int _counter;

    public HttpClient Http => http;

    public static string UniqueHandle(string prefix = "u") =>
        $"{prefix}{Environment.ProcessId % 1000}_{Interlocked.Increment(ref _counter)}_{Random.Shared.Next(1000, 9999)}";

    public async Task<TestUser> NewUserAsync(string prefix = "u")
    {
        var handle = UniqueHandle(prefix);
        var register = await http.PostAsJsonAsync("/v1/auth/register", new { handle, password = "correct horse" });
        Assert.Equal(HttpStatusCode.Created, register.StatusCode);
        var login = await http.PostAsJsonAsync("/v1/auth/login", new { handle, password = "correct horse" });
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        var body = await Json(login);
        return new TestUser(Guid.Parse(body["userId"]!.GetValue<string>()), handle, body["accessToken"]!.GetValue<string>());
    }

    public Task<HttpResponseMessage> SendAsync(TestUser? user, HttpMethod method, string path, object? body = null, Action<HttpRequestMessage>? configure = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (user is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Token);
        if (body is not null) request.Content = body is HttpContent content ? content : JsonContent.Create(body);
        configure?.Invoke(request);
        return http.SendAsync(request);
    }

    public Task<HttpResponseMessage> GetAsync(TestUser? user, string path) => SendAsync(user, HttpMethod.Get, path);

    public Task<HttpResponseMessage> PostAsync(TestUser? user, string path, object? body) => SendAsync(user, HttpMethod.Post, path, body);

    public async Task<Guid> CreateConversationAsync(TestUser owner, params TestUser[] members)
    {
        var response = await PostAsync(owner, "/v1/conversations", new { title = "test", participantIds = members.Select(m => m.Id).ToArray() });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return Guid.Parse((await Json(response))["id"]!.GetValue<string>());
    }

    public async Task<JsonObject> SendMessageAsync(TestUser sender, Guid conversation, string body, string? clientMessageId = null)
    {
        var response = await PostAsync(sender, $"/v1/conversations/{conversation}/messages", new { body, clientMessageId });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await Json(response);
    }

    /// <summary>
    /// Message ids of a conversation over REST as a client told to resync reads them (bounded to 100 pages): with
    /// <paramref name="after"/>, the catch-up (<c>after=</c>, oldest first); without, the whole history.
    /// </summary>
    public async Task<HashSet<Guid>> MessageIdsAsync(TestUser user, Guid conversation, Guid? after = null)
    {
        var ids = new HashSet<Guid>();
        string? cursor = null;
        for (var page = 0; page < 100; page++)
        {
            var query = after is { } last ? $"after={last}" : cursor is null ? "" : $"cursor={Uri.EscapeDataString(cursor)}";
            var response = await GetAsync(user, $"/v1/conversations/{conversation}/messages?limit=100&{query}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await Json(response);
            var items = body["items"]!.AsArray().Select(i => Guid.Parse(i!["id"]!.GetValue<string>())).ToList();
            ids.UnionWith(items);
            if (after is not null)
            {
                if (items.Count == 0) break;
                after = items[^1];
            }
            else
            {
                cursor = body["nextCursor"]?.GetValue<string>();
                if (cursor is null) break;
            }
        }
        return ids;
    }

    public static async Task<JsonObject> Json(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonNode.Parse(text)?.AsObject() ?? throw new InvalidOperationException($"Not a JSON object: {text}");
    }

    /// <summary>Asserts an RFC 9457 problem with the given status and returns it.</summary>
    public static async Task<JsonObject> AssertProblem(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal((int)status, problem["status"]!.GetValue<int>());
        Assert.False(string.IsNullOrEmpty(problem["title"]?.GetValue<string>()), "problem has a title");
        Assert.False(string.IsNullOrEmpty(problem["type"]?.GetValue<string>()), $"problem has a type: {text}");
        Assert.False(string.IsNullOrEmpty(problem["detail"]?.GetValue<string>()), $"problem has a detail: {text}");
        Assert.DoesNotContain("   at ", text); // never a stack trace
        return problem;
    }

    public static readonly JsonSerializerOptions Web = JsonSerializerOptions.Web;

    public void Dispose() => http.Dispose();
}
