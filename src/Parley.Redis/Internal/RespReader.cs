using System.Text;

namespace Parley.Redis.Internal;

/// <summary>
/// Parses RESP2 replies from a span. Incremental in the sense the connection needs: it parses one
/// whole reply or none, so the caller keeps unconsumed bytes and calls again when more arrive.
/// A first pass only scans (no allocation) and remembers how many bytes it is missing at least
/// (<see cref="MinimumNeeded"/>), so a large reply arriving in pieces is not materialised again
/// and again; only a complete frame is turned into <see cref="RespValue"/>s.
/// </summary>
internal sealed class RespReader
{
    /// <summary>Longest simple-string or error line accepted (Redis's own inline limit is 64 KiB).</summary>
    internal const int MaxLineLength = 64 * 1024;

    private const int MaxNumberLength = 20; // "-9223372036854775808"

    private readonly int _maxBulkLength;
    private readonly int _maxDepth;

    public RespReader(int maxBulkLength = RedisDefaults.MaxBulkLength, int maxDepth = RedisDefaults.MaxNestingDepth)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBulkLength, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDepth, 1);
        _maxBulkLength = maxBulkLength;
        _maxDepth = maxDepth;
    }

    /// <summary>
    /// After <see cref="TryRead"/> returned false: the buffer must hold at least this many bytes
    /// before another attempt can succeed. A hint, never more than the true need.
    /// </summary>
    public int MinimumNeeded { get; private set; }

    /// <summary>
    /// Reads one reply from the start of <paramref name="buffer"/>. Returns false when the buffer
    /// holds only part of a reply (nothing consumed); throws <see cref="RespProtocolException"/>
    /// when the bytes cannot be the start of a valid reply.
    /// </summary>
    public bool TryRead(ReadOnlySpan<byte> buffer, out RespValue value, out int consumed)
    {
        var end = 0;
        if (!Scan(buffer, ref end, 1))
        {
            value = default;
            consumed = 0;
            return false;
        }

        var pos = 0;
        value = Materialize(buffer, ref pos);
        consumed = end;
        MinimumNeeded = 0;
        return true;
    }

    private bool Scan(ReadOnlySpan<byte> buffer, ref int pos, int depth)
    {
        if (pos >= buffer.Length)
        {
            return Incomplete(pos + 3);
        }

        var prefix = buffer[pos];
        switch (prefix)
        {
            case (byte)'+':
            case (byte)'-':
                return TryFindLine(buffer, pos + 1, MaxLineLength, out _, out pos);
            case (byte)':':
                if (!TryFindLine(buffer, pos + 1, MaxNumberLength, out var intLine, out var next))
                {
                    return false;
                }

                ParseInteger(buffer.Slice(pos + 1, intLine));
                pos = next;
                return true;
            case (byte)'$':
            {
                if (!TryReadLength(buffer, ref pos, _maxBulkLength, "bulk string", out var length))
                {
                    return false;
                }

                if (length < 0)
                {
                    return true;
                }

                var end = (long)pos + length + 2;
                if (end > buffer.Length)
                {
                    return Incomplete(end);
                }

                if (buffer[pos + length] != (byte)'\r' || buffer[pos + length + 1] != (byte)'\n')
                {
                    throw ThrowHelper.Protocol("bulk string is not followed by CRLF");
                }

                pos = (int)end;
                return true;
            }
            case (byte)'*':
            {
                if (depth > _maxDepth)
                {
                    throw ThrowHelper.Protocol($"arrays nested deeper than {_maxDepth} levels");
                }

                if (!TryReadLength(buffer, ref pos, int.MaxValue, "array", out var count))
                {
                    return false;
                }

                for (var i = 0; i < count; i++)
                {
                    if (!Scan(buffer, ref pos, depth + 1))
                    {
                        return false;
                    }
                }

                return true;
            }
            default:
                throw ThrowHelper.Protocol($"unexpected type byte 0x{prefix:X2} at offset {pos}");
        }
    }

    /// <summary>Builds the value of a frame that <see cref="Scan"/> accepted; no checks needed.</summary>
    private static RespValue Materialize(ReadOnlySpan<byte> buffer, ref int pos)
    {
        var prefix = buffer[pos];
        var lineStart = pos + 1;
        var lineLength = buffer[lineStart..].IndexOf((byte)'\r');
        var line = buffer.Slice(lineStart, lineLength);
        pos = lineStart + lineLength + 2;
        switch (prefix)
        {
            case (byte)'+':
                return RespValue.SimpleString(Encoding.UTF8.GetString(line));
            case (byte)'-':
                return RespValue.Error(Encoding.UTF8.GetString(line));
            case (byte)':':
                return RespValue.Integer(ParseInteger(line));
            case (byte)'$':
            {
                var length = ParseInteger(line);
                if (length < 0)
                {
                    return RespValue.NullBulkString;
                }

                var bytes = buffer.Slice(pos, (int)length).ToArray();
                pos += (int)length + 2;
                return RespValue.BulkString(bytes);
            }
            default:
            {
                var count = ParseInteger(line);
                if (count < 0)
                {
                    return RespValue.NullArray;
                }

                var items = count == 0 ? [] : new RespValue[count];
                for (var i = 0; i < items.Length; i++)
                {
                    items[i] = Materialize(buffer, ref pos);
                }

                return RespValue.Array(items);
            }
        }
    }

    private bool TryReadLength(ReadOnlySpan<byte> buffer, ref int pos, int max, string what, out int length)
    {
        length = 0;
        if (!TryFindLine(buffer, pos + 1, MaxNumberLength, out var lineLength, out var next))
        {
            return false;
        }

        var n = ParseInteger(buffer.Slice(pos + 1, lineLength));
        if (n < -1)
        {
            throw ThrowHelper.Protocol($"negative {what} length {n}");
        }

        if (n > max)
        {
            throw ThrowHelper.Protocol($"{what} length {n} exceeds the limit of {max}");
        }

        length = (int)n;
        pos = next;
        return true;
    }

    /// <summary>Finds the CRLF that ends the line starting at <paramref name="start"/>.</summary>
    private bool TryFindLine(ReadOnlySpan<byte> buffer, int start, int maxLength, out int lineLength, out int next)
    {
        next = start;
        var rest = start <= buffer.Length ? buffer[start..] : [];
        var cr = rest.IndexOfAny((byte)'\r', (byte)'\n');
        if (cr < 0)
        {
            lineLength = rest.Length;
            if (rest.Length > maxLength)
            {
                throw ThrowHelper.Protocol($"line longer than {maxLength} bytes");
            }

            return Incomplete((long)buffer.Length + 1);
        }

        lineLength = cr;
        if (cr > maxLength)
        {
            throw ThrowHelper.Protocol($"line longer than {maxLength} bytes");
        }

        if (rest[cr] == (byte)'\n')
        {
            throw ThrowHelper.Protocol("bare LF inside a line");
        }

        if (cr + 1 >= rest.Length)
        {
            return Incomplete((long)start + cr + 2);
        }

        if (rest[cr + 1] != (byte)'\n')
        {
            throw ThrowHelper.Protocol("CR not followed by LF");
        }

        next = start + cr + 2;
        return true;
    }

    private static long ParseInteger(ReadOnlySpan<byte> digits)
    {
        if (digits.IsEmpty)
        {
            throw ThrowHelper.Protocol("empty number");
        }

        var negative = digits[0] == (byte)'-';
        var body = negative ? digits[1..] : digits;
        if (body.IsEmpty)
        {
            throw ThrowHelper.Protocol("number without digits");
        }

        ulong value = 0;
        foreach (var b in body)
        {
            var d = (uint)(b - '0');
            if (d > 9)
            {
                throw ThrowHelper.Protocol($"invalid digit 0x{b:X2} in a number");
            }

            if (value > (ulong.MaxValue - d) / 10)
            {
                throw ThrowHelper.Protocol("number out of range");
            }

            value = (value * 10) + d;
        }

        if (negative)
        {
            return value <= (ulong)long.MaxValue + 1
                ? (long)(0 - value)
                : throw ThrowHelper.Protocol("number out of range");
        }

        return value <= long.MaxValue ? (long)value : throw ThrowHelper.Protocol("number out of range");
    }

    private bool Incomplete(long needed)
    {
        MinimumNeeded = (int)Math.Min(needed, int.MaxValue);
        return false;
    }
}
