using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Parley.Kit.Chaos.Invariants;
using Parley.Kit.Load;

namespace Parley.Kit.Chaos.Traffic;

/// <summary>
/// A user's real-time client: a WebSocket on <c>/v1/ws</c> that records every <c>message.created</c> in the ledger and, when
/// the socket drops, reconnects (to the next node, after a short pause) with <c>since</c> = the last event id, as a client
/// that must not miss anything does. Told <c>resync.required</c>, it catches up over REST (<c>after=</c> the last message it
/// saw in each of its conversations) and records those messages as deliveries too. Runs until disposed.
/// </summary>
public sealed class ChaosListener : IAsyncDisposable
{
    private readonly ChaosLedger _ledger;
    private readonly ChaosApi _api;
    private readonly Dictionary<Guid, Guid> _lastMessage = [];
    private readonly IReadOnlyList<Uri> _nodes;
    private readonly ApiUser _user;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _live = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;
    private string? _lastEventId;
    private int _connects;
    private double? _droppedAtMs;
    private double _longestGapMs;
    private readonly Lock _gapLock = new();
    private int _resyncs;
    private bool _resyncPending;
    private ClientWebSocket? _socket;

    public ChaosListener(ChaosApi api, IReadOnlyList<Uri> nodes, ApiUser user, string id)
    {
        _api = api;
        _ledger = api.Ledger;
        _nodes = nodes;
        _user = user;
        Id = id;
        _ledger.RegisterListener(id, user.Id);
        _loop = Task.Run(RunAsync);
    }

    public string Id { get; }

    /// <summary>Successful connections (1 + reconnects).</summary>
    public int Connects => Volatile.Read(ref _connects);

    /// <summary><c>resync.required</c> frames received.</summary>
    public int Resyncs => Volatile.Read(ref _resyncs);

    /// <summary>
    /// The longest time (ms) this listener was without a socket: from a connection's end to the next one's start, an
    /// outage still open counting until now. 0 when its first connection never dropped.
    /// </summary>
    public double LongestGapMs
    {
        get
        {
            lock (_gapLock)
                return Math.Max(_longestGapMs, _droppedAtMs is { } dropped ? _ledger.NowMs - dropped : 0);
        }
    }

    /// <summary>Completes once the first connection is live (a pong came back).</summary>
    public Task Live => _live.Task;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket?.Abort();
        await _loop.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var attempt = 0;
        while (!_stop.IsCancellationRequested)
        {
            var node = _nodes[attempt++ % _nodes.Count];
            using var socket = new ClientWebSocket();
            _socket = socket;
            try
            {
                var uri = new UriBuilder(node) { Scheme = "ws", Path = "/v1/ws" };
                uri.Query = "access_token=" + Uri.EscapeDataString(_user.Token) + (_lastEventId is null ? "" : "&since=" + Uri.EscapeDataString(_lastEventId));
                using (var connect = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
                {
                    connect.CancelAfter(TimeSpan.FromSeconds(5));
                    await socket.ConnectAsync(uri.Uri, connect.Token).ConfigureAwait(false);
                }
                Interlocked.Increment(ref _connects);
                Connected();
                if (_resyncPending) await CatchUpAsync().ConfigureAwait(false);
                await socket.SendAsync("""{"type":"ping"}"""u8.ToArray(), WebSocketMessageType.Text, true, _stop.Token).ConfigureAwait(false);
                await ReceiveAsync(socket).ConfigureAwait(false);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or System.Text.Json.JsonException or IOException or InvalidOperationException)
            {
                // dropped: reconnect below
            }
            Dropped();
            if (!_stop.IsCancellationRequested)
                await Task.Delay(200, _stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task ReceiveAsync(ClientWebSocket socket)
    {
        var buffer = new byte[128 * 1024];
        using var frame = new MemoryStream();
        while (socket.State == WebSocketState.Open)
        {
            frame.SetLength(0);
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer, _stop.Token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close) return;
                frame.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);
            var json = JsonNode.Parse(Encoding.UTF8.GetString(frame.GetBuffer(), 0, (int)frame.Length)) as JsonObject;
            switch (json?["type"]?.GetValue<string>())
            {
                case "pong":
                    _live.TrySetResult();
                    break;
                case "resync.required":
                    Interlocked.Increment(ref _resyncs);
                    _lastEventId = null;
                    _resyncPending = true;
                    await CatchUpAsync().ConfigureAwait(false);
                    break;
                case "message.created":
                    var eventId = json["eventId"]!.GetValue<string>();
                    Saw(Guid.Parse(json["conversationId"]!.GetValue<string>()), Guid.Parse(json["message"]!["id"]!.GetValue<string>()), eventId);
                    _lastEventId = eventId;
                    break;
                default:
                    if (json?["eventId"] is { } other) _lastEventId = other.GetValue<string>();
                    break;
            }
        }
    }

    private void Connected()
    {
        lock (_gapLock)
        {
            if (_droppedAtMs is { } dropped)
                _longestGapMs = Math.Max(_longestGapMs, _ledger.NowMs - dropped);
            _droppedAtMs = null;
        }
    }

    // Only a connection that was up can drop; a failed attempt leaves the outage open.
    private void Dropped()
    {
        lock (_gapLock)
        {
            if (_connects > 0 && _droppedAtMs is null && !_stop.IsCancellationRequested)
                _droppedAtMs = _ledger.NowMs;
        }
    }

    private void Saw(Guid conversation, Guid message, string eventId)
    {
        _ledger.Record(new Delivery(Id, _user.Id, conversation, message, eventId, _ledger.NowMs));
        _lastMessage[conversation] = message;
    }

    /// <summary>Every message of the user's conversations after the last one this listener saw, over REST. A failed read throws: the socket is dropped and the next connection catches up again.</summary>
    private async Task CatchUpAsync()
    {
        foreach (var conversation in await _api.ConversationIdsAsync(_user, _stop.Token).ConfigureAwait(false))
        {
            var after = _lastMessage.TryGetValue(conversation, out var last) ? last : (Guid?)null;
            foreach (var message in await _api.CatchUpAsync(_user, conversation, after, _stop.Token).ConfigureAwait(false))
                Saw(conversation, message, "rest");
        }
        _resyncPending = false;
    }
}
