using System.Text;
using Parley.Redis.Internal;

namespace Parley.Redis.Tests.Internal;

[Trait("Category", "Smoke")]
public sealed class RespReaderTests
{
    private static RespValue ReadAll(string wire, out int consumed)
    {
        var reader = new RespReader();
        Assert.True(reader.TryRead(Encoding.UTF8.GetBytes(wire), out var value, out consumed), $"'{wire}' should parse as one complete reply");
        return value;
    }

    private static RespValue Read(string wire)
    {
        var value = ReadAll(wire, out var consumed);
        Assert.Equal(Encoding.UTF8.GetByteCount(wire), consumed);
        return value;
    }

    [Fact]
    public void Simple_string_error_and_integer_parse()
    {
        Assert.Equal(RespValue.SimpleString("OK"), Read("+OK\r\n"));
        Assert.Equal(RespValue.Error("NOSCRIPT No matching script"), Read("-NOSCRIPT No matching script\r\n"));
        Assert.Equal(RespValue.Integer(-42), Read(":-42\r\n"));
        Assert.Equal(long.MaxValue, Read(":9223372036854775807\r\n").AsInt64());
        Assert.Equal(long.MinValue, Read(":-9223372036854775808\r\n").AsInt64());
    }

    [Fact]
    public void Bulk_strings_keep_binary_content_and_null()
    {
        var value = Read("$5\r\na\r\nb\0\r\n");
        Assert.Equal("a\r\nb\0"u8.ToArray(), value.AsBytes());
        Assert.True(Read("$-1\r\n").IsNull);
        Assert.Equal("", Read("$0\r\n\r\n").AsString());
    }

    [Fact]
    public void Nested_arrays_and_null_array_parse()
    {
        var value = Read("*3\r\n:1\r\n*2\r\n+a\r\n$-1\r\n*-1\r\n");
        Assert.Equal(3, value.Items.Count);
        Assert.Equal(1, value.Items[0].AsInt64());
        Assert.Equal("a", value.Items[1].Items[0].AsString());
        Assert.True(value.Items[1].Items[1].IsNull);
        Assert.True(value.Items[2].IsNull);
        Assert.Empty(Read("*0\r\n").Items);
    }

    [Fact]
    public void Only_the_first_reply_is_consumed()
    {
        var value = ReadAll("+first\r\n+second\r\n", out var consumed);
        Assert.Equal("first", value.AsString());
        Assert.Equal(8, consumed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("+OK")]
    [InlineData("+OK\r")]
    [InlineData(":12")]
    [InlineData("$5\r\nab")]
    [InlineData("$5\r\nabcde")]
    [InlineData("$5\r\nabcde\r")]
    [InlineData("*2\r\n:1\r\n")]
    [InlineData("*2\r\n:1\r\n$3\r\nab")]
    public void Incomplete_input_returns_false_and_consumes_nothing(string wire)
    {
        var reader = new RespReader();
        Assert.False(reader.TryRead(Encoding.UTF8.GetBytes(wire), out _, out var consumed));
        Assert.Equal(0, consumed);
        Assert.True(reader.MinimumNeeded > wire.Length, $"MinimumNeeded {reader.MinimumNeeded} should exceed what is there ({wire.Length})");
    }

    [Fact]
    public void A_partial_bulk_string_reports_exactly_how_many_bytes_it_needs()
    {
        var reader = new RespReader();
        Assert.False(reader.TryRead("$1000\r\nabc"u8, out _, out _));
        Assert.Equal(7 + 1000 + 2, reader.MinimumNeeded);
    }

    [Theory]
    [InlineData("?x\r\n")]
    [InlineData(":12a\r\n")]
    [InlineData(":\r\n")]
    [InlineData(":-\r\n")]
    [InlineData(":99999999999999999999\r\n")]
    [InlineData("$-2\r\n")]
    [InlineData("*-5\r\n")]
    [InlineData("$3\r\nabcXY")]
    [InlineData("+OK\rX")]
    [InlineData("+O\nK\r\n")]
    public void Malformed_input_throws_RespProtocolException(string wire)
    {
        var reader = new RespReader();
        Assert.Throws<RespProtocolException>(() => reader.TryRead(Encoding.UTF8.GetBytes(wire), out _, out _));
    }

    [Fact]
    public void Bulk_strings_over_the_limit_are_refused_before_buffering()
    {
        var reader = new RespReader(maxBulkLength: 10);
        var error = Assert.Throws<RespProtocolException>(() => reader.TryRead("$11\r\n"u8, out _, out _));
        Assert.Contains("limit", error.Message, StringComparison.Ordinal);
        Assert.True(reader.TryRead("$10\r\n0123456789\r\n"u8, out _, out _));
    }

    [Fact]
    public void The_default_bulk_limit_is_512_MiB()
    {
        var reader = new RespReader();
        Assert.Throws<RespProtocolException>(() => reader.TryRead("$536870913\r\n"u8, out _, out _));
        Assert.False(reader.TryRead("$536870912\r\n"u8, out _, out _));
    }

    [Fact]
    public void Nesting_deeper_than_the_limit_is_refused()
    {
        var reader = new RespReader(maxDepth: 3);
        Assert.True(reader.TryRead("*1\r\n*1\r\n*1\r\n:1\r\n"u8, out _, out _));
        Assert.Throws<RespProtocolException>(() => reader.TryRead("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"u8, out _, out _));
    }

    [Fact]
    public void An_endless_line_is_refused_instead_of_buffered_forever()
    {
        var reader = new RespReader();
        var wire = new byte[RespReader.MaxLineLength + 10];
        wire.AsSpan().Fill((byte)'a');
        wire[0] = (byte)'+';
        Assert.Throws<RespProtocolException>(() => reader.TryRead(wire, out _, out _));
    }
}
