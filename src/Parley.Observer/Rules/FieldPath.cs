using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Parley.Observer.Events;

namespace Parley.Observer.Rules;

/// <summary>
/// A dotted path into the event an action receives: <c>data.total</c>, <c>old.status</c>,
/// <c>data.message.body</c>, <c>data.items.0.sku</c>, or one of <c>id source type occurredAt</c>.
/// </summary>
public sealed partial record FieldPath(string Text, IReadOnlyList<string> Segments)
{
    private static readonly string[] Roots = ["id", "source", "type", "occurredAt", "data", "old"];

    [GeneratedRegex("^[A-Za-z0-9_]{1,128}$")]
    private static partial Regex Segment();

    /// <summary>Parses <paramref name="text"/>; null with <paramref name="problem"/> when it is no valid path.</summary>
    public static FieldPath? TryParse(string text, out string problem)
    {
        var segments = text.Split('.');
        if (!Roots.Contains(segments[0], StringComparer.Ordinal))
        {
            problem = $"field '{text}' must start with one of {string.Join(", ", Roots)}";
            return null;
        }
        if (segments.Skip(1).FirstOrDefault(s => !Segment().IsMatch(s)) is { } bad)
        {
            problem = $"field '{text}' has an invalid segment '{bad}' (letters, digits, underscores)";
            return null;
        }
        if (segments[0] is "id" or "source" or "type" or "occurredAt" && segments.Length > 1)
        {
            problem = $"field '{text}': '{segments[0]}' has no fields";
            return null;
        }
        problem = "";
        return new FieldPath(text, segments);
    }

    /// <summary>The value at this path in <paramref name="e"/>; null when absent (or JSON null).</summary>
    public JsonNode? Resolve(ObserverEvent e)
    {
        JsonNode? node = Segments[0] switch
        {
            "id" => JsonValue.Create(e.Id),
            "source" => JsonValue.Create(e.Source),
            "type" => JsonValue.Create(e.Type),
            "occurredAt" => JsonValue.Create(e.OccurredAt.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture)),
            "data" => e.Data,
            _ => e.Old,
        };
        for (var i = 1; i < Segments.Count && node is not null; i++)
        {
            node = node switch
            {
                JsonObject o => o.TryGetPropertyValue(Segments[i], out var child) ? child : null,
                JsonArray a when int.TryParse(Segments[i], out var index) && index >= 0 && index < a.Count => a[index],
                _ => null,
            };
        }
        return node;
    }

    public override string ToString() => Text;
}
