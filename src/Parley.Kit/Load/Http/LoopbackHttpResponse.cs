namespace Parley.Kit.Load.Http;

/// <summary>
/// One response of a <see cref="LoopbackHttpClient"/>: the status, the body bytes (empty when the request asked to
/// discard them), and the headers the kits read.
/// </summary>
/// <param name="ETag">The ETag header as sent (quotes and a <c>W/</c> prefix included), or null.</param>
/// <param name="RetryAfter">Retry-After as a delay (delta-seconds, or an HTTP date relative to now), or null.</param>
/// <param name="BodyLength">Bytes of body received, also when they were discarded.</param>
public readonly record struct LoopbackHttpResponse(int Status, byte[] Body, string? ETag, TimeSpan? RetryAfter, long BodyLength)
{
    /// <summary>The <c>app</c> duration of the server's <c>Server-Timing</c> header (ms), when it sent one.</summary>
    public double? ServerAppMs { get; init; }

    /// <summary>The <c>cache</c> duration of the server's <c>Server-Timing</c> header (ms), when it sent one.</summary>
    public double? ServerCacheMs { get; init; }
}
