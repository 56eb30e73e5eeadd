using System.Text;
using Parley.Redis.Internal;

namespace Parley.Redis.Tests.Internal;

[Trait("Category", "Smoke")]
public sealed class RespWriterTests
{
    private static string Wire(RespWriter writer)
    {
        using (writer)
        {
            return Encoding.UTF8.GetString(writer.WrittenSpan);
        }
    }

    [Fact]
    public void Commands_are_arrays_of_bulk_strings()
    {
        var writer = new RespWriter().WriteArrayHeader(3).WriteBulk("SET").WriteBulk("k").WriteBulk("vé");
        Assert.Equal("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nvé\r\n", Wire(writer));
    }

    [Fact]
    public void Every_supported_argument_type_is_written_as_a_bulk_string()
    {
        var writer = new RespWriter().WriteArrayHeader(6);
        foreach (var arg in new object[] { "s", new byte[] { 1, 2 }, new ReadOnlyMemory<byte>([3]), 42L, -7, 1.5 })
        {
            writer.WriteArgument(arg);
        }

        Assert.Equal("*6\r\n$1\r\ns\r\n$2\r\n\u0001\u0002\r\n$1\r\n\u0003\r\n$2\r\n42\r\n$2\r\n-7\r\n$3\r\n1.5\r\n", Wire(writer));
    }

    [Fact]
    public void Unsupported_argument_types_are_refused_with_the_type_name()
    {
        using var writer = new RespWriter();
        var error = Assert.Throws<ArgumentException>(() => writer.WriteArgument(new object()));
        Assert.Contains("Object", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => writer.WriteArgument(null));
    }

    [Fact]
    public void Large_values_grow_the_pooled_buffer()
    {
        var big = new byte[100_000];
        Random.Shared.NextBytes(big);
        using var writer = new RespWriter(16).WriteArrayHeader(1).WriteBulk(big);
        Assert.True(new RespReader().TryRead(writer.WrittenSpan, out var value, out var consumed));
        Assert.Equal(writer.Length, consumed);
        Assert.Equal(big, value.Items[0].AsBytes());
    }

    [Fact]
    public void Every_value_kind_round_trips_through_the_reader()
    {
        var value = RespValue.Array([
            RespValue.SimpleString("OK"), RespValue.Error("ERR x"), RespValue.Integer(long.MinValue),
            RespValue.BulkString("héllo"), RespValue.NullBulkString, RespValue.NullArray, RespValue.Array([]),
        ]);
        using var writer = new RespWriter().WriteValue(value);
        Assert.True(new RespReader().TryRead(writer.WrittenSpan, out var parsed, out _));
        Assert.Equal(value, parsed);
    }
}
