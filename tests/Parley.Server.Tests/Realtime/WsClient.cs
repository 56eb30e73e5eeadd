using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Parley.Server.Features.Realtime;

namespace Parley.Server.Tests.Realtime;

/// <summary>A test WebSocket client of <c>/v1/ws</c>: collects every frame, answers with bounded waits.</summary>
public sealed class WsClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly Channel<JsonObject> _frames = Channel.CreateUnbounded<JsonObject>();
    private readonly CancellationTokenSource _stop = new();
    private Task _receiver = Task.CompletedTask;

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    /// <summary>Every frame received so far, in order.</summary>
    public List<JsonObject> Received { get; } = [];

    /// <summary><see cref="System.Diagnostics.Stopwatch"/> timestamps of <see cref="Received"/>, index for index.</summary>
    public List<long> ReceivedAt { get; } = [];

    /// <summary>Connects and waits until the server is live for this socket (a ping answered).</summary>
    public static async Task<WsClient> ConnectAsync(Uri baseAddress, string token, string? since = null, bool waitLive = true)
    {
        var client = new WsClient();
        var uri = new UriBuilder(baseAddress) { Scheme = baseAddress.Scheme == "https" ? "wss" : "ws", Path = "/v1/ws" };
        uri.Query = "access_token=" + Uri.EscapeDataString(token) + (since is null ? "" : "&since=" + Uri.EscapeDataString(since));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client._socket.ConnectAsync(uri.Uri, timeout.Token);
        client._receiver = client.ReceiveAsync();
        if (waitLive) await client.PingAsync();
        return client;
    }

    /// <summary>
    /// Connects as a client told how to reconnect does: a socket the server closes before it is live with
    /// a code that says "reconnect with since" (<see cref="CloseCodes.ShouldReconnect"/>, e.g. 1011 when
    /// a just-restarted node's replay failed) is opened again, at most <paramref name="attempts"/> times.
    /// </summary>
    public static async Task<WsClient> ReconnectAsync(Uri baseAddress, string token, string? since, int attempts = 5)
    {
        for (var attempt = 1; ; attempt++)
        {
            var client = await ConnectAsync(baseAddress, token, since, waitLive: false);
            try
            {
                await client.PingAsync();
                return client;
            }
            catch (Exception) when (attempt < attempts && client.CloseStatus is { } status && CloseCodes.ShouldReconnect((int)status))
            {
                await client.DisposeAsync();
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        }
    }

    /// <summary>Sends a ping and waits for its pong: every frame queued before it has arrived.</summary>
    public async Task PingAsync(TimeSpan? timeout = null)
    {
        var before = Received.Count(f => Type(f) == "pong");
        await SendTextAsync("""{"type":"ping"}""");
        await WaitUntilAsync(() => Received.Count(f => Type(f) == "pong") > before, timeout ?? TimeSpan.FromSeconds(30), "a pong");
    }

    public Task SendTextAsync(string text) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    public static string? Type(JsonObject frame) => frame["type"]?.GetValue<string>();

    public List<JsonObject> Events(string? type = null)
    {
        lock (Received) return Received.Where(f => f["eventId"] is not null && (type is null || Type(f) == type)).ToList();
    }

    public List<Guid> MessageIds()
    {
        lock (Received)
            return Received.Where(f => Type(f) == "message.created").Select(f => Guid.Parse(f["message"]!["id"]!.GetValue<string>())).ToList();
    }

    /// <summary>The index in <see cref="Received"/> of the last <c>resync.required</c>; −1 when never told.</summary>
    public int LastResyncIndex()
    {
        lock (Received) return Received.FindLastIndex(f => Type(f) == "resync.required");
    }

    /// <summary>The last message delivered before frame <paramref name="index"/>: where a told client's REST catch-up starts (null: none yet).</summary>
    public Guid? LastMessageIdBefore(int index)
    {
        lock (Received)
        {
            var last = Received.Take(index).LastOrDefault(f => Type(f) == "message.created");
            return last is null ? null : Guid.Parse(last["message"]!["id"]!.GetValue<string>());
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds; fails with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            lock (Received)
            {
                if (condition()) return;
            }
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"Waited {timeout.TotalSeconds:N0} s for {what}; received {Received.Count} frames (last: {Received.LastOrDefault()?.ToJsonString()}), socket {_socket.State} {_socket.CloseStatus}.");
            if (_receiver.IsCompleted && !condition())
                Assert.Fail($"The socket closed ({_socket.CloseStatus} {_socket.CloseStatusDescription}) before {what}; received {Received.Count} frames.");
            await Task.Delay(20);
        }
    }

    public Task WaitForMessagesAsync(int count, TimeSpan? timeout = null) =>
        WaitUntilAsync(() => Received.Count(f => Type(f) == "message.created") >= count, timeout ?? TimeSpan.FromSeconds(30), $"{count} message.created events");

    private async Task ReceiveAsync()
    {
        var buffer = new byte[256 * 1024];
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                using var ms = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer, _stop.Token);
                    ms.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);
                if (result.MessageType == WebSocketMessageType.Close) return;
                var frame = JsonNode.Parse(ms.ToArray())!.AsObject();
                lock (Received)
                {
                    Received.Add(frame);
                    ReceivedAt.Add(System.Diagnostics.Stopwatch.GetTimestamp());
                }
                _frames.Writer.TryWrite(frame);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
        }
    }

    /// <summary>Waits (bounded) for the server to close the socket; returns the close code it sent.</summary>
    public async Task<int?> WaitForCloseAsync(TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        if (await Task.WhenAny(_receiver, Task.Delay(limit)) != _receiver)
            Assert.Fail($"The server did not close the socket within {limit.TotalSeconds:N0} s ({_socket.State}).");
        return (int?)_socket.CloseStatus;
    }

    /// <summary>Closes the handshake politely (bounded).</summary>
    public async Task CloseAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
            }
        }
        await Task.WhenAny(_receiver, Task.Delay(5000));
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        _stop.Cancel();
        _socket.Dispose();
        _stop.Dispose();
    }
}
