using System.Globalization;
using System.Text;

namespace Parley.Redis;

/// <summary>The five RESP2 reply kinds.</summary>
public enum RespType : byte
{
    /// <summary><c>+OK</c>.</summary>
    SimpleString = 1,
    /// <summary><c>-ERR message</c>.</summary>
    Error = 2,
    /// <summary><c>:42</c>.</summary>
    Integer = 3,
    /// <summary><c>$3\r\nabc</c>, or the null bulk string <c>$-1</c>.</summary>
    BulkString = 4,
    /// <summary><c>*2\r\n...</c>, or the null array <c>*-1</c>.</summary>
    Array = 5,
}

/// <summary>
/// One RESP2 value. A small immutable struct: the integer lives inline, strings, byte arrays and
/// child arrays in one reference field. <c>default(RespValue)</c> is not a valid reply.
/// </summary>
public readonly struct RespValue : IEquatable<RespValue>
{
    private readonly object? _ref;
    private readonly long _integer;

    private RespValue(RespType type, object? reference, long integer)
    {
        Type = type;
        _ref = reference;
        _integer = integer;
    }

    /// <summary>The reply kind.</summary>
    public RespType Type { get; }

    /// <summary>The null bulk string (<c>$-1</c>).</summary>
    public static RespValue NullBulkString => new(RespType.BulkString, null, 0);

    /// <summary>The null array (<c>*-1</c>).</summary>
    public static RespValue NullArray => new(RespType.Array, null, 0);

    /// <summary>A simple string; it may not contain CR or LF.</summary>
    public static RespValue SimpleString(string value) => new(RespType.SimpleString, value ?? throw new ArgumentNullException(nameof(value)), 0);

    /// <summary>An error reply such as <c>NOSCRIPT No matching script</c>.</summary>
    public static RespValue Error(string message) => new(RespType.Error, message ?? throw new ArgumentNullException(nameof(message)), 0);

    /// <summary>An integer reply.</summary>
    public static RespValue Integer(long value) => new(RespType.Integer, null, value);

    /// <summary>A bulk string holding <paramref name="value"/> (not copied); null gives the null bulk string.</summary>
    public static RespValue BulkString(byte[]? value) => new(RespType.BulkString, value, 0);

    /// <summary>A bulk string holding the UTF-8 bytes of <paramref name="value"/>; null gives the null bulk string.</summary>
    public static RespValue BulkString(string? value) => new(RespType.BulkString, value is null ? null : Encoding.UTF8.GetBytes(value), 0);

    /// <summary>An array (not copied); null gives the null array.</summary>
    public static RespValue Array(RespValue[]? items) => new(RespType.Array, items, 0);

    /// <summary>True for the null bulk string and the null array.</summary>
    public bool IsNull => _ref is null && Type is RespType.BulkString or RespType.Array;

    /// <summary>True for an error reply.</summary>
    public bool IsError => Type == RespType.Error;

    /// <summary>The children of an array; empty for the null array; throws for other kinds.</summary>
    public IReadOnlyList<RespValue> Items => Type == RespType.Array
        ? (RespValue[]?)_ref ?? []
        : throw Unexpected("an array");

    internal RespValue[]? ArrayOrNull => _ref as RespValue[];

    /// <summary>
    /// The value as text: simple strings and errors as they are, bulk strings decoded as UTF-8,
    /// integers in invariant culture, null for the null values. Throws for non-null arrays.
    /// </summary>
    public string? AsString() => Type switch
    {
        RespType.SimpleString or RespType.Error => (string)_ref!,
        RespType.BulkString => _ref is byte[] b ? Encoding.UTF8.GetString(b) : null,
        RespType.Integer => _integer.ToString(CultureInfo.InvariantCulture),
        RespType.Array when _ref is null => null,
        _ => throw Unexpected("a string"),
    };

    /// <summary>
    /// The value as a 64-bit integer: integer replies directly, strings parsed (Redis answers some
    /// numbers as bulk strings). Throws for null and for text that is not a number.
    /// </summary>
    public long AsInt64()
    {
        if (Type == RespType.Integer)
        {
            return _integer;
        }

        var text = Type is RespType.BulkString or RespType.SimpleString ? AsString() : null;
        return text is not null && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw Unexpected("an integer");
    }

    /// <summary>The bytes of a bulk string (or the UTF-8 of a simple string); null for the null bulk string.</summary>
    public byte[]? AsBytes() => Type switch
    {
        RespType.BulkString => (byte[]?)_ref,
        RespType.SimpleString or RespType.Error => Encoding.UTF8.GetBytes((string)_ref!),
        RespType.Integer => Encoding.ASCII.GetBytes(_integer.ToString(CultureInfo.InvariantCulture)),
        _ => throw Unexpected("a bulk string"),
    };

    /// <summary>The bytes of a bulk string as memory; empty for the null bulk string.</summary>
    public ReadOnlyMemory<byte> AsMemory() => AsBytes() ?? ReadOnlyMemory<byte>.Empty;

    private InvalidCastException Unexpected(string wanted) =>
        new($"Expected {wanted} reply but got {Describe()}.");

    private string Describe() => IsNull ? $"null {Type}" : Type.ToString();

    /// <inheritdoc />
    public bool Equals(RespValue other)
    {
        if (Type != other.Type)
        {
            return false;
        }

        switch (Type)
        {
            case RespType.Integer:
                return _integer == other._integer;
            case RespType.SimpleString:
            case RespType.Error:
                return string.Equals((string?)_ref, (string?)other._ref, StringComparison.Ordinal);
            case RespType.BulkString:
                return _ref is byte[] a
                    ? other._ref is byte[] b && a.AsSpan().SequenceEqual(b)
                    : other._ref is null;
            case RespType.Array:
                if (_ref is not RespValue[] x || other._ref is not RespValue[] y)
                {
                    return _ref is null && other._ref is null;
                }

                if (x.Length != y.Length)
                {
                    return false;
                }

                for (var i = 0; i < x.Length; i++)
                {
                    if (!x[i].Equals(y[i]))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return other.Type == Type;
        }
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is RespValue other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => Type switch
    {
        RespType.Integer => HashCode.Combine(Type, _integer),
        RespType.Array => HashCode.Combine(Type, ((RespValue[]?)_ref)?.Length ?? -1),
        RespType.BulkString => HashCode.Combine(Type, ((byte[]?)_ref)?.Length ?? -1),
        _ => HashCode.Combine(Type, _ref),
    };

    /// <summary>Structural equality.</summary>
    public static bool operator ==(RespValue left, RespValue right) => left.Equals(right);

    /// <summary>Structural inequality.</summary>
    public static bool operator !=(RespValue left, RespValue right) => !left.Equals(right);

    /// <summary>A short human-readable form for logs and test failures.</summary>
    public override string ToString() => Type switch
    {
        RespType.SimpleString => "+" + (string)_ref!,
        RespType.Error => "-" + (string)_ref!,
        RespType.Integer => ":" + _integer.ToString(CultureInfo.InvariantCulture),
        RespType.BulkString => _ref is byte[] b ? $"${b.Length}:{Encoding.UTF8.GetString(b)}" : "$-1",
        RespType.Array => _ref is RespValue[] items ? "[" + string.Join(", ", items) + "]" : "*-1",
        _ => "(default)",
    };
}
