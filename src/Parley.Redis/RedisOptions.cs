using System.Net;

namespace Parley.Redis;

/// <summary>
/// Settings of a <see cref="RedisClient"/> or <see cref="RedisSubscriber"/>. Every default is
/// listed in <see cref="RedisDefaults"/>; call <see cref="Validate"/> at start.
/// </summary>
public sealed class RedisOptions
{
    /// <summary>Where Redis listens, <c>host:port</c>. Default <see cref="RedisDefaults.Endpoint"/>.</summary>
    public string Endpoint { get; set; } = RedisDefaults.Endpoint;

    /// <summary>
    /// Redis Sentinels to ask for the current primary (<c>host:port</c> each), instead of <see cref="Endpoint"/>: every
    /// (re)connection asks them in order for <see cref="SentinelPrimary"/>'s address, then checks with <c>ROLE</c> that it
    /// reached a primary. Spoken to like Redis itself (TLS when <see cref="Tls"/>), without AUTH. Default none.
    /// </summary>
    public IList<string> Sentinels { get; set; } = [];

    /// <summary>The name the Sentinels monitor the primary under (<c>sentinel monitor NAME …</c>); required with <see cref="Sentinels"/>.</summary>
    public string? SentinelPrimary { get; set; }

    /// <summary>Whether the primary is found through <see cref="Sentinels"/>.</summary>
    public bool UsesSentinels => Sentinels.Count > 0;

    /// <summary>Prefix that <see cref="RedisClient.Key"/> puts before every key. Default <see cref="RedisDefaults.KeyPrefix"/>.</summary>
    public string KeyPrefix { get; set; } = RedisDefaults.KeyPrefix;

    /// <summary>How long one connection attempt (TCP connect plus handshake) may take. Default 1 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = RedisDefaults.ConnectTimeout;

    /// <summary>How long a command waits for its reply unless the call gives its own timeout. Default 1 s.</summary>
    public TimeSpan CommandTimeout { get; set; } = RedisDefaults.CommandTimeout;

    /// <summary>First delay before reconnecting after the connection broke. Default 50 ms.</summary>
    public TimeSpan ReconnectMinBackoff { get; set; } = RedisDefaults.ReconnectMinBackoff;

    /// <summary>Largest delay between reconnect attempts; delays double up to it, with jitter. Default 2 s.</summary>
    public TimeSpan ReconnectMaxBackoff { get; set; } = RedisDefaults.ReconnectMaxBackoff;

    /// <summary>Password for <c>AUTH</c>; null sends none. Default null.</summary>
    public string? Password { get; set; }

    /// <summary>ACL user name for <c>AUTH user password</c>; null uses the default user. Default null.</summary>
    public string? User { get; set; }

    /// <summary>Speak TLS to Redis (its <c>tls-port</c>). Default false.</summary>
    public bool Tls { get; set; }

    /// <summary>The name the server's certificate must carry; null uses the endpoint's host. Default null.</summary>
    public string? TlsHost { get; set; }

    /// <summary>
    /// A PEM file of the certificate authority that signed the server's certificate, for a private CA; null trusts the
    /// system's store. Default null.
    /// </summary>
    public string? TlsCaFile { get; set; }

    /// <summary>
    /// Idle time before TCP keepalive probes start on every connection (then every third of it, 3 unanswered probes
    /// break the connection), so a peer that vanished (a half-open socket: the subscriber waits on reads only) is
    /// noticed; <see cref="Timeout.InfiniteTimeSpan"/> turns it off. Default 10 s.
    /// </summary>
    public TimeSpan KeepAlive { get; set; } = RedisDefaults.KeepAlive;

    /// <summary>Database index for <c>SELECT</c>; 0 sends none. Default 0.</summary>
    public int Database { get; set; }

    /// <summary>
    /// When true (the default) <see cref="RedisClient.ConnectAsync"/> throws if the first attempt
    /// fails; when false it returns a client that keeps trying in the background.
    /// </summary>
    public bool AbortOnConnectFail { get; set; } = RedisDefaults.AbortOnConnectFail;

    /// <summary>Largest bulk string accepted from the server. Default 512 MiB, the Redis limit.</summary>
    public int MaxBulkLength { get; set; } = RedisDefaults.MaxBulkLength;

    /// <summary>Deepest nesting of arrays accepted from the server. Default 32.</summary>
    public int MaxNestingDepth { get; set; } = RedisDefaults.MaxNestingDepth;

    /// <summary>Parses <see cref="Endpoint"/>; throws <see cref="ArgumentException"/> when it is not <c>host:port</c>.</summary>
    public (string Host, int Port) ParseEndpoint() => ParseAddress(Endpoint, "RedisOptions.Endpoint");

    /// <summary>Parses <c>host:port</c> (IPv6 in brackets); throws <see cref="ArgumentException"/> naming <paramref name="setting"/>.</summary>
    public static (string Host, int Port) ParseAddress(string? value, string setting)
    {
        var text = value?.Trim() ?? "";
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), out var port) || port is < 1 or > 65535)
        {
            throw new ArgumentException($"{setting} '{value}' must be host:port, e.g. 127.0.0.1:6379.");
        }

        var host = text[..colon].Trim('[', ']');
        return (host, port);
    }

    /// <summary>Where this client connects, for messages: the endpoint, or the Sentinels' primary name.</summary>
    public string Target => UsesSentinels ? $"sentinel primary '{SentinelPrimary}'" : Endpoint;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public RedisOptions Validate()
    {
        if (UsesSentinels)
        {
            for (var i = 0; i < Sentinels.Count; i++) ParseAddress(Sentinels[i], $"RedisOptions.Sentinels[{i}]");
            if (string.IsNullOrWhiteSpace(SentinelPrimary))
            {
                throw new ArgumentException("RedisOptions.SentinelPrimary must name the primary the Sentinels monitor when Sentinels are given.");
            }
        }
        else
        {
            ParseEndpoint();
        }
        if (TlsCaFile is not null && !File.Exists(TlsCaFile))
        {
            throw new ArgumentException($"RedisOptions.TlsCaFile '{TlsCaFile}' does not exist.");
        }

        Positive(KeepAlive, nameof(KeepAlive));
        ArgumentNullException.ThrowIfNull(KeyPrefix, nameof(KeyPrefix));
        Positive(ConnectTimeout, nameof(ConnectTimeout));
        Positive(CommandTimeout, nameof(CommandTimeout));
        Positive(ReconnectMinBackoff, nameof(ReconnectMinBackoff));
        Positive(ReconnectMaxBackoff, nameof(ReconnectMaxBackoff));
        if (ReconnectMaxBackoff < ReconnectMinBackoff)
        {
            throw new ArgumentException($"RedisOptions.ReconnectMaxBackoff ({ReconnectMaxBackoff}) must be at least ReconnectMinBackoff ({ReconnectMinBackoff}).");
        }

        if (Database < 0)
        {
            throw new ArgumentException($"RedisOptions.Database must be 0 or more, not {Database}.");
        }

        if (MaxBulkLength < 1 || MaxNestingDepth < 1)
        {
            throw new ArgumentException("RedisOptions.MaxBulkLength and MaxNestingDepth must be positive.");
        }

        return this;
    }

    /// <summary>A copy, so a client can keep its own settings.</summary>
    public RedisOptions Clone()
    {
        var copy = (RedisOptions)MemberwiseClone();
        copy.Sentinels = [.. Sentinels];
        return copy;
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException($"RedisOptions.{name} must be positive, not {value}.");
        }
    }

    internal static EndPoint ToEndPoint((string Host, int Port) address) =>
        IPAddress.TryParse(address.Host, out var ip) ? new IPEndPoint(ip, address.Port) : new DnsEndPoint(address.Host, address.Port);
}

/// <summary>The defaults of <see cref="RedisOptions"/>.</summary>
public static class RedisDefaults
{
    /// <summary><c>127.0.0.1:6379</c>.</summary>
    public const string Endpoint = "127.0.0.1:6379";
    /// <summary><c>parley:</c>.</summary>
    public const string KeyPrefix = "parley:";
    /// <summary>1 second.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(1);
    /// <summary>1 second.</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(1);
    /// <summary>50 milliseconds.</summary>
    public static readonly TimeSpan ReconnectMinBackoff = TimeSpan.FromMilliseconds(50);
    /// <summary>2 seconds.</summary>
    public static readonly TimeSpan ReconnectMaxBackoff = TimeSpan.FromSeconds(2);
    /// <summary>True.</summary>
    public const bool AbortOnConnectFail = true;
    /// <summary>10 seconds.</summary>
    public static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(10);
    /// <summary>512 MiB, as Redis's own proto-max-bulk-len.</summary>
    public const int MaxBulkLength = 512 * 1024 * 1024;
    /// <summary>32 levels.</summary>
    public const int MaxNestingDepth = 32;
}
