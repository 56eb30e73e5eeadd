using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Parley.Kit.Chaos.Invariants;

namespace Parley.Kit.Chaos.Traffic;

/// <summary>A registered, logged-in user.</summary>
public sealed record ChaosUser(Guid Id, string Handle, string Token);

/// <summary>
/// The public API as the chaos kit drives it: each call is timed and recorded in the <see cref="ChaosLedger"/>
/// (acknowledged messages, membership changes and every outcome), bounded by <see cref="RequestTimeout"/>. Loopback only.
/// </summary>
public sealed class ChaosApi : IDisposable
{
    private static int _handles;
    private readonly HttpClient[] _http;
    private int _next;

    public ChaosApi(ChaosLedger ledger, IReadOnlyList<Uri> nodes, TimeSpan? requestTimeout = null)
    {
        if (nodes.Count == 0 || nodes.Any(n => !IPAddress.TryParse(n.Host, out var ip) || !IPAddress.IsLoopback(ip)))
            throw new ArgumentException("Chaos traffic goes to 127.0.0.1 only.", nameof(nodes));
        Ledger = ledger;
        RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(10);
        _http = nodes.Select(node => new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) })
        {
            BaseAddress = node,
            Timeout = Timeout.InfiniteTimeSpan,
        }).ToArray();
    }

    public ChaosLedger Ledger { get; }

    /// <summary>A request without an answer within this long counts as hung.</summary>
    public TimeSpan RequestTimeout { get; }

    /// <summary>How many nodes the API spreads its calls over.</summary>
    public int NodeCount => _http.Length;

    public static string UniqueHandle(string prefix) => $"{prefix}{Environment.ProcessId % 10000}_{Interlocked.Increment(ref _handles)}_{Random.Shared.Next(1000, 9999)}";

    public async Task<ChaosUser> NewUserAsync(string prefix, string? handle = null)
    {
        handle ??= UniqueHandle(prefix);
        var (register, _) = await CallAsync("setup:register", null, HttpMethod.Post, "/v1/auth/register", new { handle, password = "chaos password" }).ConfigureAwait(false);
        if (register is not (201 or 409)) throw new InvalidOperationException($"register {handle}: {register}");
        return await LoginAsync(handle).ConfigureAwait(false);
    }

    public async Task<ChaosUser> LoginAsync(string handle)
    {
        var (status, body) = await CallAsync("setup:login", null, HttpMethod.Post, "/v1/auth/login", new { handle, password = "chaos password" }).ConfigureAwait(false);
        if (status != 200 || body is null) throw new InvalidOperationException($"login {handle}: {status} {body?["detail"]}");
        return new ChaosUser(Guid.Parse(body["userId"]!.GetValue<string>()), handle, body["accessToken"]!.GetValue<string>());
    }

    /// <summary>Creates a conversation owned by <paramref name="owner"/> with <paramref name="members"/>; records them as initial members.</summary>
    public async Task<Guid> CreateConversationAsync(ChaosUser owner, IReadOnlyCollection<ChaosUser> members)
    {
        var (status, body) = await CallAsync("setup:conversation", owner, HttpMethod.Post, "/v1/conversations",
            new { title = "chaos", participantIds = members.Select(m => m.Id).ToArray() }).ConfigureAwait(false);
        if (status != 201 || body is null) throw new InvalidOperationException($"create conversation: {status}");
        var id = Guid.Parse(body["id"]!.GetValue<string>());
        Ledger.RecordInitialMembers(id, members.Select(m => m.Id).Append(owner.Id));
        return id;
    }

    public async Task SetFlagAsync(ChaosUser admin, string flag, bool enabled, int percentage = 100)
    {
        var (status, _) = await CallAsync("setup:flag", admin, HttpMethod.Put, $"/v1/admin/flags/{flag}", new { enabled, percentage }).ConfigureAwait(false);
        if (status is not (200 or 204)) throw new InvalidOperationException($"flag {flag}: {status} (is the admin configured?)");
    }

    /// <summary>Sends a message; a 201 (or an idempotent 200 replay) goes to the ledger as acknowledged. Returns the status.</summary>
    public async Task<int> SendAsync(ChaosUser sender, Guid conversation, string clientMessageId, string? body = null)
    {
        var start = Ledger.NowMs;
        var (status, json) = await CallAsync("send", sender, HttpMethod.Post, $"/v1/conversations/{conversation}/messages",
            new { body = body ?? $"chaos {clientMessageId}", clientMessageId }).ConfigureAwait(false);
        if (status is 200 or 201 && json?["id"] is { } id)
            Ledger.Record(new SentMessage(Guid.Parse(id.GetValue<string>()), conversation, sender.Id, clientMessageId, start, Ledger.NowMs));
        return status;
    }

    public async Task<int> HistoryAsync(ChaosUser reader, Guid conversation, int limit = 50) =>
        (await CallAsync("history", reader, HttpMethod.Get, $"/v1/conversations/{conversation}/messages?limit={limit}").ConfigureAwait(false)).Status;

    public async Task<int> ListAsync(ChaosUser reader) =>
        (await CallAsync("list", reader, HttpMethod.Get, "/v1/conversations?limit=20").ConfigureAwait(false)).Status;

    /// <summary>Renames a conversation with its current ETag (GET then PATCH with If-Match); 409 on a race is an expected answer.</summary>
    public async Task<int> RenameAsync(ChaosUser user, Guid conversation, string title)
    {
        var (status, body) = await CallAsync("get", user, HttpMethod.Get, $"/v1/conversations/{conversation}").ConfigureAwait(false);
        if (status != 200 || body is null) return status;
        var version = body["version"]!.ToJsonString();
        return (await CallAsync("rename", user, HttpMethod.Patch, $"/v1/conversations/{conversation}", new { title },
            request => request.Headers.IfMatch.Add(new EntityTagHeaderValue($"\"{version.Trim('"')}\""))).ConfigureAwait(false)).Status;
    }

    public Task<int> AddParticipantAsync(ChaosUser owner, Guid conversation, Guid user) =>
        ChangeMembershipAsync(owner, conversation, user, added: true);

    public Task<int> RemoveParticipantAsync(ChaosUser owner, Guid conversation, Guid user) =>
        ChangeMembershipAsync(owner, conversation, user, added: false);

    /// <summary>Every message id in a conversation, newest first, by following <c>nextCursor</c> (bounded to 1,000 pages).</summary>
    public async Task<IReadOnlyCollection<Guid>> ReadAllAsync(ChaosUser reader, Guid conversation, CancellationToken ct = default) =>
        await IdsOfPagesAsync("check:history", reader, $"/v1/conversations/{conversation}/messages?limit=100", 1000, $"history of {conversation}", ct).ConfigureAwait(false);

    /// <summary>The ids of every conversation <paramref name="reader"/> belongs to (bounded to 100 pages).</summary>
    public Task<IReadOnlyList<Guid>> ConversationIdsAsync(ChaosUser reader, CancellationToken ct = default) =>
        IdsOfPagesAsync("check:conversations", reader, "/v1/conversations?limit=100", 100, $"conversations of {reader.Handle}", ct);

    /// <summary>The item ids of a keyset-paged list, following <c>nextCursor</c> for at most <paramref name="maxPages"/> pages.</summary>
    private async Task<IReadOnlyList<Guid>> IdsOfPagesAsync(string operation, ChaosUser reader, string firstPage, int maxPages, string what, CancellationToken ct)
    {
        var ids = new List<Guid>();
        string? cursor = null;
        for (var page = 0; page < maxPages; page++)
        {
            ct.ThrowIfCancellationRequested();
            var path = firstPage + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            var (status, body) = await CallAsync(operation, reader, HttpMethod.Get, path).ConfigureAwait(false);
            if (status != 200 || body is null) throw new InvalidOperationException($"{what}: {status}");
            foreach (var item in body["items"]!.AsArray()) ids.Add(Guid.Parse(item!["id"]!.GetValue<string>()));
            cursor = body["nextCursor"]?.GetValue<string>();
            if (cursor is null) break;
        }
        return ids;
    }

    /// <summary>
    /// Catch-up as API.md tells a client to do after <c>resync.required</c>: the message ids newer than
    /// <paramref name="after"/>, oldest first, paging with <c>after=</c> (bounded to 1,000 pages); without
    /// <paramref name="after"/>, the whole history.
    /// </summary>
    public async Task<IReadOnlyList<Guid>> CatchUpAsync(ChaosUser reader, Guid conversation, Guid? after, CancellationToken ct = default)
    {
        if (after is null) return (await ReadAllAsync(reader, conversation, ct).ConfigureAwait(false)).Reverse().ToList();
        var ids = new List<Guid>();
        var last = after.Value;
        for (var page = 0; page < 1000; page++)
        {
            ct.ThrowIfCancellationRequested();
            var (status, body) = await CallAsync("check:catch-up", reader, HttpMethod.Get, $"/v1/conversations/{conversation}/messages?after={last}&limit=100").ConfigureAwait(false);
            if (status != 200 || body is null) throw new InvalidOperationException($"catch-up of {conversation}: {status}");
            var items = body["items"]!.AsArray();
            foreach (var item in items) ids.Add(last = Guid.Parse(item!["id"]!.GetValue<string>()));
            if (items.Count < 100) break;
        }
        return ids;
    }

    /// <summary>GET /health/ready: the check statuses by name (and the overall status under <c>""</c>); null without an answer.</summary>
    public async Task<Dictionary<string, string>?> ReadyAsync(int node = 0)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            using var response = await _http[node % _http.Length].GetAsync("/health/ready", timeout.Token).ConfigureAwait(false);
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false))!.AsObject();
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
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            var text = await _http[node % _http.Length].GetStringAsync("/metrics", timeout.Token).ConfigureAwait(false);
            var samples = Load.Sampling.PrometheusText.Parse(text).Where(s => s.Name == name).ToList();
            return samples.Count == 0 ? null : samples.Sum(s => s.Value);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>One recorded request: status (0 without an HTTP answer) and the JSON object body, if any.</summary>
    public async Task<(int Status, JsonObject? Body)> CallAsync(
        string operation, ChaosUser? user, HttpMethod method, string path, object? body = null, Action<HttpRequestMessage>? configure = null)
    {
        var http = _http[(int)((uint)Interlocked.Increment(ref _next) % _http.Length)];
        using var request = new HttpRequestMessage(method, path);
        if (user is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Token);
        if (body is not null) request.Content = JsonContent.Create(body);
        configure?.Invoke(request);
        var start = Ledger.NowMs;
        using var timeout = new CancellationTokenSource(RequestTimeout);
        try
        {
            using var response = await http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var (serverMs, cacheMs) = ServerTiming(response);
            Ledger.Record(new RequestOutcome(operation, status, start, Ledger.NowMs - start, false, response.Headers.RetryAfter is not null, null, serverMs, cacheMs));
            JsonObject? json = null;
            if (text.StartsWith('{'))
            {
                try { json = JsonNode.Parse(text) as JsonObject; }
                catch (System.Text.Json.JsonException) { }
            }
            return (status, json);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
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

    /// <summary>The <c>app</c> and <c>cache</c> durations of Parley's <c>Server-Timing</c> header (ms), when present.</summary>
    private static (double? App, double? Cache) ServerTiming(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Server-Timing", out var values)) return (null, null);
        double? app = null, cache = null;
        foreach (var metric in values.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries)))
        {
            var parts = metric.Split(";dur=");
            if (parts.Length != 2 || !double.TryParse(parts[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var ms)) continue;
            if (parts[0] == "app") app = ms;
            else if (parts[0] == "cache") cache = ms;
        }
        return (app, cache);
    }

    public void Dispose()
    {
        foreach (var http in _http) http.Dispose();
    }

    private async Task<int> ChangeMembershipAsync(ChaosUser owner, Guid conversation, Guid user, bool added)
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
