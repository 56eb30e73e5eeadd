using Parley.Observer.Events;

namespace Parley.Observer.Actions;

/// <summary>What one action does, with its templates already rendered against the event.</summary>
public abstract record ActionSpec;

/// <summary>A Standard Webhooks POST of the event (OBSERVER.md, "Webhooks").</summary>
/// <param name="Secret">The whole secret as written in the rules, <c>whsec_&lt;base64&gt;</c>.</param>
public sealed record WebhookSpec(Uri Url, string Secret, TimeSpan Timeout) : ActionSpec;

/// <summary>One email over SMTP (MailKit) to every address in <see cref="To"/>.</summary>
public sealed record EmailSpec(IReadOnlyList<string> To, string Subject, string Body) : ActionSpec;

/// <summary>An incoming-webhook style POST of <c>{"text": …}</c>.</summary>
public sealed record SlackSpec(Uri Url, string Text, TimeSpan Timeout) : ActionSpec;

/// <summary>The event's text stored in the named full-text index, under the event's id.</summary>
public sealed record IndexSpec(string Name, string Text) : ActionSpec;

/// <summary>
/// Parley's message search, fed from its own events: a <c>message.created</c> event's message is indexed, a
/// <c>conversation.deleted</c> event's conversation removed from the index; other events need nothing. The pipeline
/// runs it as the built-in rule <see cref="Rule"/> (source <c>parley</c>, on <see cref="EventTypes"/>) with the one
/// action <see cref="Action"/>, through the queue like any other action.
/// </summary>
public sealed record MessageIndexSpec : ActionSpec
{
    public const string Rule = "parley-search";

    public const string Action = "index-messages";

    public static IReadOnlyList<string> EventTypes { get; } = ["message.created", "conversation.deleted"];

    public static MessageIndexSpec Instance { get; } = new();
}

/// <summary>One attempt of one action of one event.</summary>
/// <param name="Attempt">1 for the first attempt.</param>
public sealed record ActionWork(ObserverEvent Event, string Rule, string Action, ActionSpec Spec, int Attempt)
{
    /// <summary>The Standard Webhooks <c>webhook-id</c>: the same on every attempt and every replay.</summary>
    public string WebhookId => $"{Event.Id}.{Rule}.{Action}";
}

public enum ActionOutcome
{
    /// <summary>Done (a 2xx, a mail accepted, a row written).</summary>
    Succeeded,

    /// <summary>Failed this time; retried on the schedule (no sooner than <see cref="ActionResult.RetryAfter"/>).</summary>
    Failed,

    /// <summary>Not attempted: the endpoint's breaker is open. Rescheduled without counting as a call.</summary>
    FailedFast,

    /// <summary>The receiver answered 410 Gone: its endpoint is disabled until enabled again.</summary>
    Gone,
}

/// <param name="Status">The HTTP status, when there was one.</param>
/// <param name="Error">What went wrong, for <c>debug-event</c> and the dead-letter queue.</param>
public sealed record ActionResult(ActionOutcome Outcome, int? Status = null, string? Error = null, TimeSpan? RetryAfter = null)
{
    public static ActionResult Success(int? status = null) => new(ActionOutcome.Succeeded, status);
}

/// <summary>Runs one kind of action. Implementations never throw for a failed attempt: they return it.</summary>
public interface IActionRunner
{
    bool CanRun(ActionSpec spec);

    Task<ActionResult> RunAsync(ActionWork work, CancellationToken ct);
}
