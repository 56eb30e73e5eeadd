using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Parley.Redis;

namespace Parley.Server.Delivery;

/// <summary>
/// One event as clients receive it: the ready-to-send UTF-8 frame
/// <c>{"type", "eventId", "conversationId", ...payload}</c>, built once and shared by every socket.
/// </summary>
public sealed class DeliveryEvent
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private DeliveryEvent(StreamId id, Guid conversationId, string type, byte[] frame, Guid? subjectUserId, DateTime? messageCreatedAt)
    {
        Id = id;
        ConversationId = conversationId;
        Type = type;
        Frame = frame;
        SubjectUserId = subjectUserId;
        MessageCreatedAt = messageCreatedAt;
    }

    public StreamId Id { get; }

    public Guid ConversationId { get; }

    public string Type { get; }

    /// <summary>The text frame, UTF-8.</summary>
    public byte[] Frame { get; }

    /// <summary>The user a participant event is about (it also reaches that user when removed).</summary>
    public Guid? SubjectUserId { get; }

    /// <summary>For <c>message.created</c>: the message's createdAt, for the latency metric.</summary>
    public DateTime? MessageCreatedAt { get; }

    /// <summary>
    /// The frame's fields after <c>type</c> and <c>eventId</c>: <c>conversationId</c>, then the outbox
    /// payload's own fields. The observer's <c>data</c> of a Parley event is exactly these (OBSERVER.md).
    /// </summary>
    public static void WriteFields(Utf8JsonWriter writer, Guid conversationId, JsonElement payload)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteString("conversationId", conversationId);
        foreach (var property in payload.EnumerateObject())
            property.WriteTo(writer);
    }

    /// <summary>Builds the event of a stream entry; null for an entry that is not one of ours (or was deleted).</summary>
    public static DeliveryEvent? FromEntry(StreamEntry entry)
    {
        if (entry.IsDeleted || !StreamId.TryParse(entry.Id, out var id)) return null;
        if (!Guid.TryParse(entry.GetString(EventStream.ConversationField), out var conversation)) return null;
        var type = entry.GetString(EventStream.TypeField);
        if (string.IsNullOrEmpty(type) || entry[EventStream.PayloadField] is not { } payload) return null;

        var buffer = new ArrayBufferWriter<byte>(payload.Length + 160);
        Guid? subject = null;
        DateTime? createdAt = null;
        using (var document = JsonDocument.Parse(payload))
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type", type);
            writer.WriteString("eventId", entry.Id);
            WriteFields(writer, conversation, document.RootElement);
            writer.WriteEndObject();
            var root = document.RootElement;
            if (root.TryGetProperty("userId", out var userId) && userId.TryGetGuid(out var user)) subject = user;
            if (root.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object
                && message.TryGetProperty("createdAt", out var at) && at.TryGetDateTime(out var when))
                createdAt = when.ToUniversalTime();
        }
        return new DeliveryEvent(id, conversation, type, buffer.WrittenSpan.ToArray(), subject, createdAt);
    }
}
