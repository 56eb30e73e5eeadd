using System.Text;
using Microsoft.Extensions.Options;
using Parley.Data.Outbox;
using Parley.Redis;

namespace Parley.Server.Delivery;

/// <summary>
/// The event stream on Redis: one global stream (<c>parley:events</c>) that every node's consumer
/// group reads. Guarantees, for callers:
/// <list type="bullet">
/// <item><see cref="PublishAsync"/> appends a batch atomically and in the given order (one Lua script),
/// so ids increase in outbox order within a shard; ids are the client-facing <c>eventId</c>;</item>
/// <item>retention is by length (<c>MAXLEN ~</c> <see cref="DeliveryOptions.StreamMaxLength"/>); what was
/// trimmed shows as the oldest entry still held (<c>first-entry</c>);</item>
/// <item>Redis runs without persistence: a restart loses the stream. The first id written after that
/// is recorded as the stream's epoch, so resumes from before it are answered with resync
/// (real-time's <c>Recovery</c>), never with a silent gap.</item>
/// </list>
/// Entry fields: <c>c</c> conversation id, <c>t</c> event type, <c>p</c> payload (JSON object), <c>o</c> outbox id.
/// </summary>
public sealed class EventStream(RedisClient redis, IOptions<DeliveryOptions> options)
{
    public const string ConversationField = "c";
    public const string TypeField = "t";
    public const string PayloadField = "p";
    public const string OutboxIdField = "o";

    private static readonly LuaScript PublishScript = LuaScript.FromResource(typeof(EventStream).Assembly, "publish-events.lua");

    /// <summary>The full stream key (with the Redis key prefix).</summary>
    public string Key { get; } = redis.Key(options.Value.StreamKey);

    /// <summary>The key holding the first id of the current epoch.</summary>
    public string EpochKey { get; } = redis.Key(options.Value.StreamKey + ":epoch");

    /// <summary>Appends <paramref name="rows"/> in order; returns their stream ids.</summary>
    public async Task<IReadOnlyList<string>> PublishAsync(IReadOnlyList<OutboxRow> rows, CancellationToken ct)
    {
        var args = new object[1 + (rows.Count * 4)];
        args[0] = options.Value.StreamMaxLength;
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            args[1 + (i * 4)] = row.ConversationId.ToString();
            args[2 + (i * 4)] = row.Type;
            args[3 + (i * 4)] = Encoding.UTF8.GetBytes(row.Payload);
            args[4 + (i * 4)] = row.Id;
        }
        var reply = await redis.EvalAsync(PublishScript, [Key, EpochKey], args, ct);
        return reply.Items.Select(v => v.AsString()!).ToList();
    }

    /// <summary>What <c>Recovery.Decide</c> needs to know about the stream.</summary>
    public async Task<StreamState> GetStateAsync(CancellationToken ct)
    {
        var epochTask = redis.GetStringAsync(EpochKey, ct);
        RespValue info;
        try
        {
            info = await redis.ExecuteAsync("XINFO", ["STREAM", Key], cancellationToken: ct);
        }
        catch (RedisServerException e) when (e.Message.Contains("no such key", StringComparison.OrdinalIgnoreCase))
        {
            await epochTask;
            return new StreamState(null, null, StreamId.Zero, StreamId.Zero);
        }
        var epoch = await epochTask;
        StreamId last = StreamId.Zero, deleted = StreamId.Zero;
        StreamId? first = null;
        long length = 0;
        var flat = info.Items;
        for (var i = 0; i + 1 < flat.Count; i += 2)
        {
            switch (flat[i].AsString())
            {
                case "last-generated-id": last = StreamId.Parse(flat[i + 1].AsString()!); break;
                case "max-deleted-entry-id": deleted = StreamId.Parse(flat[i + 1].AsString()!); break;
                case "length": length = flat[i + 1].AsInt64(); break;
                case "first-entry" when !flat[i + 1].IsNull && flat[i + 1].Items.Count > 0:
                    first = StreamId.Parse(flat[i + 1].Items[0].AsString()!);
                    break;
                default: break;
            }
        }
        return new StreamState(StreamId.TryParse(epoch, out var e2) ? e2 : null, length == 0 ? null : first, last, deleted);
    }

    /// <summary>Up to <paramref name="count"/> entries after <paramref name="after"/> (exclusive), oldest first.</summary>
    public Task<IReadOnlyList<StreamEntry>> ReadAfterAsync(StreamId after, int count, CancellationToken ct) =>
        redis.XRangeAsync(Key, "(" + after.ToString(), "+", count, ct);
}
