using System.Text.Json.Nodes;
using Parley.Kit.Chaos.Invariants;
using Parley.Kit.Load;

namespace Parley.Kit.Chaos.Traffic;

/// <summary>
/// The public API as the chaos kit drives it, over one <see cref="ParleyApiClient"/> per node: each call is timed and
/// recorded in the <see cref="ChaosLedger"/> (acknowledged messages, membership changes and every outcome), bounded by
/// <see cref="RequestTimeout"/>. Loopback only (the client refuses any other address).
/// </summary>
public sealed class ChaosApi : IDisposable
{
    private readonly ParleyApiClient[] _nodes;
    private int _next;

    public ChaosApi(ChaosLedger ledger, IReadOnlyList<Uri> nodes, TimeSpan? requestTimeout = null)
    {
        if (nodes.Count == 0) throw new ArgumentException("Chaos traffic needs a node.", nameof(nodes));
        Ledger = ledger;
        RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(10);
        _nodes = nodes.Select(node => new ParleyApiClient(LoadRunner.CreateClient(node, 256, RequestTimeout))).ToArray();
    }

    public ChaosLedger Ledger { get; }

    /// <summary>A request without an answer within this long counts as hung.</summary>
    public TimeSpan RequestTimeout { get; }

    /// <summary>How many nodes the API spreads its calls over.</summary>
    public int NodeCount => _nodes.Length;

    public static string UniqueHandle(string prefix) => ParleyApiClient.UniqueHandle(prefix);

    public async Task<ApiUser> NewUserAsync(string prefix, string? handle = null)
    {
        handle ??= UniqueHandle(prefix);
        var (register, _) = await CallAsync("setup:register", null, HttpMethod.Post, "/v1/auth/register", new { handle, password = ParleyApiClient.Password }).ConfigureAwait(false);
        if (register is not (201 or 409)) throw new InvalidOperationException($"register {handle}: {register}");
        return await LoginAsync(handle).ConfigureAwait(false);
    }

    public async Task<ApiUser> LoginAsync(string handle)
    {
        var (status, body) = await CallAsync("setup:login", null, HttpMethod.Post, "/v1/auth/login", new { handle, password = ParleyApiClient.Password }).ConfigureAwait(false);
        if (status != 200 || body is null) throw new InvalidOperationException($"login {handle}: {status} {body?["detail"]}");
        return new ApiUser(Guid.Parse(body["userId"]!.GetValue<string>()), handle, body["accessToken"]!.GetValue<string>());
    }

    /// <summary>Creates a conversation owned by <paramref name="owner"/> with <paramref name="members"/>; records them as initial members.</summary>
    public async Task<Guid> CreateConversationAsync(ApiUser owner, IReadOnlyCollection<ApiUser> members)
    {
        var (status, body) = await CallAsync("setup:conversation", owner, HttpMethod.Post, "/v1/conversations",
            new { title = "chaos", participantIds = members.Select(m => m.Id).ToArray() }).ConfigureAwait(false);
        if (status != 201 || body is null) throw new InvalidOperationException($"create conversation: {status}");
        var id = Guid.Parse(body["id"]!.GetValue<string>());
        Ledger.RecordInitialMembers(id, members.Select(m => m.Id).Append(owner.Id));
        return id;
    }

    public async Task SetFlagAsync(ApiUser admin, string flag, bool enabled, int percentage = 100)
    {
        var (status, _) = await CallAsync("setup:flag", admin, HttpMethod.Put, $"/v1/admin/flags/{flag}", new { enabled, percentage }).ConfigureAwait(false);
        if (status is not (200 or 204)) throw new InvalidOperationException($"flag {flag}: {status} (is the admin configured?)");
    }

    /// <summary>Sends a message; a 201 (or an idempotent 200 replay) goes to the ledger as acknowledged. Returns the status.</summary>
    public async Task<int> SendAsync(ApiUser sender, Guid conversation, string clientMessageId, string? body = null)
    {
        var start = Ledger.NowMs;
        var (status, json) = await CallAsync("send", sender, HttpMethod.Post, $"/v1/conversations/{conversation}/messages",
            new { body = body ?? $"chaos {clientMessageId}", clientMessageId }).ConfigureAwait(false);
        if (status is 200 or 201 && json?["id"] is { } id)
            Ledger.Record(new SentMessage(Guid.Parse(id.GetValue<string>()), conversation, sender.Id, clientMessageId, start, Ledger.NowMs));
        return status;
    }

    public async Task<int> HistoryAsync(ApiUser reader, Guid conversation, int limit = 50) =>
        (await CallAsync("history", reader, HttpMethod.Get, $"/v1/conversations/{conversation}/messages?limit={limit}").ConfigureAwait(false)).Status;

    public async Task<int> ListAsync(ApiUser reader) =>
        (await CallAsync("list", reader, HttpMethod.Get, "/v1/conversations?limit=20").ConfigureAwait(false)).Status;

    /// <summary>Renames a conversation with its current ETag (GET then PATCH with If-Match); 409 on a race is an expected answer.</summary>
    public async Task<int> RenameAsync(ApiUser user, Guid conversation, string title)
    {
        var (status, body) = await CallAsync("get", user, HttpMethod.Get, $"/v1/conversations/{conversation}").ConfigureAwait(false);
        if (status != 200 || body is null) return status;
        var version = body["version"]!.ToJsonString();
        return (await CallAsync("rename", user, HttpMethod.Patch, $"/v1/conversations/{conversation}", new { title },
            [("If-Match", $"\"{version.Trim('"')}\"")]).ConfigureAwait(false)).Status;
    }

    public Task<int> AddParticipantAsync(ApiUser owner, Guid conversation, Guid user) =>
        ChangeMembershipAsync(owner, conversation, user, added: true);

    public Task<int> RemoveParticipantAsync(ApiUser owner, Guid conversation, Guid user) =>
        ChangeMembershipAsync(owner, conversation, user, added: false);

    /// <summary>Every message id in a conversation, newest first (bounded to 1,000 pages).</summary>
    public async Task<IReadOnlyCollection<Guid>> ReadAllAsync(ApiUser reader, Guid conversation, CancellationToken ct = default)
    {
        var ids = await ApiPaging.MessageIdsAsync(Pages("check:history", reader), conversation, null, ct).ConfigureAwait(false);
        ids.Reverse();
        return ids;
    }

    /// <summary>The ids of every conversation <paramref name="reader"/> belongs to (bounded to 100 pages).</summary>
    public async Task<IReadOnlyList<Guid>> ConversationIdsAsync(ApiUser reader, CancellationToken ct = default) =>
        await ApiPaging.IdsAsync(Pages("check:conversations", reader), "/v1/conversations?limit=100", 100, ct).ConfigureAwait(false);

    /// <summary>
    /// Catch-up as API.md tells a client to do after <c>resync.required</c>: the message ids newer than
    /// <paramref name="after"/>, oldest first; without <paramref name="after"/>, the whole history.
    /// </summary>
    public async Task<IReadOnlyList<Guid>> CatchUpAsync(ApiUser reader, Guid conversation, Guid? after, CancellationToken ct = default) =>
        await ApiPaging.MessageIdsAsync(Pages(after is null ? "check:history" : "check:catch-up", reader), conversation, after, ct).ConfigureAwait(false);

    /// <summary>Pages read as recorded calls; a page without a 200 throws.</summary>
    private ApiPaging.PageReader Pages(string operation, ApiUser reader) => async (path, _) =>
    {
        var (status, body) = await CallAsync(operation, reader, HttpMethod.Get, path).ConfigureAwait(false);
        return status == 200 && body is not null ? body : throw new InvalidOperationException($"{operation} {path}: {status}");
    };

    /// <summary>GET /health/ready: the check statuses by name (and the overall status under <c>""</c>); null without an answer.</summary>
    public async Task<Dictionary<string, string>?> ReadyAsync(int node = 0)
    {
        try
        {
            var body = JsonNode.Parse((await UnrecordedGetAsync("/health/ready", node).ConfigureAwait(false)).Text)!.AsObject();
            var result = new Dictionary<string, string> { [""] = body["status"]!.GetValue<string>() };
            if (body["checks"] is JsonObject checks)
                foreach (var (name, check) in checks) result[name] = check!["status"]!.GetValue<string>();
            return result;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or System.Text.Json.JsonException or NullReferenceException)
        {
            return null;
        }
    }

    /// <summary>The sum of a node's <c>/metrics</c> samples named <paramref name="name"/>; null without an answer or without the series.</summary>
    public async Task<double?> MetricAsync(string name, int node)
    {
        try
        {
            var response = await UnrecordedGetAsync("/metrics", node).ConfigureAwait(false);
            if (!response.IsSuccess) return null;
            var samples = Load.Sampling.PrometheusText.Parse(response.Text).Where(s => s.Name == name).ToList();
            return samples.Count == 0 ? null : samples.Sum(s => s.Value);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>A GET of a node's own endpoint (readiness, metrics), not recorded, bounded to 3 s.</summary>
    private async Task<ApiResponse> UnrecordedGetAsync(string path, int node)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        return await _nodes[node % _nodes.Length].GetAsync(path, null, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>One recorded request: status (0 without an HTTP answer) and the JSON object body, if any.</summary>
    public async Task<(int Status, JsonObject? Body)> CallAsync(
        string operation, ApiUser? user, HttpMethod method, string path, object? body = null, IReadOnlyList<(string Name, string Value)>? headers = null)
    {
        var api = _nodes[(int)((uint)Interlocked.Increment(ref _next) % _nodes.Length)];
        var start = Ledger.NowMs;
        using var timeout = new CancellationTokenSource(RequestTimeout);
        try
        {
            var response = await api.SendAsync(method, path, user?.Token, body, headers, timeout.Token).ConfigureAwait(false);
            Ledger.Record(new RequestOutcome(operation, response.Status, start, Ledger.NowMs - start, false, response.RetryAfter is not null, null,
                response.ServerAppMs, response.ServerCacheMs));
            JsonObject? json = null;
            var text = response.Text;
            if (text.StartsWith('{'))
            {
                try { json = JsonNode.Parse(text) as JsonObject; }
                catch (System.Text.Json.JsonException) { }
            }
            return (response.Status, json);
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested || e.InnerException is TimeoutException)
        {
            Ledger.Record(new RequestOutcome(operation, 0, start, Ledger.NowMs - start, true, false, "timed out"));
            return (0, null);
        }
        catch (HttpRequestException e)
        {
            Ledger.Record(new RequestOutcome(operation, 0, start, Ledger.NowMs - start, false, false, e.HttpRequestError.ToString()));
            return (0, null);
        }
    }

    public void Dispose()
    {
        foreach (var api in _nodes) api.Dispose();
    }

    private async Task<int> ChangeMembershipAsync(ApiUser owner, Guid conversation, Guid user, bool added)
    {
        var start = Ledger.NowMs;
        var (status, _) = added
            ? await CallAsync("participant:add", owner, HttpMethod.Post, $"/v1/conversations/{conversation}/participants", new { userId = user }).ConfigureAwait(false)
            : await CallAsync("participant:remove", owner, HttpMethod.Delete, $"/v1/conversations/{conversation}/participants/{user}").ConfigureAwait(false);
        if (status is 201 or 204)
            Ledger.Record(new MembershipChange(conversation, user, added, start, Ledger.NowMs));
        else if (status is 0 or >= 500)
            Ledger.Record(new MembershipChange(conversation, user, added, start, double.MaxValue)); // outcome unknown: in doubt from now on
        return status;
    }
}
