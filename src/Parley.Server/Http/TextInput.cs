using System.Buffers;
using System.Text;

namespace Parley.Server.Http;

/// <summary>Which control characters a text field may hold; the other rules hold for every field.</summary>
public enum TextKind
{
    /// <summary>Message bodies: TAB, LF and CR are allowed, every other control character is refused.</summary>
    MultiLine,

    /// <summary>Titles, display names, handles, client message ids, passwords: no control character at all.</summary>
    SingleLine,
}

/// <summary>One text field of a request, for <see cref="TextInput.Refuse"/>.</summary>
public readonly record struct TextField(string Name, string? Value, TextKind Kind);

/// <summary>
/// The character rules of every text field (API.md: text fields refuse NUL and other non-characters).
/// Refused everywhere: NUL (PostgreSQL cannot store it), lone surrogates (not Unicode text; UTF-8
/// would turn them into U+FFFD, so two different strings would store the same), noncharacters
/// (U+FDD0–U+FDEF and the last two code points of every plane, U+FFFE, U+FFFF, U+1FFFE, …) and
/// control characters (C0, DEL, C1), except TAB, LF and CR in <see cref="TextKind.MultiLine"/> text.
/// </summary>
public static class TextInput
{
    // Every UTF-16 unit that may start a refused character; text without one is accepted at once.
    private static readonly SearchValues<char> Suspicious = SearchValues.Create(string.Concat(
        Range('\u0000', '\u001F'), Range('\u007F', '\u009F'), Range('\uD800', '\uDFFF'), Range('\uFDD0', '\uFDEF'), "\uFFFE\uFFFF"));

    /// <summary>Null when <paramref name="value"/> is acceptable, else what is wrong with it (e.g. "U+0000 (NUL) at character 4").</summary>
    public static string? Check(string value, TextKind kind)
    {
        var span = value.AsSpan();
        var i = span.IndexOfAny(Suspicious);
        if (i < 0) return null;
        while (i < span.Length)
        {
            if (Rune.DecodeFromUtf16(span[i..], out var rune, out var consumed) != OperationStatus.Done)
                return $"a lone surrogate (U+{(int)span[i]:X4}) at character {i}";
            if (Refused(rune, kind) is { } what)
                return $"{what} at character {i}";
            i += consumed;
        }
        return null;
    }

    /// <summary>A 400 ValidationProblem naming every field of <paramref name="fields"/> that breaks the rules; null when all are fine (null values are not checked).</summary>
    public static IResult? Refuse(params ReadOnlySpan<TextField> fields)
    {
        var errors = new Dictionary<string, string[]>();
        Collect(errors, fields);
        return errors.Count == 0 ? null : Problems.Validation(errors);
    }

    /// <summary>Adds the field errors of <paramref name="fields"/> to <paramref name="errors"/> (a field already there keeps its first error).</summary>
    public static void Collect(Dictionary<string, string[]> errors, params ReadOnlySpan<TextField> fields)
    {
        foreach (var field in fields)
        {
            if (field.Value is { } value && Check(value, field.Kind) is { } why)
                errors.TryAdd(field.Name, [$"{field.Name} must not contain {why}."]);
        }
    }

    private static string? Refused(Rune rune, TextKind kind)
    {
        var v = rune.Value;
        if (v == 0) return "U+0000 (NUL)";
        if (Rune.IsControl(rune) && !(kind == TextKind.MultiLine && v is 0x09 or 0x0A or 0x0D))
            return $"the control character U+{v:X4}";
        if (v is >= 0xFDD0 and <= 0xFDEF || (v & 0xFFFE) == 0xFFFE)
            return $"the noncharacter U+{v:X4}";
        return null;
    }

    private static string Range(char first, char last) =>
        string.Create(last - first + 1, first, (chars, start) =>
        {
            for (var k = 0; k < chars.Length; k++) chars[k] = (char)(start + k);
        });
}
