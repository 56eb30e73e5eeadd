using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;

namespace Parley.Data.Paging;

/// <summary>Which list a cursor belongs to and which way it walks.</summary>
public enum CursorKind : byte
{
    /// <summary>Message history, newest first: continue with rows older than the key.</summary>
    HistoryOlder = 1,
    /// <summary>Message catch-up, oldest first: continue with rows newer than the key.</summary>
    HistoryNewer = 2,
    /// <summary>Conversation list, most recent activity first.</summary>
    ConversationList = 3,
    /// <summary>Message search, best match first: continue with rows ranked below the key (<see cref="Cursor.Rank"/>).</summary>
    SearchMessages = 4,
}

/// <summary>A keyset position: the sort key of the last row a page returned.</summary>
public readonly record struct Cursor(CursorKind Kind, DateTime At, Guid Id)
{
    /// <summary>
    /// A position in a list sorted by a non-negative <c>real</c> rank: the rank's exact bits travel in <see cref="At"/>'s
    /// ticks, so the next page compares against the very value PostgreSQL computed.
    /// </summary>
    public static Cursor ForRank(CursorKind kind, float rank, Guid id) =>
        new(kind, new DateTime(BitConverter.SingleToInt32Bits(Math.Max(rank, 0f)), DateTimeKind.Utc), id);

    /// <summary>The rank of a <see cref="ForRank"/> cursor.</summary>
    public float Rank => BitConverter.Int32BitsToSingle((int)At.Ticks);
}

/// <summary>Thrown when a cursor is malformed, tampered with, or used on another list.</summary>
public sealed class InvalidCursorException(string message) : Exception(message);

/// <summary>
/// Encodes keyset positions as opaque, signed, URL-safe strings. The signature covers the scope
/// (the conversation or user the list belongs to), so a cursor cannot be edited or replayed on
/// another list.
/// </summary>
public sealed class CursorCodec(byte[] key)
{
    private const byte FormatVersion = 1;
    private const int PayloadLength = 1 + 1 + 8 + 16; // version, kind, ticks, id
    private const int MacLength = 12;

    private readonly byte[] _key = key.Length >= 16 ? key : throw new ArgumentException("The cursor key needs at least 16 bytes.", nameof(key));

    public string Encode(Cursor cursor, Guid scope)
    {
        Span<byte> buffer = stackalloc byte[PayloadLength + MacLength];
        buffer[0] = FormatVersion;
        buffer[1] = (byte)cursor.Kind;
        BinaryPrimitives.WriteInt64BigEndian(buffer[2..], cursor.At.Ticks);
        cursor.Id.TryWriteBytes(buffer[10..26], bigEndian: true, out _);
        Sign(buffer[..PayloadLength], scope, buffer[PayloadLength..]);
        return Base64Url.EncodeToString(buffer);
    }

    /// <summary>Decodes a cursor of one of the <paramref name="allowed"/> kinds issued for <paramref name="scope"/>.</summary>
    public Cursor Decode(string text, Guid scope, params ReadOnlySpan<CursorKind> allowed)
    {
        Span<byte> buffer = stackalloc byte[PayloadLength + MacLength];
        if (text.Length > 64
            || Base64Url.DecodeFromChars(text, buffer, out _, out var written) != System.Buffers.OperationStatus.Done
            || written != buffer.Length)
            throw new InvalidCursorException("The cursor is malformed.");
        Span<byte> mac = stackalloc byte[MacLength];
        Sign(buffer[..PayloadLength], scope, mac);
        if (!CryptographicOperations.FixedTimeEquals(mac, buffer[PayloadLength..]) || buffer[0] != FormatVersion)
            throw new InvalidCursorException("The cursor is invalid or belongs to another list.");
        var kind = (CursorKind)buffer[1];
        if (!allowed.Contains(kind))
            throw new InvalidCursorException("The cursor belongs to another kind of list.");
        var ticks = BinaryPrimitives.ReadInt64BigEndian(buffer[2..]);
        return new Cursor(kind, new DateTime(ticks, DateTimeKind.Utc), new Guid(buffer[10..26], bigEndian: true));
    }

    private void Sign(ReadOnlySpan<byte> payload, Guid scope, Span<byte> destination)
    {
        Span<byte> input = stackalloc byte[PayloadLength + 16];
        payload.CopyTo(input);
        scope.TryWriteBytes(input[PayloadLength..], bigEndian: true, out _);
        Span<byte> hash = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_key, input, hash);
        hash[..MacLength].CopyTo(destination);
    }
}
