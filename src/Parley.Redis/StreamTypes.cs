using System.Text;

namespace Parley.Redis;

/// <summary>One stream entry: its id and its field/value pairs in the order written.</summary>
public sealed record StreamEntry(string Id, IReadOnlyList<KeyValuePair<string, ReadOnlyMemory<byte>>> Fields)
{
    /// <summary>The first value of <paramref name="field"/> as bytes, or null when absent.</summary>
    public ReadOnlyMemory<byte>? this[string field]
    {
        get
        {
            foreach (var pair in Fields)
            {
                if (pair.Key == field)
                {
                    return pair.Value;
                }
            }

            return null;
        }
    }

    /// <summary>The first value of <paramref name="field"/> decoded as UTF-8, or null when absent.</summary>
    public string? GetString(string field) => this[field] is { } value ? Encoding.UTF8.GetString(value.Span) : null;

    /// <summary>True when the entry was deleted while pending (XREADGROUP then returns it without fields).</summary>
    public bool IsDeleted => Fields.Count == 0;
}

/// <summary>How <c>XADD</c> or <c>XTRIM</c> trims the stream.</summary>
public readonly record struct StreamTrim
{
    private StreamTrim(string strategy, string threshold, bool approximate)
    {
        Strategy = strategy;
        Threshold = threshold;
        Approximate = approximate;
    }

    /// <summary><c>MAXLEN</c> or <c>MINID</c>.</summary>
    public string Strategy { get; }

    /// <summary>The length or the id.</summary>
    public string Threshold { get; }

    /// <summary>True for <c>~</c> (Redis trims whole nodes only; much cheaper).</summary>
    public bool Approximate { get; }

    /// <summary>Keep about the newest <paramref name="length"/> entries.</summary>
    public static StreamTrim MaxLength(long length, bool approximate = true) =>
        length >= 0
            ? new("MAXLEN", length.ToString(System.Globalization.CultureInfo.InvariantCulture), approximate)
            : throw new ArgumentOutOfRangeException(nameof(length), length, "MAXLEN must be 0 or more.");

    /// <summary>Evict entries with ids lower than <paramref name="id"/>.</summary>
    public static StreamTrim MinId(string id, bool approximate = true) =>
        new("MINID", id ?? throw new ArgumentNullException(nameof(id)), approximate);

    internal int ArgumentCount => 3;

    internal void WriteTo(Internal.RespWriter writer) =>
        writer.WriteBulk(Strategy).WriteBulk(Approximate ? "~" : "=").WriteBulk(Threshold);
}

/// <summary>The reply of <c>XAUTOCLAIM</c>.</summary>
/// <param name="NextStartId">Where the next call should start; <c>0-0</c> when the scan is complete.</param>
/// <param name="Entries">The entries now owned by the claiming consumer.</param>
/// <param name="DeletedIds">Pending ids whose entries no longer exist (removed from the PEL).</param>
public sealed record StreamAutoClaimResult(string NextStartId, IReadOnlyList<StreamEntry> Entries, IReadOnlyList<string> DeletedIds);

/// <summary>The summary form of <c>XPENDING key group</c>.</summary>
/// <param name="Count">Entries delivered and not acknowledged.</param>
/// <param name="SmallestId">Lowest pending id, or null when none.</param>
/// <param name="GreatestId">Highest pending id, or null when none.</param>
/// <param name="Consumers">Pending count per consumer.</param>
public sealed record StreamPendingSummary(long Count, string? SmallestId, string? GreatestId, IReadOnlyList<KeyValuePair<string, long>> Consumers);

/// <summary>One group of <c>XINFO GROUPS</c>.</summary>
/// <param name="Name">Group name.</param>
/// <param name="Consumers">Number of consumers.</param>
/// <param name="Pending">Entries delivered and not acknowledged.</param>
/// <param name="LastDeliveredId">Last id delivered to the group.</param>
/// <param name="Lag">Entries not yet delivered, when Redis can tell (7.0+); else null.</param>
public sealed record StreamGroupInfo(string Name, long Consumers, long Pending, string LastDeliveredId, long? Lag);
