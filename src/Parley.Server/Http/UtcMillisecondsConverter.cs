using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Parley.Server.Http;

/// <summary>Writes timestamps as RFC 3339 UTC with exactly three fractional digits, as API.md fixes.</summary>
public sealed class UtcMillisecondsConverter : JsonConverter<DateTime>
{
    public override DateTime Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.GetDateTime().ToUniversalTime();

    public override void Write(Utf8JsonWriter writer, DateTime value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
}
