using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Parley.Redis.Internal;

/// <summary>
/// Serialises one command (an array of bulk strings) into a buffer rented from
/// <see cref="ArrayPool{T}.Shared"/>. The connection's writer loop copies it to the socket and
/// calls <see cref="Dispose"/>, which returns the buffer.
/// </summary>
internal sealed class RespWriter : IDisposable
{
    private byte[] _buffer;
    private int _length;

    public RespWriter(int sizeHint = 256) => _buffer = ArrayPool<byte>.Shared.Rent(sizeHint);

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    public int Length => _length;

    /// <summary>Starts a command of <paramref name="argumentCount"/> parts (command name included).</summary>
    public RespWriter WriteArrayHeader(int argumentCount) => WriteHeader((byte)'*', argumentCount);

    public RespWriter WriteBulk(ReadOnlySpan<byte> value)
    {
        WriteHeader((byte)'$', value.Length);
        var span = GetSpan(value.Length + 2);
        value.CopyTo(span);
        span[value.Length] = (byte)'\r';
        span[value.Length + 1] = (byte)'\n';
        _length += value.Length + 2;
        return this;
    }

    public RespWriter WriteBulk(string value)
    {
        var byteCount = Encoding.UTF8.GetByteCount(value);
        WriteHeader((byte)'$', byteCount);
        var span = GetSpan(byteCount + 2);
        Encoding.UTF8.GetBytes(value, span);
        span[byteCount] = (byte)'\r';
        span[byteCount + 1] = (byte)'\n';
        _length += byteCount + 2;
        return this;
    }

    public RespWriter WriteBulk(long value)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, digits, out var written);
        return WriteBulk(digits[..written]);
    }

    /// <summary>Writes one argument of any supported type: string, byte[], ReadOnlyMemory&lt;byte&gt;, long, int.</summary>
    public RespWriter WriteArgument(object? argument) => argument switch
    {
        string s => WriteBulk(s),
        byte[] b => WriteBulk(b),
        ReadOnlyMemory<byte> m => WriteBulk(m.Span),
        Memory<byte> m => WriteBulk(m.Span),
        long l => WriteBulk(l),
        int i => WriteBulk(i),
        uint u => WriteBulk(u),
        short sh => WriteBulk(sh),
        double d => WriteBulk(d.ToString("R", System.Globalization.CultureInfo.InvariantCulture)),
        null => throw new ArgumentNullException(nameof(argument), "Redis command arguments cannot be null."),
        _ => throw new ArgumentException(
            $"Unsupported Redis argument type {argument.GetType().Name}; pass string, byte[], ReadOnlyMemory<byte>, long or int.",
            nameof(argument)),
    };

    /// <summary>Writes any <see cref="RespValue"/> as the server would (used by tests and fakes).</summary>
    public RespWriter WriteValue(RespValue value)
    {
        switch (value.Type)
        {
            case RespType.SimpleString:
                return WriteLine((byte)'+', value.AsString()!);
            case RespType.Error:
                return WriteLine((byte)'-', value.AsString()!);
            case RespType.Integer:
            {
                var span = GetSpan(24);
                span[0] = (byte)':';
                Utf8Formatter.TryFormat(value.AsInt64(), span[1..], out var written);
                span[1 + written] = (byte)'\r';
                span[2 + written] = (byte)'\n';
                _length += written + 3;
                return this;
            }
            case RespType.BulkString:
                return value.IsNull ? WriteHeader((byte)'$', -1) : WriteBulk(value.AsBytes());
            case RespType.Array:
                if (value.IsNull)
                {
                    return WriteHeader((byte)'*', -1);
                }

                WriteHeader((byte)'*', value.Items.Count);
                foreach (var item in value.Items)
                {
                    WriteValue(item);
                }

                return this;
            default:
                throw new ArgumentException("default(RespValue) cannot be written.", nameof(value));
        }
    }

    private RespWriter WriteLine(byte prefix, string text)
    {
        var byteCount = Encoding.UTF8.GetByteCount(text);
        var span = GetSpan(byteCount + 3);
        span[0] = prefix;
        Encoding.UTF8.GetBytes(text, span[1..]);
        span[byteCount + 1] = (byte)'\r';
        span[byteCount + 2] = (byte)'\n';
        _length += byteCount + 3;
        return this;
    }

    private RespWriter WriteHeader(byte prefix, int count)
    {
        var span = GetSpan(24);
        span[0] = prefix;
        Utf8Formatter.TryFormat(count, span[1..], out var written);
        span[1 + written] = (byte)'\r';
        span[2 + written] = (byte)'\n';
        _length += written + 3;
        return this;
    }

    private Span<byte> GetSpan(int size)
    {
        if (_buffer.Length - _length < size)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + size));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }

        return _buffer.AsSpan(_length);
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        _length = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
