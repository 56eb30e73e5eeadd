using Parley.Redis.Internal;

namespace Parley.Redis;

/// <summary>Streams and consumer groups.</summary>
public sealed partial class RedisClient
{
    /// <summary><c>XADD key [trim] id field value ...</c>; returns the id of the new entry.</summary>
    public async Task<string> XAddAsync(
        string key,
        IReadOnlyList<KeyValuePair<string, ReadOnlyMemory<byte>>> fields,
        StreamTrim? trim = null,
        string id = "*",
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fields);
        if (fields.Count == 0)
        {
            throw new ArgumentException("XADD needs at least one field.", nameof(fields));
        }

        var command = Command("XADD", 2 + (trim?.ArgumentCount ?? 0) + (2 * fields.Count)).WriteBulk(key);
        trim?.WriteTo(command);
        command.WriteBulk(id);
        foreach (var (field, value) in fields)
        {
            command.WriteBulk(field).WriteBulk(value.Span);
        }

        return (await SendAsync(command, null, cancellationToken).ConfigureAwait(false)).AsString()!;
    }

    /// <summary><c>XADD</c> with UTF-8 string values.</summary>
    public Task<string> XAddAsync(
        string key,
        IReadOnlyList<KeyValuePair<string, string>> fields,
        StreamTrim? trim = null,
        string id = "*",
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fields);
        var bytes = fields
            .Select(f => KeyValuePair.Create(f.Key, (ReadOnlyMemory<byte>)System.Text.Encoding.UTF8.GetBytes(f.Value)))
            .ToList();
        return XAddAsync(key, bytes, trim, id, cancellationToken);
    }

    /// <summary>
    /// <c>XGROUP CREATE key group startId MKSTREAM</c>. Returns false instead of failing when the
    /// group already exists (<c>BUSYGROUP</c>).
    /// </summary>
    public async Task<bool> XGroupCreateAsync(string key, string group, string startId = "$", bool createStream = true, CancellationToken cancellationToken = default)
    {
        var command = Command("XGROUP", 4 + (createStream ? 1 : 0)).WriteBulk("CREATE").WriteBulk(key).WriteBulk(group).WriteBulk(startId);
        if (createStream)
        {
            command.WriteBulk("MKSTREAM");
        }

        try
        {
            await SendAsync(command, null, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RedisServerException e) when (e.Prefix == "BUSYGROUP")
        {
            return false;
        }
    }

    /// <summary>
    /// <c>XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] STREAMS key id</c>. With
    /// <paramref name="id"/> "&gt;" reads new entries; with "0" re-reads this consumer's pending ones.
    /// A <paramref name="block"/> time is allowed only on a client from
    /// <see cref="CreateDedicatedAsync"/> (it would stall the shared connection); the command
    /// timeout then starts after the block time. Returns an empty list when nothing arrived.
    /// </summary>
    public async Task<IReadOnlyList<StreamEntry>> XReadGroupAsync(
        string key,
        string group,
        string consumer,
        string id = ">",
        int? count = null,
        TimeSpan? block = null,
        bool noAck = false,
        CancellationToken cancellationToken = default)
    {
        TimeSpan? timeout = null;
        if (block is { } wait)
        {
            if (!IsDedicated)
            {
                throw new InvalidOperationException(
                    "XREADGROUP with BLOCK would stall every command on the shared connection; call it on a client from RedisClient.CreateDedicatedAsync().");
            }

            ArgumentOutOfRangeException.ThrowIfLessThan(wait, TimeSpan.Zero, nameof(block));
            timeout = wait == TimeSpan.Zero ? Timeout.InfiniteTimeSpan : wait + Options.CommandTimeout;
        }

        var command = Command("XREADGROUP", 6 + (count is null ? 0 : 2) + (block is null ? 0 : 2) + (noAck ? 1 : 0))
            .WriteBulk("GROUP").WriteBulk(group).WriteBulk(consumer);
        if (count is { } n)
        {
            command.WriteBulk("COUNT").WriteBulk(n);
        }

        if (block is { } b)
        {
            command.WriteBulk("BLOCK").WriteBulk((long)b.TotalMilliseconds);
        }

        if (noAck)
        {
            command.WriteBulk("NOACK");
        }

        command.WriteBulk("STREAMS").WriteBulk(key).WriteBulk(id);
        var reply = await SendAsync(command, timeout, cancellationToken).ConfigureAwait(false);
        if (reply.IsNull || reply.Items.Count == 0)
        {
            return [];
        }

        // [[key, [entry, ...]]] for our single key.
        return StreamParser.Entries(reply.Items[0].Items[1]);
    }

    /// <summary><c>XACK key group id ...</c>; returns how many were acknowledged.</summary>
    public async Task<long> XAckAsync(string key, string group, IReadOnlyList<string> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return 0;
        }

        var command = Command("XACK", 2 + ids.Count).WriteBulk(key).WriteBulk(group);
        foreach (var id in ids)
        {
            command.WriteBulk(id);
        }

        return (await SendAsync(command, null, cancellationToken).ConfigureAwait(false)).AsInt64();
    }

    /// <summary>
    /// <c>XAUTOCLAIM key group consumer min-idle start [COUNT n]</c>: takes over entries pending
    /// longer than <paramref name="minIdle"/> (e.g. held by a consumer that died).
    /// </summary>
    public async Task<StreamAutoClaimResult> XAutoClaimAsync(
        string key, string group, string consumer, TimeSpan minIdle, string start = "0-0", int? count = null, CancellationToken cancellationToken = default)
    {
        var command = Command("XAUTOCLAIM", 5 + (count is null ? 0 : 2))
            .WriteBulk(key).WriteBulk(group).WriteBulk(consumer).WriteBulk((long)minIdle.TotalMilliseconds).WriteBulk(start);
        if (count is { } n)
        {
            command.WriteBulk("COUNT").WriteBulk(n);
        }

        var reply = (await SendAsync(command, null, cancellationToken).ConfigureAwait(false)).Items;
        var deleted = reply.Count > 2 ? reply[2].Items.Select(v => v.AsString()!).ToList() : [];
        return new StreamAutoClaimResult(reply[0].AsString()!, StreamParser.Entries(reply[1]), deleted);
    }

    /// <summary><c>XPENDING key group</c> (summary form).</summary>
    public async Task<StreamPendingSummary> XPendingAsync(string key, string group, CancellationToken cancellationToken = default)
    {
        var reply = (await SendAsync(Command("XPENDING", 2).WriteBulk(key).WriteBulk(group), null, cancellationToken).ConfigureAwait(false)).Items;
        var consumers = reply[3].Items
            .Select(c => KeyValuePair.Create(c.Items[0].AsString()!, c.Items[1].AsInt64()))
            .ToList();
        return new StreamPendingSummary(reply[0].AsInt64(), reply[1].AsString(), reply[2].AsString(), consumers);
    }

    /// <summary><c>XRANGE key start end [COUNT n]</c>, oldest first.</summary>
    public async Task<IReadOnlyList<StreamEntry>> XRangeAsync(
        string key, string start = "-", string end = "+", int? count = null, CancellationToken cancellationToken = default)
    {
        var command = Command("XRANGE", 3 + (count is null ? 0 : 2)).WriteBulk(key).WriteBulk(start).WriteBulk(end);
        if (count is { } n)
        {
            command.WriteBulk("COUNT").WriteBulk(n);
        }

        return StreamParser.Entries(await SendAsync(command, null, cancellationToken).ConfigureAwait(false));
    }

    /// <summary><c>XLEN key</c>.</summary>
    public async Task<long> XLenAsync(string key, CancellationToken cancellationToken = default) =>
        (await SendAsync(Command("XLEN", 1).WriteBulk(key), null, cancellationToken).ConfigureAwait(false)).AsInt64();

    /// <summary><c>XTRIM key MAXLEN|MINID [~|=] threshold</c>; returns how many entries were removed.</summary>
    public async Task<long> XTrimAsync(string key, StreamTrim trim, CancellationToken cancellationToken = default)
    {
        var command = Command("XTRIM", 1 + trim.ArgumentCount).WriteBulk(key);
        trim.WriteTo(command);
        return (await SendAsync(command, null, cancellationToken).ConfigureAwait(false)).AsInt64();
    }

    /// <summary><c>XINFO GROUPS key</c>.</summary>
    public async Task<IReadOnlyList<StreamGroupInfo>> XInfoGroupsAsync(string key, CancellationToken cancellationToken = default)
    {
        var reply = await SendAsync(Command("XINFO", 2).WriteBulk("GROUPS").WriteBulk(key), null, cancellationToken).ConfigureAwait(false);
        return reply.Items.Select(StreamParser.GroupInfo).ToList();
    }
}

/// <summary>Turns stream replies into <see cref="StreamEntry"/> values.</summary>
internal static class StreamParser
{
    public static IReadOnlyList<StreamEntry> Entries(RespValue reply)
    {
        if (reply.IsNull)
        {
            return [];
        }

        var items = reply.Items;
        var entries = new List<StreamEntry>(items.Count);
        foreach (var item in items)
        {
            if (item.IsNull)
            {
                continue; // XAUTOCLAIM before 7.0 answered nil for deleted entries
            }

            entries.Add(Entry(item));
        }

        return entries;
    }

    public static StreamEntry Entry(RespValue item)
    {
        var parts = item.Items;
        var id = parts[0].AsString()!;
        if (parts.Count < 2 || parts[1].IsNull)
        {
            return new StreamEntry(id, []);
        }

        var flat = parts[1].Items;
        if (flat.Count % 2 != 0)
        {
            throw ThrowHelper.Protocol("stream entry with an odd number of field/value items");
        }

        var fields = new KeyValuePair<string, ReadOnlyMemory<byte>>[flat.Count / 2];
        for (var i = 0; i < fields.Length; i++)
        {
            fields[i] = KeyValuePair.Create(flat[2 * i].AsString()!, flat[(2 * i) + 1].AsMemory());
        }

        return new StreamEntry(id, fields);
    }

    public static StreamGroupInfo GroupInfo(RespValue group)
    {
        var flat = group.Items;
        string name = "", lastDelivered = "";
        long consumers = 0, pending = 0;
        long? lag = null;
        for (var i = 0; i + 1 < flat.Count; i += 2)
        {
            var value = flat[i + 1];
            switch (flat[i].AsString())
            {
                case "name": name = value.AsString()!; break;
                case "consumers": consumers = value.AsInt64(); break;
                case "pending": pending = value.AsInt64(); break;
                case "last-delivered-id": lastDelivered = value.AsString()!; break;
                case "lag": lag = value.IsNull ? null : value.AsInt64(); break;
                default: break;
            }
        }

        return new StreamGroupInfo(name, consumers, pending, lastDelivered, lag);
    }
}
