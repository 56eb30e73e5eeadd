using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Parley.Data;

/// <summary>
/// UUIDv7 ids (RFC 9562) that are monotonic within this process: the 12-bit <c>rand_a</c> field is a
/// sequence within the millisecond (method 3), so two messages sent in the same millisecond keep
/// their order. <see cref="Guid.CreateVersion7()"/> fills that field at random.
/// </summary>
public static class Ids
{
    private static readonly Lock Gate = new();
    private static long _lastMs;
    private static int _sequence;

    public static Guid NewId(DateTime at)
    {
        var ms = new DateTimeOffset(at).ToUnixTimeMilliseconds();
        int sequence;
        lock (Gate)
        {
            if (ms > _lastMs)
            {
                _lastMs = ms;
                _sequence = Random.Shared.Next(0, 0x400); // leaves room to count up within the millisecond
            }
            else if (++_sequence > 0xFFF)
            {
                _lastMs++;
                _sequence = 0;
            }
            ms = _lastMs;
            sequence = _sequence;
        }
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes[8..]);
        Span<byte> time = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(time, ms);
        time[2..].CopyTo(bytes);
        bytes[6] = (byte)(0x70 | (sequence >> 8));
        bytes[7] = (byte)sequence;
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return new Guid(bytes, bigEndian: true);
    }
}
