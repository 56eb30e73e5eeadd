using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Parley.Kit.Load.Http;

/// <summary>
/// One kept-alive HTTP/1.1 connection over a <see cref="Socket"/>: writes a request, reads its response, and says
/// whether it can carry the next. Timeouts and cancellation cost nothing per request: the request sets a deadline and
/// its token, and <see cref="ConnectionWatchdog"/> closes the socket of a request past its deadline or cancelled.
/// </summary>
internal sealed class HttpConnection : IByteSource, IDisposable
{
    private const int NoAbort = 0;
    private const int TimedOut = 1;
    private const int Cancelled = 2;
    private const int Closed = 3;
    /// <summary>A <see cref="_deadline"/> the watchdog has claimed: the socket is closing under the request.</summary>
    private const long Claimed = -1;

    private readonly Socket _socket;
    private readonly HttpResponseReader _reader;
    private long _deadline;
    private CancellationToken _token;
    private int _abort;

    private HttpConnection(Socket socket, LoopbackHttpOptions options)
    {
        _socket = socket;
        _reader = new HttpResponseReader(this, options.MaxHeaderBytes, options.MaxBodyBytes);
        ConnectionWatchdog.Register(this);
    }

    /// <summary>Requests this connection completed; more than 0 means the server may have closed it while idle.</summary>
    public int Completed { get; private set; }

    /// <summary>False once anything went wrong or the server asked to close: the pool disposes it instead of reusing it.</summary>
    public bool Reusable { get; private set; } = true;

    /// <summary>When it was last given back to its pool (a Stopwatch timestamp).</summary>
    public long IdleSince { get; set; }

    /// <summary>The watchdog's slot for this connection.</summary>
    internal int WatchIndex { get; set; } = -1;

    public static async ValueTask<HttpConnection> ConnectAsync(HttpOrigin origin, LoopbackHttpOptions options, CancellationToken ct)
    {
        var addresses = await origin.AddressesAsync(ct).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.ConnectTimeout);
        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, origin.Port), timeout.Token).ConfigureAwait(false);
                return new HttpConnection(socket, options);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                socket.Dispose();
                last = new TimeoutException($"no connection within {options.ConnectTimeout.TotalSeconds:0.###} s");
                break;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw HttpErrors.Connect(origin.ToString(), last!);
    }

    /// <summary>
    /// Sends <paramref name="request"/> and reads its response. Failures of the connection come out as
    /// <see cref="HttpConnectionException"/> (saying whether a retry is safe), a timeout as the client's timeout
    /// exception, a cancellation as <see cref="OperationCanceledException"/>; a bad response as HttpRequestException.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<LoopbackHttpResponse> SendAsync(ReadOnlyMemory<byte> request, bool head, bool discardBody, long deadline, TimeSpan timeout, CancellationToken ct)
    {
        _token = ct;
        Volatile.Write(ref _deadline, deadline);
        var writing = true;
        try
        {
            for (var sent = request; !sent.IsEmpty;)
                sent = sent[await _socket.SendAsync(sent, SocketFlags.None).ConfigureAwait(false)..];
            writing = false;
            var response = await _reader.ReadAsync(head, discardBody).ConfigureAwait(false);
            Completed++;
            // The watchdog may have claimed the deadline as the response completed: the socket is closing, do not reuse it.
            if (Interlocked.Exchange(ref _deadline, 0) == Claimed || !_reader.KeepAlive) Reusable = false;
            return response;
        }
        catch (Exception e)
        {
            Reusable = false;
            Interlocked.Exchange(ref _deadline, 0);
            switch (Volatile.Read(ref _abort))
            {
                case TimedOut:
                    throw HttpErrors.Timeout(timeout);
                case Cancelled:
                    throw new OperationCanceledException("The request was cancelled.", e, ct);
            }
            if (e is SocketException or ObjectDisposedException or IOException)
                throw new HttpConnectionException(writing ? $"Sending the request failed: {e.Message}" : $"Reading the response failed: {e.Message}",
                    e as SocketException, Completed > 0, writing, !_reader.ReceivedAny);
            if (e is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded } && !_reader.ReceivedAny)
                throw new HttpConnectionException(e.Message, null, Completed > 0, onWrite: false, nothingReceived: true);
            throw;
        }
    }

    /// <summary>Called by the watchdog: closes the socket under a request past its deadline or whose token was cancelled.</summary>
    internal void Check(long now)
    {
        var deadline = Volatile.Read(ref _deadline);
        if (deadline <= 0) return;
        var reason = now > deadline ? TimedOut : _token.IsCancellationRequested ? Cancelled : NoAbort;
        if (reason == NoAbort || Interlocked.CompareExchange(ref _deadline, Claimed, deadline) != deadline) return;
        Abort(reason);
    }

    private void Abort(int reason)
    {
        if (Interlocked.CompareExchange(ref _abort, reason, NoAbort) != NoAbort) return;
        _socket.Dispose();
    }

    ValueTask<int> IByteSource.ReceiveAsync(Memory<byte> buffer) => _socket.ReceiveAsync(buffer, SocketFlags.None);

    public void Dispose()
    {
        Reusable = false;
        ConnectionWatchdog.Unregister(this);
        Abort(Closed);
        _reader.Dispose();
    }
}

/// <summary>
/// One timer for every open connection of the process: ten times a second it closes the sockets of requests past
/// their deadline or cancelled, so a request costs a timestamp instead of a timer or a token registration.
/// </summary>
internal static class ConnectionWatchdog
{
    public const int PeriodMilliseconds = 100;
    private static readonly Lock Gate = new();
    private static readonly List<HttpConnection> Watched = [];
    private static Timer? _timer;
    private static int _ticking;

    public static void Register(HttpConnection connection)
    {
        lock (Gate)
        {
            connection.WatchIndex = Watched.Count;
            Watched.Add(connection);
            if (_timer is null)
            {
                using (ExecutionContext.SuppressFlow())
                    _timer = new Timer(static _ => Tick(), null, PeriodMilliseconds, PeriodMilliseconds);
            }
        }
    }

    public static void Unregister(HttpConnection connection)
    {
        lock (Gate)
        {
            var index = connection.WatchIndex;
            if (index < 0) return;
            var last = Watched[^1];
            Watched[index] = last;
            last.WatchIndex = index;
            Watched.RemoveAt(Watched.Count - 1);
            connection.WatchIndex = -1;
            if (Watched.Count == 0)
            {
                _timer?.Dispose();
                _timer = null;
            }
        }
    }

    private static void Tick()
    {
        if (Interlocked.Exchange(ref _ticking, 1) == 1) return;
        HttpConnection[] snapshot;
        int count;
        lock (Gate)
        {
            count = Watched.Count;
            snapshot = System.Buffers.ArrayPool<HttpConnection>.Shared.Rent(Math.Max(1, count));
            Watched.CopyTo(snapshot);
        }
        try
        {
            var now = Stopwatch.GetTimestamp();
            for (var i = 0; i < count; i++) snapshot[i].Check(now);
        }
        finally
        {
            System.Buffers.ArrayPool<HttpConnection>.Shared.Return(snapshot, clearArray: true);
            Volatile.Write(ref _ticking, 0);
        }
    }
}
