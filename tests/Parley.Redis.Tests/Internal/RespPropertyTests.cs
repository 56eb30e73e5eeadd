using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Parley.Redis.Internal;

namespace Parley.Redis.Tests.Internal;

/// <summary>Property tests of the RESP reader: round trips at any split, and robustness on garbage.</summary>
[Trait("Category", "Smoke")]
public sealed class RespPropertyTests
{
    private static Gen<string> LineText =>
        Gen.ArrayOf(Gen.Elements("a", "Z", "0", " ", "é", "€", "-", ":", "$", "*", "\t")).Select(parts => string.Concat(parts));

    private static Gen<RespValue> Scalar =>
        Gen.OneOf(
            LineText.Select(RespValue.SimpleString),
            LineText.Select(s => RespValue.Error("ERR " + s)),
            Gen.Choose(int.MinValue, int.MaxValue).Select(i => RespValue.Integer((long)i * 3)),
            Gen.Elements(long.MinValue, long.MaxValue, 0L).Select(RespValue.Integer),
            Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b)).Select(b => RespValue.BulkString(b)),
            Gen.Constant(RespValue.NullBulkString),
            Gen.Constant(RespValue.NullArray));

    private static Gen<RespValue> Value(int size) =>
        size <= 0
            ? Scalar
            : Gen.Frequency(
                (3, Scalar),
                (1, Gen.Choose(0, 6).SelectMany(n => Gen.ArrayOf(Value(size / 2), n)).Select(RespValue.Array)));

    private static byte[] Serialise(RespValue value)
    {
        using var writer = new RespWriter().WriteValue(value);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Feeds <paramref name="wire"/> in chunks ending at <paramref name="cuts"/>, as a socket would.</summary>
    private static List<RespValue> FeedInChunks(byte[] wire, IEnumerable<int> cuts)
    {
        var reader = new RespReader();
        var values = new List<RespValue>();
        var start = 0;
        foreach (var available in cuts.Append(wire.Length).Distinct().Order())
        {
            while (start < available && reader.TryRead(wire.AsSpan(start, available - start), out var value, out var consumed))
            {
                Assert.True(consumed > 0, "a successful read must consume bytes");
                values.Add(value);
                start += consumed;
            }
        }

        Assert.Equal(wire.Length, start);
        return values;
    }

    [Property(MaxTest = 500)]
    public Property Any_value_serialised_and_fed_in_arbitrary_chunks_parses_back_identically()
    {
        var cases = Gen.Sized(Value).ArrayOf().SelectMany(
            values => Gen.ArrayOf(Gen.Choose(0, Math.Max(0, values.Sum(v => Serialise(v).Length)))),
            (values, cuts) => (values, cuts));

        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var wire = c.values.SelectMany(Serialise).ToArray();
            var parsed = FeedInChunks(wire, c.cuts);
            return parsed.SequenceEqual(c.values);
        });
    }

    [Property(MaxTest = 500)]
    public Property Every_strict_prefix_of_a_reply_is_incomplete_and_never_an_error()
    {
        return Prop.ForAll(Gen.Sized(Value).ToArbitrary(), value =>
        {
            var wire = Serialise(value);
            var reader = new RespReader();
            for (var length = 0; length < wire.Length; length++)
            {
                if (reader.TryRead(wire.AsSpan(0, length), out _, out _))
                {
                    return false;
                }
            }

            return reader.TryRead(wire, out var parsed, out var consumed) && consumed == wire.Length && parsed == value;
        });
    }

    [Property(MaxTest = 500)]
    public Property Random_garbage_only_ever_throws_RespProtocolException()
    {
        var alphabet = Gen.Elements("+", "-", ":", "$", "*", "\r", "\n", "\r\n", "0", "1", "9", "-1", "a", "\0", "99999999999999999999")
            .Select(s => System.Text.Encoding.ASCII.GetBytes(s));
        var garbage = Gen.Frequency(
            (1, Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b))),
            (3, Gen.ArrayOf(alphabet).Select(parts => parts.SelectMany(p => p).ToArray())));

        return Prop.ForAll(garbage.ToArbitrary(), bytes => ParsesOrRefuses(bytes));
    }

    [Property(MaxTest = 500)]
    public Property Mutated_valid_replies_only_ever_throw_RespProtocolException()
    {
        var mutated = Gen.Sized(Value).SelectMany(
            v => Gen.Zip(Gen.Choose(0, 1 << 20), Gen.Choose(0, 255)),
            (v, m) =>
            {
                var wire = Serialise(v);
                var truncated = wire.AsSpan(0, m.Item1 % (wire.Length + 1)).ToArray();
                if (truncated.Length > 0)
                {
                    truncated[m.Item2 % truncated.Length] = (byte)m.Item2;
                }

                return truncated;
            });

        return Prop.ForAll(mutated.ToArbitrary(), bytes => ParsesOrRefuses(bytes));
    }

    /// <summary>Reads replies until the input runs out; only RespProtocolException may escape, and every read must make progress.</summary>
    private static bool ParsesOrRefuses(byte[] bytes)
    {
        var reader = new RespReader(maxBulkLength: 1 << 20, maxDepth: 8);
        var start = 0;
        try
        {
            for (var rounds = 0; rounds <= bytes.Length; rounds++)
            {
                if (!reader.TryRead(bytes.AsSpan(start), out _, out var consumed))
                {
                    return true;
                }

                if (consumed <= 0)
                {
                    return false;
                }

                start += consumed;
                if (start == bytes.Length)
                {
                    return true;
                }
            }

            return false; // more reads than bytes: no progress
        }
        catch (RespProtocolException)
        {
            return true;
        }
    }
}
