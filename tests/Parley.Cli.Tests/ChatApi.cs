using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Parley.Cli.Tests;

/// <summary>The few API calls the durability tests make, against a running <c>parley up</c>.</summary>
public sealed class ChatApi(Uri baseUrl) : IDisposable
{
    public const string Password = "durable-password-1";

    private readonly HttpClient _http = new() { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(10) };

    public void Dispose() => _http.Dispose();

    /// <summary>Registers and logs in; returns (user id, access token).</summary>
    public async Task<(string Id, string Token)> RegisterAsync(string handle)
    {
        using var register = await _http.PostAsJsonAsync("/v1/auth/register", new { handle, password = Password });
        Assert.Equal(HttpStatusCode.Created, register.StatusCode);
        return ((await register.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!, await LoginAsync(handle));
    }

    public async Task<string> LoginAsync(string handle)
    {
        using var login = await _http.PostAsJsonAsync("/v1/auth/login", new { handle, password = Password });
        Assert.True(login.StatusCode == HttpStatusCode.OK, $"login {handle}: {(int)login.StatusCode} {await login.Content.ReadAsStringAsync()}");
        return (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!;
    }

    public async Task<HttpStatusCode> LoginStatusAsync(string handle)
    {
        using var login = await _http.PostAsJsonAsync("/v1/auth/login", new { handle, password = Password });
        return login.StatusCode;
    }

    public async Task<string> CreateConversationAsync(string token, params string[] participantIds)
    {
        using var created = await SendAsync(HttpMethod.Post, "/v1/conversations", token, new { title = "durable", participantIds });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    /// <summary>Posts a message; returns its id on 201, null on any other answer.</summary>
    public async Task<string?> PostMessageAsync(string token, string conversationId, string body)
    {
        using var posted = await SendAsync(HttpMethod.Post, $"/v1/conversations/{conversationId}/messages", token, new { body });
        return posted.StatusCode == HttpStatusCode.Created
            ? (await posted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()
            : null;
    }

    public async Task MarkReadAsync(string token, string conversationId, string messageId)
    {
        using var read = await SendAsync(HttpMethod.Post, $"/v1/conversations/{conversationId}/read", token, new { messageId });
        Assert.Equal(HttpStatusCode.NoContent, read.StatusCode);
    }

    /// <summary>The caller's conversation summaries (first page), as JSON.</summary>
    public async Task<IReadOnlyList<JsonElement>> ConversationsAsync(string token)
    {
        using var list = await SendAsync(HttpMethod.Get, "/v1/conversations?limit=100", token);
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        return [.. (await list.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().Select(item => item.Clone())];
    }

    /// <summary>Every message id of the conversation, newest first, paging with nextCursor.</summary>
    public async Task<IReadOnlyList<string>> MessageIdsAsync(string token, string conversationId)
    {
        var ids = new List<string>();
        string? cursor = null;
        do
        {
            var path = $"/v1/conversations/{conversationId}/messages?limit=100{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}";
            using var page = await SendAsync(HttpMethod.Get, path, token);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var json = await page.Content.ReadFromJsonAsync<JsonElement>();
            ids.AddRange(json.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetString()!));
            cursor = json.GetProperty("nextCursor").GetString();
            Assert.True(ids.Count < 100_000, "paging must end");
        }
        while (cursor is not null);
        return ids;
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string token, object? body = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return _http.SendAsync(request);
    }
}
