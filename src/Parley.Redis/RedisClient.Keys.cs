using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;

namespace Parley.Redis;

/// <summary>Keys, strings, counters, pub/sub publishing and SCAN.</summary>
public sealed partial class RedisClient
{
    /// <summary><c>PING</c>; returns the round-trip time.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        await SendAsync(Command("PING", 0), null, cancellationToken).ConfigureAwait(false);
        return Stopwatch.GetElapsedTime(started);
    }

    /// <summary><c>GET</c>; null when the key does not exist.</summary>
    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var reply = await SendAsync(Command("GET", 1).WriteBulk(key), null, cancellationToken).ConfigureAwait(false);
        return reply.AsBytes();
    }

    /// <summary><c>GET</c> decoded as UTF-8; null when the key does not exist.</summary>
    public async Task<string?> GetStringAsync(string key, CancellationToken cancellationToken = default)
    {
        var reply = await SendAsync(Command("GET", 1).WriteBulk(key), null, cancellationToken).ConfigureAwait(false);
        return reply.AsString();
    }

    /// <summary>
    /// <c>SET key value [PX ttl] [NX]</c>. Returns false only when <paramref name="onlyIfNotExists"/>
    /// is set and the key already existed.
    /// </summary>
    public async Task<bool> SetAsync(
        string key, ReadOnlyMemory<byte> value, TimeSpan? ttl = null, bool onlyIfNotExists = false, CancellationToken cancellationToken = default)
    {
        var command = Command("SET", 2 + (ttl is null ? 0 : 2) + (onlyIfNotExists ? 1 : 0)).WriteBulk(key).WriteBulk(value.Span);
        if (ttl is { } expiry)
        {
            command.WriteBulk("PX").WriteBulk(ToMilliseconds(expiry, nameof(ttl)));
        }

        if (onlyIfNotExists)
        {
            command.WriteBulk("NX");
        }

        var reply = await SendAsync(command, null, cancellationToken).ConfigureAwait(false);
        return !reply.IsNull;
    }

    /// <summary><c>SET</c> with a UTF-8 string value.</summary>
    public Task<bool> SetAsync(
        string key, string value, TimeSpan? ttl = null, bool onlyIfNotExists = false, CancellationToken cancellationToken = default) =>
        SetAsync(key, Encoding.UTF8.GetBytes(value), ttl, onlyIfNotExists, cancellationToken);

    /// <summary><c>DEL</c>; returns how many of the keys existed.</summary>
    public async Task<long> DelAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default) =>
        (await SendAsync(KeysCommand("DEL", keys), null, cancellationToken).ConfigureAwait(false)).AsInt64();

    /// <summary><c>DEL</c> of one key; true when it existed.</summary>
    public async Task<bool> DelAsync(string key, CancellationToken cancellationToken = default) =>
        await DelAsync([key], cancellationToken).ConfigureAwait(false) == 1;

    /// <summary><c>EXISTS</c>; true when the key exists.</summary>
    public async Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) =>
        (await SendAsync(Command("EXISTS", 1).WriteBulk(key), null, cancellationToken).ConfigureAwait(false)).AsInt64() == 1;

    /// <summary><c>INCRBY</c>; returns the new value.</summary>
    public async Task<long> IncrAsync(string key, long by = 1, CancellationToken cancellationToken = default) =>
        (await SendAsync(Command("INCRBY", 2).WriteBulk(key).WriteBulk(by), null, cancellationToken).ConfigureAwait(false)).AsInt64();

    /// <summary><c>PEXPIRE</c>; false when the key does not exist.</summary>
    public async Task<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default) =>
        (await SendAsync(Command("PEXPIRE", 2).WriteBulk(key).WriteBulk(ToMilliseconds(ttl, nameof(ttl))), null, cancellationToken)
            .ConfigureAwait(false)).AsInt64() == 1;

    /// <summary><c>PTTL</c>; null when the key has no expiry or does not exist.</summary>
    public async Task<TimeSpan?> TtlAsync(string key, CancellationToken cancellationToken = default)
    {
        var ms = (await SendAsync(Command("PTTL", 1).WriteBulk(key), null, cancellationToken).ConfigureAwait(false)).AsInt64();
        return ms < 0 ? null : TimeSpan.FromMilliseconds(ms);
    }

    /// <summary><c>PUBLISH</c>; returns how many subscribers received the message.</summary>
    public async Task<long> PublishAsync(string channel, ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default) =>
        (await SendAsync(Command("PUBLISH", 2).WriteBulk(channel).WriteBulk(message.Span), null, cancellationToken).ConfigureAwait(false)).AsInt64();

    /// <summary><c>PUBLISH</c> of a UTF-8 string.</summary>
    public Task<long> PublishAsync(string channel, string message, CancellationToken cancellationToken = default) =>
        PublishAsync(channel, Encoding.UTF8.GetBytes(message), cancellationToken);

    /// <summary>
    /// Iterates keys with <c>SCAN cursor MATCH pattern COUNT count</c> until the cursor returns to 0.
    /// Like SCAN itself, a key may be returned more than once. Each page is one command with the
    /// usual timeout; stop early by breaking out or cancelling.
    /// </summary>
    public async IAsyncEnumerable<string> ScanAsync(
        string pattern = "*", int pageSize = 100, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        var cursor = "0";
        do
        {
            var command = Command("SCAN", 5).WriteBulk(cursor).WriteBulk("MATCH").WriteBulk(pattern).WriteBulk("COUNT").WriteBulk(pageSize);
            var reply = await SendAsync(command, null, cancellationToken).ConfigureAwait(false);
            cursor = reply.Items[0].AsString() ?? "0";
            foreach (var key in reply.Items[1].Items)
            {
                yield return key.AsString()!;
            }
        }
        while (cursor != "0");
    }

    private static Internal.RespWriter KeysCommand(string name, IReadOnlyList<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count == 0)
        {
            throw new ArgumentException($"{name} needs at least one key.", nameof(keys));
        }

        var command = Command(name, keys.Count);
        foreach (var key in keys)
        {
            command.WriteBulk(key);
        }

        return command;
    }

    private static long ToMilliseconds(TimeSpan value, string name)
    {
        var ms = (long)Math.Ceiling(value.TotalMilliseconds);
        return ms > 0 ? ms : throw new ArgumentOutOfRangeException(name, value, "Redis expiries must be at least 1 ms.");
    }
}
