using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;

namespace Parley.Observer.Source;

/// <summary>A row as pgoutput sent it, as JSON; when larger than the budget, only the values before the one that passed it.</summary>
internal readonly record struct DecodedRow(JsonObject Row, long Bytes, bool TooLarge);

/// <summary>
/// pgoutput's text values as JSON by column type: booleans and numbers as such, json/jsonb parsed,
/// everything else as its text. A TOASTed value that did not change is left out (pgoutput does not send it).
/// </summary>
internal static class RowDecoder
{
    private const uint Bool = 16, Int8 = 20, Int2 = 21, Int4 = 23, Oid = 26, Json = 114, Float4 = 700, Float8 = 701, Numeric = 1700, Jsonb = 3802;

    /// <summary>Reads <paramref name="tuple"/>; past <paramref name="budget"/> bytes the remaining values are skipped unread.</summary>
    public static async Task<DecodedRow> ReadAsync(RelationMessage relation, ReplicationTuple tuple, long budget, CancellationToken ct)
    {
        var row = new JsonObject();
        long bytes = 0;
        var tooLarge = false;
        var i = 0;
        await foreach (var value in tuple.WithCancellation(ct))
        {
            var column = relation.Columns[i++];
            if (tooLarge) continue;
            switch (value.Kind)
            {
                case TupleDataKind.Null:
                    row[column.ColumnName] = null;
                    break;
                case TupleDataKind.UnchangedToastedValue:
                    break;
                default:
                    bytes += Math.Max(0, value.Length);
                    if (bytes > budget)
                    {
                        tooLarge = true;
                        continue;
                    }
                    row[column.ColumnName] = ToJson(column.DataTypeId, await value.Get<string>(ct));
                    break;
            }
        }
        return new DecodedRow(row, bytes, tooLarge);
    }

    internal static JsonNode? ToJson(uint type, string text)
    {
        switch (type)
        {
            case Bool:
                return JsonValue.Create(text == "t");
            case Int2 or Int4 or Int8 or Oid or Float4 or Float8 or Numeric:
                // NaN and Infinity have no JSON number.
                return text.Length > 0 && (char.IsDigit(text[^1]) || text[^1] == '.') ? JsonNode.Parse(text) : JsonValue.Create(text);
            case Json or Jsonb:
                try
                {
                    return JsonNode.Parse(text);
                }
                catch (JsonException)
                {
                    return JsonValue.Create(text);
                }
            default:
                return JsonValue.Create(text);
        }
    }
}
