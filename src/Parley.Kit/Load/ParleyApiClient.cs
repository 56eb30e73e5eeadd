using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Kit.Load.Http;

namespace Parley.Kit.Load;

/// <summary>An HTTP response as the kits need it: status, body bytes, and the headers they read (ETag as sent, Retry-After, Server-Timing).</summary>
public readonly record struct ApiResponse(int Status, byte[] Body, string? ETag)
{
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>The <c>app</c> and <c>cache</c> durations of the server's <c>Server-Timing</c> header (ms), when it sent one.</summary>
    public double? ServerAppMs { get; init; }

    public double? ServerCacheMs { get; init; }

    internal static ApiResponse From(LoopbackHttpResponse response) => new(response.Status, response.Body, response.ETag)
    {
        RetryAfter = response.RetryAfter,
        ServerAppMs = response.ServerAppMs,
        ServerCacheMs = response.ServerCacheMs,
    };

    public bool IsSuccess => Status is >= 200 and < 300;

    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string Text => Encoding.UTF8.GetString(Body);

    /// <summary>Throws with the status and the problem's detail, for setup steps that must succeed.</summary>
    public ApiResponse EnsureSuccess(string what) => IsSuccess ? this
        : throw new InvalidOperationException($"{what} answered {Status}: {Text[..Math.Min(Text.Length, 300)]}");
}

/// <summary>
/// Parley's API (../shared/API.md) over a <see cref="LoopbackHttpClient"/> (its own connection pool, or a closed-model
/// virtual user's one connection); paths relative to the base URL. The one client of the API: the load kit drives it,
/// the chaos kit's <see cref="Chaos.Traffic.ChaosApi"/> records its calls, and the tests' <c>ApiClient</c> creates their
/// users, conversations and messages with it.
/// </summary>
public sealed class ParleyApiClient(LoopbackHttpClient http) : IDisposable
{
    /// <summary>The password of every user the kits register (the seeder's too).</summary>
    public const string Password = "load-kit-password";

    /// <summary>The password <see cref="RegisterAndLoginAsync"/> and <see cref="LoginAsync"/> use; default <see cref="Password"/>.</summary>
    public string UserPassword { get; init; } = Password;

    private static int _handles;

    /// <summary>A handle no other run or test has used: <paramref name="prefix"/>, the process and a counter.</summary>
    public static string UniqueHandle(string prefix) =>
        $"{prefix}{Environment.ProcessId % 10000}_{Interlocked.Increment(ref _handles)}_{Random.Shared.Next(1000, 9999)}";


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
            if (response.Status != 503 || DateTimeOffset.UtcNow + wait > deadline) return ApiResponse.From(response);
            await Task.Delay(wait, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Encodes a request once, for scenarios that send the same one again and again (<see cref="SendAsync(PreparedRequest, bool, CancellationToken)"/>).</summary>
    public PreparedRequest Prepare(HttpMethod method, string path, string? token) => Http.Prepare(method.Method, path, token);

    /// <summary>Sends a prepared request; <paramref name="discardBody"/> when only the status matters.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ApiResponse> SendAsync(PreparedRequest request, bool discardBody, CancellationToken ct)
    {
        return ApiResponse.From(await Http.SendAsync(request, discardBody, ct).ConfigureAwait(false));
    }

    /// <summary>A client on the same server with one connection of its own (a closed-model virtual user's).</summary>
    public ParleyApiClient WithOwnConnection() => new(Http.WithOwnConnection());

    public void Dispose() => Http.Dispose();

    public Task<ApiResponse> GetAsync(string path, string? token, CancellationToken ct) => SendAsync(HttpMethod.Get, path, token, ct: ct);

    public Task<ApiResponse> PostAsync(string path, string? token, object body, CancellationToken ct) => SendAsync(HttpMethod.Post, path, token, body, ct: ct);

    /// <summary>Registers <paramref name="handle"/> (409 if it exists is fine) and logs in.</summary>
    public async Task<ApiUser> RegisterAndLoginAsync(string handle, CancellationToken ct)
    {
        var registered = await PostAsync("v1/auth/register", null, new { handle, password = UserPassword }, ct).ConfigureAwait(false);
        if (registered.Status != 409) registered.EnsureSuccess($"register {handle}");
        return await LoginAsync(handle, ct).ConfigureAwait(false);
    }

    public async Task<ApiUser> LoginAsync(string handle, CancellationToken ct)
    {
        var login = (await PostAsync("v1/auth/login", null, new { handle, password = UserPassword }, ct).ConfigureAwait(false)).EnsureSuccess($"login {handle}");
        var json = login.Json;
        return new ApiUser(Guid.Parse(json.GetProperty("userId").GetString()!), handle, json.GetProperty("accessToken").GetString()!);
    }

    public async Task<Guid> CreateConversationAsync(ApiUser owner, string title, IEnumerable<Guid> participants, CancellationToken ct)
    {
        var created = (await PostAsync("v1/conversations", owner.Token, new { title, participantIds = participants.ToArray() }, ct).ConfigureAwait(false))
            .EnsureSuccess("create conversation");
        return created.Json.GetProperty("id").GetGuid();
    }

    public Task<ApiResponse> SendMessageAsync(ApiUser sender, Guid conversation, string body, string? clientMessageId, CancellationToken ct) =>
        PostAsync($"v1/conversations/{conversation}/messages", sender.Token, new { body, clientMessageId }, ct);

    public Task<ApiResponse> HistoryAsync(ApiUser reader, Guid conversation, int limit, CancellationToken ct) =>
        GetAsync($"v1/conversations/{conversation}/messages?limit={limit}", reader.Token, ct);

    /// <summary>The ids of a conversation's messages, oldest first: newer than <paramref name="after"/>, or the whole history (<see cref="ApiPaging.MessageIdsAsync"/>).</summary>
    public Task<List<Guid>> MessageIdsAsync(ApiUser reader, Guid conversation, Guid? after, CancellationToken ct) =>
        ApiPaging.MessageIdsAsync(async (path, token) =>
            JsonNode.Parse((await GetAsync(path, reader.Token, token).ConfigureAwait(false)).EnsureSuccess("history page").Body)!.AsObject(),
            conversation, after, ct);

    /// <summary>Turns a runtime flag on or off (needs an admin token).</summary>
    public Task<ApiResponse> SetFlagAsync(ApiUser admin, string name, bool enabled, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, $"v1/admin/flags/{name}", admin.Token, new JsonObject { ["enabled"] = enabled, ["percentage"] = 100 }, ct: ct);
}

/// <summary>A user registered and logged in by the kits or the tests.</summary>
public sealed record ApiUser(Guid Id, string Handle, string Token);
