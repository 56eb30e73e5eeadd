using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Npgsql;
using Parley.Data.Search;
using Parley.Observer.Events;

namespace Parley.Observer.Actions;

/// <summary>
/// Writes the full-text index (<see cref="SearchStore"/>): an <see cref="IndexSpec"/> stores the rendered text under the
/// event's id in the named index; <see cref="MessageIndexSpec"/> keeps Parley's message search in step with its events.
/// Both are idempotent, so a replayed or retried event changes nothing.
/// </summary>
public sealed partial class IndexRunner(SearchStore store, ILogger<IndexRunner> log) : IActionRunner
{
    public bool CanRun(ActionSpec spec) => spec is IndexSpec or MessageIndexSpec;

    public async Task<ActionResult> RunAsync(ActionWork work, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(work);
        try
        {
            return work.Spec switch
            {
                IndexSpec index => await UpsertAsync(index, work.Event.Id, ct).ConfigureAwait(false),
                _ => await ApplyMessageEventAsync(work.Event, ct).ConfigureAwait(false),
            };
        }
        catch (NpgsqlException e) when (!ct.IsCancellationRequested)
        {
            LogFailed(work.WebhookId, e.Message);
            return new ActionResult(ActionOutcome.Failed, Error: $"database: {e.Message}");
        }
    }

    private async Task<ActionResult> UpsertAsync(IndexSpec spec, string eventId, CancellationToken ct)
    {
        await store.UpsertAsync(spec.Name, eventId, spec.Text, ct).ConfigureAwait(false);
        return ActionResult.Success();
    }

    /// <summary>The event's fields as OBSERVER.md gives them: <c>data.conversationId</c>, and <c>data.message</c> for messages.</summary>
    private async Task<ActionResult> ApplyMessageEventAsync(ObserverEvent e, CancellationToken ct)
    {
        if (e.Source != ObserverEvent.ParleySource || !Guid.TryParse(Text(e.Data["conversationId"]), out var conversation))
            return Malformed(e, "data.conversationId");
        switch (e.Type)
        {
            case "message.created":
                if (e.Data["message"] is not JsonObject message || !Guid.TryParse(Text(message["id"]), out var id) || Text(message["body"]) is not { } body)
                    return Malformed(e, "data.message.id and data.message.body");
                await store.IndexMessageAsync(conversation, id, body, ct).ConfigureAwait(false);
                break;
            case "conversation.deleted":
                await store.RemoveConversationAsync(conversation, ct).ConfigureAwait(false);
                break;
        }
        return ActionResult.Success();
    }

    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static ActionResult Malformed(ObserverEvent e, string what) =>
        new(ActionOutcome.Failed, Error: $"event {e.Id} ({e.Source} {e.Type}) lacks {what}");

    [LoggerMessage(Level = LogLevel.Information, Message = "Index action {ActionId} failed: {Error}")]
    private partial void LogFailed(string actionId, string error);
}
