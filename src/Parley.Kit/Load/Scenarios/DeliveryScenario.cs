using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using Parley.Kit.Load.Engine;

namespace Parley.Kit.Load.Scenarios;

/// <summary>
/// WebSocket sockets listen while HTTP sends messages (the seed's WebSocket + HTTP test and its message soak).
/// Users are paired into conversations and each holds sockets/users sockets, so a message is due on every socket of
/// both members. Measures end-to-end delivery (POST start → frame received) into the <c>delivery</c> histogram, and
/// checks zero loss: every 201 message reached every socket due to get it and is in history. Counts <c>lost</c>,
/// <c>duplicates</c> (an eventId seen twice on one socket), <c>disconnects</c> and <c>leaks</c> (a message of a
/// conversation the socket's user is not a participant of).
/// </summary>
public abstract class DeliveryScenario : ILoadScenario, IWebSocketScenario
{
    private static readonly TimeSpan DeliveryGrace = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Guid, ConcurrentBag<Guid>> _accepted = new();
    private readonly List<Listener> _listeners = [];
    private readonly CancellationTokenSource _closing = new();
    private Fixture? _fixture;
    private Dictionary<Guid, int> _socketsPerUser = [];
    private Dictionary<Guid, HashSet<Guid>> _membersOf = [];
    private string _body = "";
    private string _prefix = "";

    public abstract string Name { get; }

    public abstract string Description { get; }

    public abstract ScenarioDefaults Defaults { get; }

    protected abstract int BodyBytes { get; }

    private sealed class Pending(long started, int due)
    {
        public readonly long Started = started;
        public readonly int Due = due;
        public int Delivered;
        public bool Accepted;
    }

    public async Task SetupAsync(LoadContext context, CancellationToken ct)
    {
        var sockets = Math.Max(2, context.Profile.Connections);
        _fixture = await CreateFixtureAsync(context, sockets, ct).ConfigureAwait(false);
        var users = _fixture.Users.Count;
        _membersOf = _fixture.Conversations.ToDictionary(c => c.Id, c => c.Members.Select(m => m.Id).ToHashSet());
        _body = new string('d', BodyBytes);
        _prefix = $"{context.RunId}-";
        foreach (var name in new[] { "lost", "duplicates", "disconnects", "leaks" }) context.DeclareCounter(name);

        context.Log($"opening {sockets:N0} WebSockets ...");
        var wsUri = new UriBuilder(context.BaseUri) { Scheme = context.BaseUri.Scheme == "https" ? "wss" : "ws" }.Uri;
        var listeners = new Listener[sockets];
        await Parallel.ForEachAsync(Enumerable.Range(0, sockets), new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = ct }, async (s, token) =>
        {
            var user = _fixture.Users[s % users];
            var socket = new ClientWebSocket();
            socket.Options.SetRequestHeader("Authorization", $"Bearer {user.Token}");
            socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(30);
            await socket.ConnectAsync(new Uri(wsUri, "v1/ws"), token).ConfigureAwait(false);
            listeners[s] = new Listener(socket, this, context, user.Id);
        }).ConfigureAwait(false);
        _listeners.AddRange(listeners);
        _socketsPerUser = Enumerable.Range(0, sockets).GroupBy(s => _fixture.Users[s % users].Id).ToDictionary(g => g.Key, g => g.Count());
        foreach (var listener in _listeners) listener.Start(_closing.Token);
    }

    /// <summary>When set, every socket sends <c>{"type":"ping"}</c> this often and counts the <c>pong</c>s (<c>pings</c>, <c>pongs</c>, <c>heartbeats_missed</c>).</summary>
    protected virtual TimeSpan? Heartbeat => null;

    private static long Count(LoadContext context, string name) => context.Counters.GetValueOrDefault(name);

    /// <summary>Users and conversations: by default users in pairs, each pair a conversation, one user per 5 sockets.</summary>
    protected virtual async Task<Fixture> CreateFixtureAsync(LoadContext context, int sockets, CancellationToken ct)
    {
        var users = Math.Clamp(sockets / 5, 2, 200) & ~1;
        var fixture = await Fixture.UsersAsync(context, users, ct).ConfigureAwait(false);
        await fixture.AddConversationsAsync(context, users / 2, k => [fixture.Users[2 * k + 1]], ct, k => fixture.Users[2 * k]).ConfigureAwait(false);
        return fixture;
    }

    public async ValueTask<Outcome> RunOnceAsync(LoadContext context, ParleyApiClient api, long iteration, CancellationToken ct)
    {
        var fixture = _fixture!;
        var conversation = fixture.Conversations[(int)(iteration % fixture.Conversations.Count)];
        var sender = conversation.Members[(int)(iteration / fixture.Conversations.Count % conversation.Members.Count)];
        var clientMessageId = _prefix + iteration;
        var due = conversation.Members.Sum(m => _socketsPerUser.GetValueOrDefault(m.Id));
        var pending = new Pending(Stopwatch.GetTimestamp(), due);
        _pending[clientMessageId] = pending;
        var sent = await api.SendMessageAsync(sender, conversation.Id, _body, clientMessageId, ct).ConfigureAwait(false);
        if (sent.Status != 201)
        {
            _pending.TryRemove(clientMessageId, out _);
            return Outcome.Failed("send", sent.Status);
        }
        Volatile.Write(ref pending.Accepted, true);
        _accepted.GetOrAdd(conversation.Id, _ => []).Add(sent.Json.GetProperty("id").GetGuid());
        if (Volatile.Read(ref pending.Delivered) >= pending.Due) _pending.TryRemove(clientMessageId, out _);
        return Outcome.Ok("send", 201);
    }

    private void Delivered(LoadContext context, string clientMessageId)
    {
        if (!_pending.TryGetValue(clientMessageId, out var pending)) return;
        if (context.Measuring) context.Histogram("delivery").Record(Stopwatch.GetElapsedTime(pending.Started));
        if (Interlocked.Increment(ref pending.Delivered) >= pending.Due && Volatile.Read(ref pending.Accepted))
            _pending.TryRemove(clientMessageId, out _);
    }

    public async Task VerifyAsync(LoadContext context, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while ((_pending.Values.Any(p => p.Accepted && p.Delivered < p.Due) || Count(context, "pings") > Count(context, "pongs")) && deadline.Elapsed < DeliveryGrace)
            await Task.Delay(100, ct).ConfigureAwait(false);
        var undelivered = _pending.Values.Count(p => p.Accepted && p.Delivered < p.Due);
        await _closing.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_listeners.Select(l => l.CloseAsync())).ConfigureAwait(false);

        var missingFromHistory = 0;
        foreach (var (conversationId, ids) in _accepted)
        {
            var reader = _fixture!.Conversations.First(c => c.Id == conversationId).Owner;
            var stored = (await context.Setup.MessageIdsAsync(reader, conversationId, null, ct).ConfigureAwait(false)).ToHashSet();
            missingFromHistory += ids.Count(id => !stored.Contains(id));
        }
        context.Count("lost", undelivered + missingFromHistory);
        if (Heartbeat is not null) context.Count("heartbeats_missed", Math.Max(0, Count(context, "pings") - Count(context, "pongs")));
        context.Log($"{_accepted.Values.Sum(b => b.Count):N0} messages accepted: {undelivered} not delivered to every socket within {DeliveryGrace.TotalSeconds:0} s, {missingFromHistory} missing from history");
    }

    /// <summary>One socket's receive loop: frames are JSON objects; message.created frames with our clientMessageId prefix count as deliveries.</summary>
    private sealed class Listener(ClientWebSocket socket, DeliveryScenario owner, LoadContext context, Guid userId)
    {
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
        private Task _loop = Task.CompletedTask;

        private Task _heartbeat = Task.CompletedTask;

        public void Start(CancellationToken closing)
        {
            _loop = Task.Run(() => ReceiveAsync(closing), CancellationToken.None);
            if (owner.Heartbeat is { } every) _heartbeat = Task.Run(() => HeartbeatAsync(every, closing), CancellationToken.None);
        }

        private async Task HeartbeatAsync(TimeSpan every, CancellationToken closing)
        {
            var ping = """{"type":"ping"}"""u8.ToArray();
            try
            {
                while (!closing.IsCancellationRequested)
                {
                    await Task.Delay(every, closing).ConfigureAwait(false);
                    await socket.SendAsync(ping, WebSocketMessageType.Text, endOfMessage: true, closing).ConfigureAwait(false);
                    context.Count("pings");
                }
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
            {
                // the socket closed: its receive loop counts the disconnect
            }
        }

        private async Task ReceiveAsync(CancellationToken closing)
        {
            var buffer = new ArrayBufferWriter<byte>(8192);
            try
            {
                while (!closing.IsCancellationRequested)
                {
                    buffer.ResetWrittenCount();
                    ValueWebSocketReceiveResult result;
                    do
                    {
                        result = await socket.ReceiveAsync(buffer.GetMemory(8192), closing).ConfigureAwait(false);
                        buffer.Advance(result.Count);
                    }
                    while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        if (!closing.IsCancellationRequested) context.Count("disconnects");
                        return;
                    }
                    Handle(buffer.WrittenSpan);
                }
            }
            catch (OperationCanceledException) when (closing.IsCancellationRequested)
            {
            }
            catch (WebSocketException)
            {
                if (!closing.IsCancellationRequested) context.Count("disconnects");
            }
        }

        private void Handle(ReadOnlySpan<byte> frame)
        {
            var reader = new Utf8JsonReader(frame);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (!root.TryGetProperty("type", out var type)) return;
            if (type.GetString() == "pong") context.Count("pongs");
            if (type.GetString() != "message.created") return;
            if (root.TryGetProperty("conversationId", out var conversation) && conversation.TryGetGuid(out var conversationId)
                && owner._membersOf.TryGetValue(conversationId, out var members) && !members.Contains(userId))
            {
                context.Count("leaks");
                return;
            }
            if (root.TryGetProperty("eventId", out var eventId) && !_seen.Add(eventId.GetString() ?? ""))
            {
                context.Count("duplicates");
                return;
            }
            if (root.TryGetProperty("message", out var message) && message.TryGetProperty("clientMessageId", out var id)
                && id.GetString() is { } clientMessageId && clientMessageId.StartsWith(owner._prefix, StringComparison.Ordinal))
                owner.Delivered(context, clientMessageId);
        }

        public async Task CloseAsync()
        {
            try
            {
                if (socket.State == WebSocketState.Open)
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "load run over", timeout.Token).ConfigureAwait(false);
                }
                await Task.WhenAll(_loop, _heartbeat).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or TimeoutException)
            {
            }
            finally
            {
                socket.Dispose();
            }
        }
    }
}

public sealed class WebSocketScenario : DeliveryScenario
{
    public override string Name => "ws";

    public override string Description => "WebSockets listening + HTTP sends; end-to-end delivery latency, zero loss, zero disconnects";

    protected override int BodyBytes => 100;

    public override ScenarioDefaults Defaults { get; } = new(LoadModel.Open, 1000, 1000, TimeSpan.FromMinutes(1),
        ["delivery.p99<100ms", "lost==0", "duplicates==0", "disconnects==0", "errors<0.1%"],
        SeedTarget: "50 sockets, 500 req/s, 95% delivered < 500 ms, zero disconnects",
        SloTarget: "1,000 sockets, 1,000 msg/s, delivery p99 < 100 ms, zero disconnects");
}

/// <summary>
/// Seed 002 test 12: 100 users each own one conversation of 10 participants (themselves and the next 9), one socket per
/// user; a socket that gets a message of a conversation its user is not in counts a leak.
/// </summary>
public sealed class ConversationsScenario : DeliveryScenario
{
    private const int Members = 10;

    public override string Name => "conversations";

    public override string Description => "100 users × 1 conversation of 10 participants each, a socket per user; zero cross-conversation leakage, zero loss";

    protected override int BodyBytes => 200;

    public override ScenarioDefaults Defaults { get; } = new(LoadModel.Open, 100, 100, TimeSpan.FromMinutes(20),
        ["leaks==0", "lost==0", "duplicates==0", "disconnects==0", "errors<0.1%"],
        SeedTarget: "100 users, 10 participants per conversation, 100 messages per conversation, zero leakage",
        SloTarget: "zero leakage, zero loss");

    protected override async Task<Fixture> CreateFixtureAsync(LoadContext context, int sockets, CancellationToken ct)
    {
        var users = Math.Max(Members, sockets);
        var fixture = await Fixture.UsersAsync(context, users, ct).ConfigureAwait(false);
        await fixture.AddConversationsAsync(context, users, k => Enumerable.Range(1, Members - 1).Select(i => fixture.Users[(k + i) % users]), ct,
            k => fixture.Users[k]).ConfigureAwait(false);
        return fixture;
    }
}

/// <summary>Seed 002 test 14: 100 sockets held for 30 minutes, a heartbeat every 30 s, one message per socket a minute.</summary>
public sealed class LongevityScenario : DeliveryScenario
{
    public override string Name => "longevity";

    public override string Description => "WebSockets held for a long time: heartbeat ping every 30 s answered, 1 message per socket a minute, zero disconnects, stable memory";

    protected override int BodyBytes => 100;

    protected override TimeSpan? Heartbeat => TimeSpan.FromSeconds(30);

    public override ScenarioDefaults Defaults { get; } = new(LoadModel.Open, 100 / 60.0, 100, TimeSpan.FromMinutes(30),
        ["disconnects==0", "heartbeats_missed==0", "lost==0", "duplicates==0", "memory_growth<5%"],
        SeedTarget: "100 sockets, heartbeat every 30 s, 1 message/minute per socket, 30 min: zero disconnects, memory growth < 5%",
        SloTarget: "same");
}

public sealed class SoakScenario : DeliveryScenario
{
    public override string Name => "soak";

    public override string Description => "1 KiB messages at a steady rate for a long time: zero loss (history and sockets), memory growth";

    protected override int BodyBytes => 1024;

    public override ScenarioDefaults Defaults { get; } = new(LoadModel.Open, 500, 100, TimeSpan.FromMinutes(30),
        ["p95<25ms", "errors==0", "lost==0", "duplicates==0", "delivery.p99<250ms", "memory_growth<5%"],
        SeedTarget: "500 req/s for 30 min, p95 < 100 ms, errors < 0.1%, zero loss, consumer lag < 5 s",
        SloTarget: "same load, p95 < 25 ms, zero errors, zero loss, consumer lag p99 < 250 ms, memory growth < 5%");
}
