using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Parley.Server.Delivery;

namespace Parley.Server.Features.Realtime;

/// <summary>One frame waiting in a connection's send queue.</summary>
/// <param name="Id">The eventId, or null for control replies (pong).</param>
public sealed record OutgoingFrame(StreamId? Id, byte[] Frame, DateTime? MessageCreatedAt)
{
    public static readonly OutgoingFrame Pong = new(null, """{"type":"pong"}"""u8.ToArray(), null);

    public static readonly OutgoingFrame ResyncRequired = new(null, """{"type":"resync.required"}"""u8.ToArray(), null);

    public static OutgoingFrame Of(DeliveryEvent e) => new(e.Id, e.Frame, e.MessageCreatedAt);
}

/// <summary>
/// The WebSocket transport of one client: a bounded send queue drained by a single sender, a receive
/// loop for client pings and close frames, and the close handshake. The slow-client policy: while the
/// connection replays (<c>since</c>), a full queue only means "replay again from the stream"; once
/// live, a full queue closes the socket with <see cref="CloseCodes.SlowConsumer"/>.
/// </summary>
/// <param name="onTyping">Gets the client's <c>typing</c> frames (see <see cref="TypingRelay"/>); null ignores them.</param>
public sealed class RealtimeConnection(
    Guid userId, Guid sessionId, WebSocket socket, int queueCapacity, TimeProvider time, Action<RealtimeConnection, Guid>? onTyping = null)
{
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(2);

    private readonly Channel<OutgoingFrame> _queue = Channel.CreateBounded<OutgoingFrame>(
        new BoundedChannelOptions(queueCapacity) { SingleReader = true, SingleWriter = false, FullMode = BoundedChannelFullMode.Wait });
    private readonly TaskCompletionSource<int> _close = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _closing = new();
    private readonly Lock _gate = new();
    private bool _live;
    private bool _overflowedDuringReplay;
    private StreamId _lastReplayed = StreamId.Zero;
    private long _lastTyping = long.MinValue;

    public Guid UserId { get; } = userId;

    /// <summary>The login session of the access token the socket was opened with.</summary>
    public Guid SessionId { get; } = sessionId;

    /// <summary>True once a close was requested (by either side, the server's shutdown or the slow-client policy).</summary>
    public bool IsClosing => _close.Task.IsCompleted;

    /// <summary>Canceled when the connection starts closing.</summary>
    public CancellationToken Closing => _closing.Token;

    /// <summary>Queues a frame. False when it was not queued (closing, or a full queue — see the class remarks).</summary>
    public bool Enqueue(OutgoingFrame frame)
    {
        if (IsClosing) return false;
        if (_queue.Writer.TryWrite(frame)) return true;
        lock (_gate)
        {
            if (!_live)
            {
                _overflowedDuringReplay = true;
                return false;
            }
        }
        RequestClose(CloseCodes.SlowConsumer);
        return false;
    }

    /// <summary>True (and the slot taken) when this socket's last relayed typing frame is at least <paramref name="interval"/> old.</summary>
    public bool TryTakeTypingSlot(long now, TimeSpan interval, TimeProvider clock)
    {
        var last = Volatile.Read(ref _lastTyping);
        if (last != long.MinValue && clock.GetElapsedTime(last, now) < interval) return false;
        return Interlocked.CompareExchange(ref _lastTyping, now, last) == last;
    }

    /// <summary>Asks the connection to close with <paramref name="code"/>; the first request wins.</summary>
    public void RequestClose(int code)
    {
        if (!_close.TrySetResult(code)) return;
        _queue.Writer.TryComplete();
        try
        {
            _closing.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // already finished
        }
    }

    /// <summary>Writes a frame directly; only during replay, before the sender starts.</summary>
    public Task SendDirectAsync(byte[] frame, CancellationToken ct) =>
        socket.SendAsync(frame.AsMemory(), WebSocketMessageType.Text, endOfMessage: true, ct).AsTask();

    /// <summary>
    /// Ends the replay at <paramref name="lastReplayed"/>: queued live events up to it are dropped as
    /// duplicates. Returns false (and empties the queue) when live events were lost to a full queue
    /// meanwhile; the caller then replays on from the stream, which holds them.
    /// </summary>
    public bool TryGoLive(StreamId lastReplayed)
    {
        lock (_gate)
        {
            if (_overflowedDuringReplay)
            {
                _overflowedDuringReplay = false;
                while (_queue.Reader.TryRead(out _))
                {
                }
                return false;
            }
            _lastReplayed = lastReplayed;
            _live = true;
            return true;
        }
    }

    /// <summary>
    /// Runs the connection until it closes: <paramref name="replay"/> first (it ends by calling
    /// <see cref="TryGoLive"/>), then the send queue. Returns the close code.
    /// </summary>
    public async Task<int> RunAsync(Func<RealtimeConnection, CancellationToken, Task> replay, CancellationToken stopping)
    {
        await using var onStop = stopping.Register(() => RequestClose(CloseCodes.GoingAway));
        var receiver = ReceiveLoopAsync();
        Task sender = Task.CompletedTask;
        try
        {
            await replay(this, _closing.Token);
            sender = SendLoopAsync();
        }
        catch (OperationCanceledException) when (IsClosing)
        {
        }
        catch (WebSocketException)
        {
            RequestClose(CloseCodes.DeadPeer);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            RequestClose(CloseCodes.InternalError);
        }

        var code = await _close.Task;
        await WaitAsync(sender, CloseGrace);
        if (code != CloseCodes.DeadPeer && socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            using var timeout = new CancellationTokenSource(CloseGrace, time);
            try
            {
                await socket.CloseOutputAsync(CloseCodes.Status(code), CloseCodes.Reason(code), timeout.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
                // the peer is gone
            }
        }
        if (!await WaitAsync(receiver, CloseGrace)) socket.Abort();
        return code;
    }

    private static async Task<bool> WaitAsync(Task task, TimeSpan grace)
    {
        if (task.IsCompleted) return true;
        await Task.WhenAny(task, Task.Delay(grace));
        return task.IsCompleted;
    }

    private async Task SendLoopAsync()
    {
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_closing.Token))
            {
                while (reader.TryRead(out var frame))
                {
                    if (IsClosing) return;
                    if (frame.Id is { } id && id <= _lastReplayed)
                    {
                        DeliveryMetrics.DuplicatesSkipped.Add(1, new KeyValuePair<string, object?>("where", "connection"));
                        continue;
                    }
                    await socket.SendAsync(frame.Frame.AsMemory(), WebSocketMessageType.Text, endOfMessage: true, _closing.Token);
                    if (frame.MessageCreatedAt is { } at)
                        DeliveryMetrics.Latency.Record(Math.Max(0, (time.GetUtcNow().UtcDateTime - at).TotalSeconds));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException)
        {
            RequestClose(CloseCodes.DeadPeer);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        await Task.Yield();
        var buffer = new byte[CloseCodes.MaxClientFrameBytes];
        try
        {
            while (true)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (count == buffer.Length)
                    {
                        RequestClose(CloseCodes.MessageTooBig);
                        return;
                    }
                    result = await socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
                    count += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                switch (result.MessageType)
                {
                    case WebSocketMessageType.Close:
                        RequestClose(CloseCodes.Normal);
                        return;
                    case WebSocketMessageType.Binary:
                        RequestClose(CloseCodes.UnsupportedData);
                        continue;
                    default:
                        switch (ClientFrame.Parse(buffer.AsSpan(0, count)))
                        {
                            case null:
                                RequestClose(CloseCodes.PolicyViolation);
                                break;
                            case { Type: ClientFrame.Ping }:
                                Enqueue(OutgoingFrame.Pong);
                                break;
                            case { Type: ClientFrame.Typing, ConversationId: { } conversation }:
                                onTyping?.Invoke(this, conversation);
                                break;
                        }
                        continue;
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            RequestClose(CloseCodes.DeadPeer);
        }
    }
}

/// <summary>
/// A frame a client sent: <c>{"type":"ping"}</c>, <c>{"type":"typing","conversationId"}</c>, or another
/// type (ignored, for forward compatibility; so is a typing frame without a valid conversationId).
/// </summary>
public sealed record ClientFrame(string Type, Guid? ConversationId)
{
    public const string Ping = "ping";
    public const string Typing = "typing";

    /// <summary>The frame, or null when it is not a JSON object with a string <c>type</c> (close 1008).</summary>
    public static ClientFrame? Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                return null;
            Guid? conversation = root.TryGetProperty("conversationId", out var c) && c.ValueKind == JsonValueKind.String && c.TryGetGuid(out var id) ? id : null;
            return new ClientFrame(type.GetString()!, conversation);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
