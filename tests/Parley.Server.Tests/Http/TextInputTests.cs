using Parley.Server.Features.Conversations;
using Parley.Server.Http;

namespace Parley.Server.Tests.Http;

[Trait("Category", "Smoke")]
public sealed class TextInputTests
{
    [Theory]
    [InlineData("hello", TextKind.SingleLine)]
    [InlineData("", TextKind.SingleLine)]
    [InlineData("grüße 😀 עברית \u200d", TextKind.SingleLine)]
    [InlineData("line one\nline two\r\n\tindented", TextKind.MultiLine)]
    [InlineData("\U0010FFFD private use, plane 16", TextKind.SingleLine)]
    public void Ordinary_text_is_accepted(string text, TextKind kind) => Assert.Null(TextInput.Check(text, kind));

    [Theory]
    [InlineData("a\0b", TextKind.MultiLine, "U+0000 (NUL) at character 1")]
    [InlineData("\u0001", TextKind.MultiLine, "the control character U+0001 at character 0")]
    [InlineData("x\u007f", TextKind.MultiLine, "the control character U+007F at character 1")]
    [InlineData("\u0085", TextKind.MultiLine, "the control character U+0085 at character 0")]
    [InlineData("a\nb", TextKind.SingleLine, "the control character U+000A at character 1")]
    [InlineData("\t", TextKind.SingleLine, "the control character U+0009 at character 0")]
    [InlineData("\ufffe", TextKind.MultiLine, "the noncharacter U+FFFE at character 0")]
    [InlineData("ok\uffff", TextKind.MultiLine, "the noncharacter U+FFFF at character 2")]
    [InlineData("\ufdd0", TextKind.MultiLine, "the noncharacter U+FDD0 at character 0")]
    [InlineData("😀\U0001FFFE", TextKind.MultiLine, "the noncharacter U+1FFFE at character 2")]
    [InlineData("\U0010FFFF", TextKind.MultiLine, "the noncharacter U+10FFFF at character 0")]
    public void Refused_characters_are_named_with_their_position(string text, TextKind kind, string expected) =>
        Assert.Equal(expected, TextInput.Check(text, kind));

    [Fact]
    public void Lone_surrogates_are_refused()
    {
        // Built in code: an attribute's string cannot hold a lone surrogate (it turns into U+FFFD).
        Assert.Equal("a lone surrogate (U+D800) at character 1", TextInput.Check("a" + (char)0xD800, TextKind.MultiLine));
        Assert.Equal("a lone surrogate (U+DC00) at character 0", TextInput.Check(new string([(char)0xDC00, (char)0xD800]), TextKind.SingleLine));
        Assert.Equal("a lone surrogate (U+D83D) at character 2", TextInput.Check("ok" + (char)0xD83D, TextKind.MultiLine));
    }

    [Fact]
    public void Refuse_names_every_bad_field_and_skips_absent_ones()
    {
        Assert.Null(TextInput.Refuse(new("title", null, TextKind.SingleLine), new("body", "fine", TextKind.MultiLine)));
        var errors = new Dictionary<string, string[]>();
        TextInput.Collect(errors, new("title", "a\0", TextKind.SingleLine), new("body", "b\u0007", TextKind.MultiLine), new("ok", "ok", TextKind.SingleLine));
        Assert.Equal(["body", "title"], errors.Keys.Order());
        Assert.Equal("title must not contain U+0000 (NUL) at character 1.", errors["title"].Single());
    }

    [Theory]
    [InlineData("\"3\"", new[] { 3 })]
    [InlineData(" \"3\" ", new[] { 3 })]
    [InlineData("\"3\", \"4\"", new[] { 3, 4 })]
    [InlineData("W/\"3\"", new int[0])]
    [InlineData("W/\"3\", \"4\"", new[] { 4 })]
    [InlineData("\"03\"", new int[0])]
    [InlineData("\"abc\"", new int[0])]
    [InlineData("\"-1\"", new int[0])]
    public void If_match_keeps_only_strong_version_tags(string header, int[] versions) =>
        Assert.Equal(versions, ConversationsApi.ParseIfMatch(header));

    [Theory]
    [InlineData("3")]
    [InlineData("\"3")]
    [InlineData("*")]
    [InlineData("\"3\", *")]
    [InlineData("\"3\" x")]
    [InlineData("version-one")]
    public void A_malformed_if_match_or_a_star_is_refused(string header) => Assert.Null(ConversationsApi.ParseIfMatch(header));
}
