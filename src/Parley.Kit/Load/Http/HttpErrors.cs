using System.Net.Http;
using System.Net.Sockets;

namespace Parley.Kit.Load.Http;

/// <summary>
/// A connection failed under a request. <see cref="CanRetry"/> says whether sending it again on a new connection is
/// safe: only when the connection had already served a request (the server may have closed it while idle) and either
/// the write failed or, for an idempotent request, not one byte of the response had arrived.
/// </summary>
internal sealed class HttpConnectionException(string message, Exception? inner, bool reused, bool onWrite, bool nothingReceived)
    : HttpRequestException(HttpRequestError.ConnectionError, message, inner)
{
    public bool CanRetry(bool idempotent) => reused && (onWrite || (nothingReceived && idempotent));
}

/// <summary>The exceptions of the lean client, built off the hot path (the shape of npgsql's ThrowHelper).</summary>
internal static class HttpErrors
{
    /// <summary>As HttpClient reports its timeout: a TaskCanceledException around a TimeoutException, so callers that know one know the other.</summary>
    public static TaskCanceledException Timeout(TimeSpan timeout) =>
        new($"No response within the request timeout of {timeout.TotalSeconds:0.###} s.", new TimeoutException($"The request timed out after {timeout.TotalSeconds:0.###} s."));

    public static HttpRequestException Malformed(string what) =>
        new(HttpRequestError.InvalidResponse, $"Malformed HTTP response: {what}.");

    public static HttpRequestException HeadersTooLarge(int limit) =>
        new(HttpRequestError.ConfigurationLimitExceeded, $"The response's status line and headers exceed the limit of {limit:N0} bytes (LoopbackHttpOptions.MaxHeaderBytes).");

    public static HttpRequestException BodyTooLarge(long length, int limit) =>
        new(HttpRequestError.ConfigurationLimitExceeded,
            $"The response body is {(length < 0 ? "longer than" : $"{length:N0} bytes, over")} the limit of {limit:N0} bytes (LoopbackHttpOptions.MaxBodyBytes).");

    public static HttpRequestException Ended(bool receivedAny) =>
        new(HttpRequestError.ResponseEnded, receivedAny ? "The server closed the connection in the middle of a response." : "The server closed the connection before answering.");

    public static HttpRequestException Connect(string target, Exception inner) =>
        new(HttpRequestError.ConnectionError, $"Cannot connect to {target}: {inner.Message}", inner);

    public static HttpRequestException Io(Exception inner) =>
        new(HttpRequestError.ConnectionError, $"The connection failed: {inner.Message}", inner is SocketException or IOException ? inner : null);
}
