using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Observer.Events;

namespace Parley.Observer.Rules;

/// <summary>The comparison of a <see cref="FieldCondition"/>.</summary>
public enum ConditionOp
{
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    In,
    Contains,
    Exists,
}

/// <summary>A rule's <c>when:</c>: field tests nested in <c>all:</c> / <c>any:</c>.</summary>
public abstract record Condition
{
    public abstract bool Matches(ObserverEvent e);
}

public sealed record AllCondition(IReadOnlyList<Condition> Conditions) : Condition
{
    public override bool Matches(ObserverEvent e) => Conditions.All(c => c.Matches(e));
}

public sealed record AnyCondition(IReadOnlyList<Condition> Conditions) : Condition
{
    public override bool Matches(ObserverEvent e) => Conditions.Any(c => c.Matches(e));
}

/// <summary>
/// <c>{ field, op, value }</c>. Numbers compare as numbers (a string that reads as a number counts as
/// one when the other side is a number: table columns of type numeric arrive as numbers, YAML
/// scalars are untyped); other values compare as their text. <c>exists</c> takes an optional
/// boolean (default true); <c>in</c> a list; <c>contains</c> tests a substring of a string or an
/// element of a list.
/// </summary>
public sealed record FieldCondition(FieldPath Field, ConditionOp Op, JsonNode? Value) : Condition
{
    public override bool Matches(ObserverEvent e)
    {
        var actual = Field.Resolve(e);
        return Op switch
        {
            ConditionOp.Eq => Same(actual, Value),
            ConditionOp.Ne => !Same(actual, Value),
            ConditionOp.Gt => Compare(actual, Value) is > 0,
            ConditionOp.Ge => Compare(actual, Value) is >= 0,
            ConditionOp.Lt => Compare(actual, Value) is < 0,
            ConditionOp.Le => Compare(actual, Value) is <= 0,
            ConditionOp.In => Value is JsonArray list && list.Any(v => Same(actual, v)),
            ConditionOp.Contains => actual switch
            {
                JsonArray list => list.Any(v => Same(v, Value)),
                JsonValue s when s.GetValueKind() == JsonValueKind.String && Value is not null =>
                    s.GetValue<string>().Contains(Template.ToText(Value), StringComparison.Ordinal),
                _ => false,
            },
            _ => IsPresent(actual) == (Value is not JsonValue b || b.GetValueKind() != JsonValueKind.False),
        };
    }

    private static bool IsPresent(JsonNode? node) => node is not null && node.GetValueKind() != JsonValueKind.Null;

    internal static bool Same(JsonNode? a, JsonNode? b)
    {
        if (!IsPresent(a) || !IsPresent(b)) return IsPresent(a) == IsPresent(b);
        if (Number(a, b) is { } n) return n == 0;
        return a!.GetValueKind() is JsonValueKind.Object or JsonValueKind.Array
            ? JsonNode.DeepEquals(a, b)
            : Template.ToText(a) == Template.ToText(b);
    }

    /// <summary>Order of two numbers or two strings; null when they are not comparable.</summary>
    internal static int? Compare(JsonNode? a, JsonNode? b)
    {
        if (!IsPresent(a) || !IsPresent(b)) return null;
        if (Number(a, b) is { } n) return n;
        return a!.GetValueKind() == JsonValueKind.String && b!.GetValueKind() == JsonValueKind.String
            ? Math.Sign(string.CompareOrdinal(a.GetValue<string>(), b.GetValue<string>()))
            : null;
    }

    // Numeric order when at least one side is a JSON number and both read as numbers.
    private static int? Number(JsonNode? a, JsonNode? b)
    {
        if (a!.GetValueKind() != JsonValueKind.Number && b!.GetValueKind() != JsonValueKind.Number) return null;
        if (AsDecimal(a) is { } x && AsDecimal(b) is { } y) return x.CompareTo(y);
        if (AsDouble(a) is { } p && AsDouble(b) is { } q) return p.CompareTo(q);
        return null;
    }

    private static string? ScalarText(JsonNode? node) =>
        node?.GetValueKind() is JsonValueKind.Number ? node.ToJsonString()
        : node?.GetValueKind() is JsonValueKind.String ? node.GetValue<string>() : null;

    private static decimal? AsDecimal(JsonNode? node) =>
        decimal.TryParse(ScalarText(node), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;

    private static double? AsDouble(JsonNode? node) =>
        double.TryParse(ScalarText(node), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;
}
