using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Kit.Load.Http;

namespace Parley.Kit.Load;

/// <summary>An HTTP response as the load kit needs it: status, body bytes, and the headers it reads (ETag as sent, Retry-After).</summary>
public readonly record struct ApiResponse(int Status, byte[] Body, string? ETag)
{
    public TimeSpan? RetryAfter { get; init; }

    public bool IsSuccess => Status is >= 200 and < 300;

    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string Text => Encoding.UTF8.GetString(Body);

    /// <summary>Throws with the status and the problem's detail, for setup steps that must succeed.</summary>
    public ApiResponse EnsureSuccess(string what) => IsSuccess ? this
        : throw new InvalidOperationException($"{what} answered {Status}: {Text[..Math.Min(Text.Length, 300)]}");
}

/// <summary>
/// Parley's API (../shared/API.md) over a <see cref="LoopbackHttpClient"/> (its own connection pool, or a closed-model
/// virtual user's one connection); paths relative to the base URL.
/// </summary>
public sealed class ParleyApiClient(LoopbackHttpClient http) : IDisposable
{
    public const string Password = "load-kit-password";

    public LoopbackHttpClient Http { get; } = http;

    /// <summary>
    /// How long a request answered 503 is sent again, after its Retry-After (1 s without one, at most 5 s), before the 503
    /// is returned. For setup: a loaded node answers 503 while a dependency probe is late, and a seeding that gave up at
    /// the first one ended canary runs before they started (issue 12). A 503 changed nothing, so sending again is safe.
    /// Default none (measured requests count every 503).
    /// </summary>
    public TimeSpan RetryUnavailableFor { get; init; }

    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(5);

    /// <summary>Sends a request; <paramref name="body"/> is sent as is when it is a byte[], else as JSON.</summary>
    public async Task<ApiResponse> SendAsync(HttpMethod method, string path, string? token, object? body = null,
        IReadOnlyList<(string Name, string Value)>? headers = null, CancellationToken ct = default)
    {
        ReadOnlyMemory<byte> bytes = body is null ? default : body as byte[] ?? JsonSerializer.SerializeToUtf8Bytes(body, JsonSerializerOptions.Web);
        var deadline = DateTimeOffset.UtcNow + RetryUnavailableFor;
        while (true)
        {
            var response = await Http.SendAsync(method.Method, path, token, bytes, headers, ct: ct).ConfigureAwait(false);
            var wait = response.RetryAfter is { } after ? TimeSpan.FromTicks(Math.Min(after.Ticks, MaxRetryAfter.Ticks)) : TimeSpan.FromSeconds(1);
            if (response.Status != 503 || DateTimeOffset.UtcNow + wait > deadline)
                return new ApiResponse(response.Status, response.Body, response.ETag) { RetryAfter = response.RetryAfter };
            await Task.Delay(wait, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Encodes a request once, for scenarios that send the same one again and again (<see cref="SendAsync(PreparedRequest, bool, CancellationToken)"/>).</summary>
    public PreparedRequest Prepare(HttpMethod method, string path, string? token) => Http.Prepare(method.Method, path, token);

    /// <summary>Sends a prepared request; <paramref name="discardBody"/> when only the status matters.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ApiResponse> SendAsync(PreparedRequest request, bool discardBody, CancellationToken ct)
    {
        var response = await Http.SendAsync(request, discardBody, ct).ConfigureAwait(false);
        return new ApiResponse(response.Status, response.Body, response.ETag) { RetryAfter = response.RetryAfter };
    }

    /// <summary>A client on the same server with one connection of its own (a closed-model virtual user's).</summary>
    public ParleyApiClient WithOwnConnection() => new(Http.WithOwnConnection());

    public void Dispose() => Http.Dispose();

    public Task<ApiResponse> GetAsync(string path, string token, CancellationToken ct) => SendAsync(HttpMethod.Get, path, token, ct: ct);

    public Task<ApiResponse> PostAsync(string path, string? token, object body, CancellationToken ct) => SendAsync(HttpMethod.Post, path, token, body, ct: ct);

    /// <summary>Registers <paramref name="handle"/> (409 if it exists is fine) and logs in.</summary>
    public async Task<LoadUser> RegisterAndLoginAsync(string handle, CancellationToken ct)
    {
        var registered = await PostAsync("v1/auth/register", null, new { handle, password = Password }, ct).ConfigureAwait(false);
        if (registered.Status != 409) registered.EnsureSuccess($"register {handle}");
        return await LoginAsync(handle, ct).ConfigureAwait(false);
    }

    public async Task<LoadUser> LoginAsync(string handle, CancellationToken ct)
    {
        var login = (await PostAsync("v1/auth/login", null, new { handle, password = Password }, ct).ConfigureAwait(false)).EnsureSuccess($"login {handle}");
        var json = login.Json;
        return new LoadUser(Guid.Parse(json.GetProperty("userId").GetString()!), handle, json.GetProperty("accessToken").GetString()!);
    }

    public async Task<Guid> CreateConversationAsync(LoadUser owner, string title, IEnumerable<Guid> participants, CancellationToken ct)
    {
        var created = (await PostAsync("v1/conversations", owner.Token, new { title, participantIds = participants.ToArray() }, ct).ConfigureAwait(false))
            .EnsureSuccess("create conversation");
        return created.Json.GetProperty("id").GetGuid();
    }

    public Task<ApiResponse> SendMessageAsync(LoadUser sender, Guid conversation, string body, string? clientMessageId, CancellationToken ct) =>
        PostAsync($"v1/conversations/{conversation}/messages", sender.Token, new { body, clientMessageId }, ct);

    public Task<ApiResponse> HistoryAsync(LoadUser reader, Guid conversation, int limit, CancellationToken ct) =>
        GetAsync($"v1/conversations/{conversation}/messages?limit={limit}", reader.Token, ct);

    /// <summary>Every message of a conversation, oldest first, paging with <c>after=</c>.</summary>
    public async Task<List<JsonElement>> AllMessagesAsync(LoadUser reader, Guid conversation, CancellationToken ct)
    {
        var all = new List<JsonElement>();
        var newest = (await HistoryAsync(reader, conversation, 1, ct).ConfigureAwait(false)).EnsureSuccess("history").Json.GetProperty("items");
        if (newest.GetArrayLength() == 0) return all;
        // Page backwards from the newest with cursors (newest first), then reverse.
        string? cursor = null;
        do
        {
            var path = $"v1/conversations/{conversation}/messages?limit=100" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            var page = (await GetAsync(path, reader.Token, ct).ConfigureAwait(false)).EnsureSuccess("history page").Json;
            foreach (var item in page.GetProperty("items").EnumerateArray()) all.Add(item.Clone());
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);
        all.Reverse();
        return all;
    }

    /// <summary>Turns a runtime flag on or off (needs an admin token).</summary>
    public Task<ApiResponse> SetFlagAsync(LoadUser admin, string name, bool enabled, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, $"v1/admin/flags/{name}", admin.Token, new JsonObject { ["enabled"] = enabled, ["percentage"] = 100 }, ct: ct);
}

/// <summary>A user the load kit registered and logged in.</summary>
public sealed record LoadUser(Guid Id, string Handle, string Token);
