using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Parley.Observer.Events;

/// <summary>
/// One database change as an action receives it (OBSERVER.md, "The event an action receives"):
/// <c>{"id", "source", "type", "occurredAt", "data", "old"?}</c>. <see cref="Id"/> is derived from the
/// change's place in the WAL, so it is the same on every read, across restarts and failovers.
/// </summary>
public sealed record ObserverEvent(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("occurredAt")] DateTimeOffset OccurredAt,
    [property: JsonPropertyName("data")] JsonObject Data,
    [property: JsonPropertyName("old"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonObject? Old = null)
{
    /// <summary>The source name of Parley's own events.</summary>
    public const string ParleySource = "parley";

    /// <summary>The source name of a table's changes: <c>table:schema.name</c>.</summary>
    public static string TableSource(string schema, string table) => $"table:{schema}.{table}";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The event as the JSON body an action sends (UTF-8).</summary>
    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static ObserverEvent FromJson(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize<ObserverEvent>(utf8, Json) ?? throw new JsonException("The event is null.");
}
