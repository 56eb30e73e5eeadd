using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Kit.Load;

namespace Parley.Server.Tests.Infrastructure;

/// <summary>
/// The tests' side of the kit's <see cref="ParleyApiClient"/>: users, conversations, messages and paging come from it
/// (<see cref="Kit"/>); the raw calls here return the whole <see cref="HttpResponseMessage"/> for tests that assert on
/// headers and problem details.
/// </summary>
public sealed class ApiClient : IDisposable
{
    private readonly HttpClient http;

    public ApiClient(HttpClient http)
    {
        this.http = http;
        var timeout = http.Timeout > TimeSpan.Zero ? http.Timeout : TimeSpan.FromSeconds(100);
        Kit = new ParleyApiClient(LoadRunner.CreateClient(http.BaseAddress!, 16, timeout)) { UserPassword = Password };
    }

    /// <summary>The password of the users <see cref="NewUserAsync"/> registers, for tests that log them in by hand.</summary>
    public const string Password = "correct horse";

    public HttpClient Http => http;

    /// <summary>The one API client of the kits, on the same server.</summary>
    public ParleyApiClient Kit { get; }

    public static string UniqueHandle(string prefix = "u") => ParleyApiClient.UniqueHandle(prefix);

    public Task<ApiUser> NewUserAsync(string prefix = "u") => Kit.RegisterAndLoginAsync(UniqueHandle(prefix), CancellationToken.None);

    public Task<HttpResponseMessage> SendAsync(ApiUser? user, HttpMethod method, string path, object? body = null, Action<HttpRequestMessage>? configure = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (user is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Token);
        if (body is not null) request.Content = body is HttpContent content ? content : JsonContent.Create(body);
        configure?.Invoke(request);
        return http.SendAsync(request);
    }

    public Task<HttpResponseMessage> GetAsync(ApiUser? user, string path) => SendAsync(user, HttpMethod.Get, path);

    public Task<HttpResponseMessage> PostAsync(ApiUser? user, string path, object? body) => SendAsync(user, HttpMethod.Post, path, body);

    public Task<Guid> CreateConversationAsync(ApiUser owner, params ApiUser[] members) =>
        Kit.CreateConversationAsync(owner, "test", members.Select(m => m.Id), CancellationToken.None);

    public async Task<JsonObject> SendMessageAsync(ApiUser sender, Guid conversation, string body, string? clientMessageId = null)
    {
        var response = await Kit.SendMessageAsync(sender, conversation, body, clientMessageId, CancellationToken.None);
        Assert.True(response.Status == 201, $"Expected 201, got {response.Status}: {response.Text}");
        return JsonNode.Parse(response.Body)!.AsObject();
    }

    /// <summary>
    /// Message ids of a conversation over REST as a client told to resync reads them: with <paramref name="after"/>,
    /// the catch-up (<c>after=</c>, oldest first); without, the whole history.
    /// </summary>
    public async Task<HashSet<Guid>> MessageIdsAsync(ApiUser user, Guid conversation, Guid? after = null) =>
        [.. await Kit.MessageIdsAsync(user, conversation, after, CancellationToken.None)];

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

    public void Dispose()
    {
        Kit.Dispose();
        http.Dispose();
    }
}
