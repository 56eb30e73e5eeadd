namespace Parley.Kit.Load.Http;

/// <summary>Limits of a <see cref="LoopbackHttpClient"/>; every one is a bound, none is unlimited.</summary>
public sealed record LoopbackHttpOptions
{
    /// <summary>Default <see cref="MaxHeaderBytes"/>: 64 KiB of status line and headers (and of chunked trailers).</summary>
    public const int DefaultMaxHeaderBytes = 64 * 1024;

    /// <summary>Default <see cref="MaxBodyBytes"/>: 16 MiB.</summary>
    public const int DefaultMaxBodyBytes = 16 * 1024 * 1024;

    /// <summary>Kept-alive connections at most; requests beyond wait for one (the wait counts against the timeout).</summary>
    public int MaxConnections { get; init; } = 64;

    /// <summary>From asking for a connection to the last byte of the response body.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A connection idle longer is closed instead of reused: servers close idle keep-alive connections (Kestrel after
    /// 130 s, nginx after 75 s), and a request written into one that was closed meanwhile fails. Default 60 s.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Status line plus headers (and trailers) of one response; more is an error, not a truncation.</summary>
    public int MaxHeaderBytes { get; init; } = DefaultMaxHeaderBytes;

    /// <summary>Body of one response; more is an error, not a truncation.</summary>
    public int MaxBodyBytes { get; init; } = DefaultMaxBodyBytes;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConnections, 1, nameof(MaxConnections));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RequestTimeout, TimeSpan.Zero, nameof(RequestTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ConnectTimeout, TimeSpan.Zero, nameof(ConnectTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(IdleTimeout, TimeSpan.Zero, nameof(IdleTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxHeaderBytes, 64, nameof(MaxHeaderBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBodyBytes, 0, nameof(MaxBodyBytes));
    }
}
