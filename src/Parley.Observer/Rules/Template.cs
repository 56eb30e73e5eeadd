using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Parley.Observer.Events;

namespace Parley.Observer.Rules;

/// <summary>
/// A text with <c>{{data.x}}</c> placeholders, rendered against an event: strings as they are,
/// other values as JSON, absent fields as nothing.
/// </summary>
public sealed partial class Template
{
    private readonly IReadOnlyList<object> _parts; // string literal or FieldPath

    private Template(string text, IReadOnlyList<object> parts)
    {
        Text = text;
        _parts = parts;
    }

    public string Text { get; }

    [GeneratedRegex(@"\{\{\s*(?<path>[^{}]*?)\s*\}\}")]
    private static partial Regex Placeholder();

    /// <summary>Parses <paramref name="text"/>; each bad placeholder is reported to <paramref name="problems"/>.</summary>
    public static Template Parse(string text, Action<string> problems)
    {
        var parts = new List<object>();
        var at = 0;
        foreach (Match m in Placeholder().Matches(text))
        {
            if (m.Index > at) parts.Add(text[at..m.Index]);
            if (FieldPath.TryParse(m.Groups["path"].Value, out var problem) is { } path) parts.Add(path);
            else problems($"template placeholder {m.Value}: {problem}");
            at = m.Index + m.Length;
        }
        if (at < text.Length) parts.Add(text[at..]);
        return new Template(text, parts);
    }

    public string Render(ObserverEvent e)
    {
        if (_parts.Count == 1 && _parts[0] is string only) return only;
        var builder = new StringBuilder();
        foreach (var part in _parts)
        {
            if (part is string literal) builder.Append(literal);
            else builder.Append(ToText(((FieldPath)part).Resolve(e)));
        }
        return builder.ToString();
    }

    internal static string ToText(JsonNode? node) => node switch
    {
        null => "",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => node.ToJsonString(),
    };

    public override string ToString() => Text;
}
