using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Parley.Kit.Load.Http;

/// <summary>
/// The load kit's HTTP/1.1 client: kept-alive plain-HTTP connections to a loopback origin, requests encoded straight
/// into bytes, responses parsed off a pooled buffer. Costs about what wrk costs per request, so the load kit measures
/// the server rather than its own HttpClient stack (bench/wrk-compare.sh). A failed request is retried once on a new
/// connection only when that is safe (see <see cref="HttpConnectionException"/>); everything else is the caller's.
/// Thread-safe; concurrent requests use different connections.
/// </summary>
public sealed class LoopbackHttpClient : IDisposable
{
    private readonly HttpOrigin _origin;
    private readonly HttpConnectionPool _pool;
    private readonly long _timeoutTicks;

    public LoopbackHttpClient(Uri baseUri, LoopbackHttpOptions? options = null)
        : this(new HttpOrigin(baseUri), options ?? new LoopbackHttpOptions())
    {
    }

    private LoopbackHttpClient(HttpOrigin origin, LoopbackHttpOptions options)
    {
        options.Validate();
        _origin = origin;
        Options = options;
        _pool = new HttpConnectionPool(origin, options);
        _timeoutTicks = (long)(options.RequestTimeout.TotalSeconds * Stopwatch.Frequency);
    }

    public Uri BaseAddress => _origin.BaseUri;

    public LoopbackHttpOptions Options { get; }

    /// <summary>Open connections, idle and busy.</summary>
    public int Connections => _pool.Count;

    /// <summary>A client of the same origin and limits with one connection of its own: a closed-model virtual user's, like a wrk connection.</summary>
    public LoopbackHttpClient WithOwnConnection() => new(_origin, Options with { MaxConnections = 1 });

    /// <summary>Encodes a request once for <see cref="SendAsync(PreparedRequest, bool, CancellationToken)"/> on this client or its siblings.</summary>
    public PreparedRequest Prepare(string method, string path, string? bearer = null, IReadOnlyList<(string Name, string Value)>? headers = null,
        ReadOnlySpan<byte> body = default, string? contentType = "application/json") =>
        new(_origin, HttpRequestEncoder.ToArray(_origin, method, path, bearer, headers, body, contentType),
            HttpRequestEncoder.IsIdempotent(method), method == "HEAD");

    /// <summary>Whether <paramref name="request"/> was prepared for this client's origin (by it or a sibling).</summary>
    public bool CanSend(PreparedRequest request) => ReferenceEquals(request.Origin, _origin);

    /// <summary>Sends a prepared request. <paramref name="discardBody"/>: read the body off the connection but keep none of it.</summary>
    public ValueTask<LoopbackHttpResponse> SendAsync(PreparedRequest request, bool discardBody = false, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!CanSend(request))
            throw new ArgumentException("The request was prepared by a client of another origin.", nameof(request));
        return SendCoreAsync(request.Bytes, request.Idempotent, request.Head, discardBody, ct);
    }

    /// <summary>
    /// Sends <paramref name="method"/> <paramref name="path"/> (relative to the base address unless it starts with '/'),
    /// with a bearer token, extra headers and a body, encoded into a pooled buffer for this one request.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<LoopbackHttpResponse> SendAsync(string method, string path, string? bearer = null, ReadOnlyMemory<byte> body = default,
        IReadOnlyList<(string Name, string Value)>? headers = null, string? contentType = "application/json", bool discardBody = false,
        CancellationToken ct = default)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(HttpRequestEncoder.Measure(_origin, method, path, bearer, headers, body.Length, contentType));
        try
        {
            var length = HttpRequestEncoder.Write(buffer, _origin, method, path, bearer, headers, body.Span, contentType);
            return await SendCoreAsync(buffer.AsMemory(0, length), HttpRequestEncoder.IsIdempotent(method), method == "HEAD", discardBody, ct)
                .ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<LoopbackHttpResponse> SendCoreAsync(ReadOnlyMemory<byte> request, bool idempotent, bool head, bool discardBody, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var deadline = Stopwatch.GetTimestamp() + _timeoutTicks;
        for (var attempt = 0; ; attempt++)
        {
            var connection = await _pool.RentAsync(deadline, ct).ConfigureAwait(false);
            try
            {
                return await connection.SendAsync(request, head, discardBody, deadline, Options.RequestTimeout, ct).ConfigureAwait(false);
            }
            catch (HttpConnectionException e) when (attempt == 0 && e.CanRetry(idempotent))
            {
                // The server closed a kept-alive connection before this request reached it: once more on a new one.
            }
            finally
            {
                _pool.Return(connection);
            }
        }
    }

    /// <summary>Opens up to <paramref name="connections"/> connections now (not at the first requests); returns how many are open.</summary>
    public async Task<int> OpenAsync(int connections, CancellationToken ct)
    {
        var wanted = Math.Min(connections, Options.MaxConnections);
        var rented = new HttpConnection?[wanted];
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, wanted), new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = ct }, async (i, token) =>
            {
                try
                {
                    rented[i] = await _pool.RentAsync(Stopwatch.GetTimestamp() + _timeoutTicks, token).ConfigureAwait(false);
                }
                catch (HttpRequestException)
                {
                }
            }).ConfigureAwait(false);
        }
        finally
        {
            foreach (var connection in rented)
            {
                if (connection is not null) _pool.Return(connection);
            }
        }
        return _pool.Count;
    }

    public void Dispose() => _pool.Dispose();
}
