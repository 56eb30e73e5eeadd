using System.Buffers;
using System.Buffers.Text;
using System.Net;
using System.Text;
using Parley.Kit.Load.Engine;

namespace Parley.Kit.Load.Http;

/// <summary>Where requests go: a loopback host and port, the base path, and the Host header, encoded once.</summary>
internal sealed class HttpOrigin
{
    private IPAddress[]? _addresses;

    public HttpOrigin(Uri baseUri)
    {
        if (baseUri.Scheme != Uri.UriSchemeHttp)
            throw new LoadConfigurationException($"'{baseUri}': the load kit's HTTP client speaks plain http:// (HTTP/1.1) only.");
        if (!LoopbackGuard.IsLoopback(baseUri.Host))
            throw new LoadConfigurationException($"Refusing to send load to '{baseUri.Host}': the load kit only targets loopback.");
        BaseUri = baseUri;
        Host = baseUri.Host.Trim('[', ']');
        Port = baseUri.Port;
        BasePath = baseUri.AbsolutePath.EndsWith('/') ? baseUri.AbsolutePath : baseUri.AbsolutePath + "/";
        HostHeader = Encoding.ASCII.GetBytes($"Host: {baseUri.Authority}\r\n");
    }

    public Uri BaseUri { get; }

    public string Host { get; }

    public int Port { get; }

    public string BasePath { get; }

    public byte[] HostHeader { get; }

    /// <summary>The host's addresses, resolved once; every one must be loopback (a hosts file could say otherwise).</summary>
    public async ValueTask<IPAddress[]> AddressesAsync(CancellationToken ct)
    {
        if (_addresses is { } known) return known;
        var addresses = IPAddress.TryParse(Host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(Host, ct).ConfigureAwait(false);
        if (addresses.Length == 0 || !addresses.All(IPAddress.IsLoopback))
            throw new LoadConfigurationException($"'{Host}' resolves to {string.Join(", ", addresses.Select(a => a.ToString()))}: the load kit only targets loopback.");
        return _addresses = addresses;
    }

    public override string ToString() => BaseUri.ToString();
}

/// <summary>A request encoded once and sent as often as wanted (the same bytes wrk sends), on clients of one origin.</summary>
public sealed class PreparedRequest
{
    internal PreparedRequest(HttpOrigin origin, byte[] bytes, bool idempotent, bool head)
    {
        Origin = origin;
        Bytes = bytes;
        Idempotent = idempotent;
        Head = head;
    }

    internal HttpOrigin Origin { get; }

    internal byte[] Bytes { get; }

    internal bool Idempotent { get; }

    internal bool Head { get; }

    /// <summary>The request as text, for logs and tests.</summary>
    public override string ToString() => Encoding.ASCII.GetString(Bytes);
}

/// <summary>
/// Writes an HTTP/1.1 request: request line, Host, optional <c>Authorization: Bearer</c>, extra headers, and a body
/// with Content-Type and Content-Length. Measures first, then writes into one buffer; rejects what would break the
/// framing (control characters, non-ASCII) instead of sending it.
/// </summary>
internal static class HttpRequestEncoder
{
    private static ReadOnlySpan<byte> Version => " HTTP/1.1\r\n"u8;
    private static ReadOnlySpan<byte> Bearer => "Authorization: Bearer "u8;
    private static ReadOnlySpan<byte> ContentType => "Content-Type: "u8;
    private static ReadOnlySpan<byte> ContentLength => "Content-Length: "u8;

    public static bool IsIdempotent(string method) => method is "GET" or "HEAD" or "PUT" or "DELETE" or "OPTIONS" or "TRACE";

    /// <summary>Whether a request without a body still says <c>Content-Length: 0</c> (as HttpClient does).</summary>
    private static bool NeedsLength(string method) => method is "POST" or "PUT" or "PATCH";

    public static int Measure(HttpOrigin origin, string method, string path, string? bearer, IReadOnlyList<(string Name, string Value)>? headers,
        int bodyLength, string? contentType)
    {
        var length = method.Length + 1 + (path.StartsWith('/') ? 0 : origin.BasePath.Length) + path.Length + Version.Length + origin.HostHeader.Length;
        if (bearer is not null) length += Bearer.Length + bearer.Length + 2;
        if (headers is not null)
        {
            foreach (var (name, value) in headers) length += name.Length + 2 + value.Length + 2;
        }
        if (bodyLength > 0 && contentType is not null) length += ContentType.Length + contentType.Length + 2;
        if (bodyLength > 0 || NeedsLength(method)) length += ContentLength.Length + 10 + 2;
        return length + 2 + bodyLength;
    }

    /// <summary>Writes the request into <paramref name="destination"/> (at least <see cref="Measure"/> bytes); returns the bytes written.</summary>
    public static int Write(Span<byte> destination, HttpOrigin origin, string method, string path, string? bearer,
        IReadOnlyList<(string Name, string Value)>? headers, ReadOnlySpan<byte> body, string? contentType)
    {
        var rest = destination;
        Token(ref rest, method, "method");
        Put(ref rest, " "u8);
        if (!path.StartsWith('/')) Text(ref rest, origin.BasePath, "base path");
        Text(ref rest, path, "path");
        if (path.AsSpan().ContainsAny(' ', '#')) throw new ArgumentException($"The path '{path}' has a space or a fragment; escape it.", nameof(path));
        Put(ref rest, Version);
        Put(ref rest, origin.HostHeader);
        if (bearer is not null)
        {
            Put(ref rest, Bearer);
            Text(ref rest, bearer, "bearer token");
            Put(ref rest, "\r\n"u8);
        }
        if (headers is not null)
        {
            foreach (var (name, value) in headers)
            {
                Token(ref rest, name, "header name");
                Put(ref rest, ": "u8);
                Text(ref rest, value, $"header {name}");
                Put(ref rest, "\r\n"u8);
            }
        }
        if (!body.IsEmpty && contentType is not null)
        {
            Put(ref rest, ContentType);
            Text(ref rest, contentType, "content type");
            Put(ref rest, "\r\n"u8);
        }
        if (!body.IsEmpty || NeedsLength(method))
        {
            Put(ref rest, ContentLength);
            Utf8Formatter.TryFormat(body.Length, rest, out var digits);
            rest = rest[digits..];
            Put(ref rest, "\r\n"u8);
        }
        Put(ref rest, "\r\n"u8);
        Put(ref rest, body);
        return destination.Length - rest.Length;
    }

    /// <summary>Encodes into an exact array (for <see cref="PreparedRequest"/>).</summary>
    public static byte[] ToArray(HttpOrigin origin, string method, string path, string? bearer, IReadOnlyList<(string Name, string Value)>? headers,
        ReadOnlySpan<byte> body, string? contentType)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Measure(origin, method, path, bearer, headers, body.Length, contentType));
        try
        {
            return buffer.AsSpan(0, Write(buffer, origin, method, path, bearer, headers, body, contentType)).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void Put(ref Span<byte> rest, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(rest);
        rest = rest[bytes.Length..];
    }

    /// <summary>Visible ASCII and spaces only: a CR or LF would end the header and let the value write its own.</summary>
    private static void Text(ref Span<byte> rest, string text, string what)
    {
        if (Ascii.FromUtf16(text, rest, out var written) != OperationStatus.Done || rest[..written].IndexOfAnyInRange((byte)0, (byte)31) >= 0
            || rest[..written].Contains((byte)127))
            throw new ArgumentException($"The {what} must be printable ASCII: '{text}'.");
        rest = rest[written..];
    }

    private static void Token(ref Span<byte> rest, string token, string what)
    {
        if (token.Length == 0 || token.AsSpan().ContainsAny(" :\t"))
            throw new ArgumentException($"The {what} '{token}' is not an HTTP token.");
        Text(ref rest, token, what);
    }
}
