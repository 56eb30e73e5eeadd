using Parley.Observer.Actions;
using Parley.Observer.Events;

namespace Parley.Observer.Rules;

/// <summary>The rules of one file, in file order.</summary>
public sealed record RuleSet(IReadOnlyList<Rule> Rules)
{
    /// <summary>The tables named by <c>table:</c> sources, as (schema, name), without repeats.</summary>
    public IReadOnlyList<(string Schema, string Name)> Tables =>
        Rules.Select(r => r.Source).OfType<TableSource>().Select(t => (t.Schema, t.Table)).Distinct().ToList();

    /// <summary>Whether any rule reads Parley's own events (the outbox).</summary>
    public bool ReadsParleyEvents => Rules.Any(r => r.Source is ParleySource);

    /// <summary>The rules <paramref name="e"/> matches (source, <c>on</c> and <c>when</c>), in file order.</summary>
    public IEnumerable<Rule> Matching(ObserverEvent e) => Rules.Where(r => r.Matches(e));

    /// <summary>
    /// These rules and the built-in <see cref="MessageIndexSpec.Rule"/>, which keeps <c>GET /v1/search/messages</c> fed:
    /// Parley's messages indexed, a deleted conversation's removed, through the queue like any action.
    /// </summary>
    public RuleSet WithMessageSearch() => new([
        .. Rules,
        new Rule(MessageIndexSpec.Rule, new ParleySource(), MessageIndexSpec.EventTypes.ToHashSet(StringComparer.Ordinal), null,
            [new RuleAction(MessageIndexSpec.Action, new MessageIndexTemplate(), RuleAction.DefaultRetry, ObserverOptions.DefaultActionTimeout)], Line: 0),
    ]);
}

/// <summary>Where a rule's events come from.</summary>
public abstract record RuleSource
{
    public abstract string Name { get; }
}

/// <summary><c>parley</c>: Parley's own events from the outbox.</summary>
public sealed record ParleySource : RuleSource
{
    /// <summary>The event types Parley writes to its outbox (OBSERVER.md, "Sources").</summary>
    public static readonly IReadOnlyList<string> EventTypes =
        ["message.created", "conversation.updated", "conversation.deleted", "participant.added", "participant.removed"];

    public override string Name => ObserverEvent.ParleySource;
}

/// <summary><c>table:schema.name</c>: a table's inserts, updates and deletes.</summary>
public sealed record TableSource(string Schema, string Table) : RuleSource
{
    public static readonly IReadOnlyList<string> EventTypes = ["insert", "update", "delete"];

    public override string Name => ObserverEvent.TableSource(Schema, Table);
}

/// <param name="On">The event types the rule reacts to (all of the source's when the file gives none).</param>
/// <param name="When">Null: every event of those types.</param>
public sealed record Rule(string Name, RuleSource Source, IReadOnlySet<string> On, Condition? When, IReadOnlyList<RuleAction> Actions, int Line)
{
    public bool Matches(ObserverEvent e) =>
        e.Source == Source.Name && On.Contains(e.Type) && (When is null || When.Matches(e));
}

/// <summary>One action of a rule, with its retry schedule and its templates unrendered.</summary>
/// <param name="Retry">Delay before each attempt: the first entry before the first (normally 0s). Its length is the number of attempts.</param>
/// <param name="Timeout">How long one attempt may take.</param>
public sealed record RuleAction(string Name, ActionTemplate Template, IReadOnlyList<TimeSpan> Retry, TimeSpan Timeout)
{
    /// <summary>Svix's schedule, OBSERVER.md's default: 0s, 5s, 5m, 30m, 2h, 5h, 10h, 10h.</summary>
    public static readonly IReadOnlyList<TimeSpan> DefaultRetry =
    [
        TimeSpan.Zero, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30),
        TimeSpan.FromHours(2), TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(10),
    ];

    public ActionSpec Render(ObserverEvent e) => Template.Render(e);
}

/// <summary>An action's settings as the rules file gives them; <see cref="Render"/> fills the templates.</summary>
public abstract record ActionTemplate
{
    public abstract ActionSpec Render(ObserverEvent e);

    /// <summary>The URL an HTTP action calls (its breaker and its entry in the endpoints table), or null.</summary>
    public virtual string? Endpoint => null;
}

public sealed record WebhookTemplate(Uri Url, string Secret, TimeSpan Timeout) : ActionTemplate
{
    public override ActionSpec Render(ObserverEvent e) => new WebhookSpec(Url, Secret, Timeout);

    public override string Endpoint => Url.OriginalString;
}

public sealed record EmailTemplate(IReadOnlyList<Template> To, Template Subject, Template Body) : ActionTemplate
{
    public override ActionSpec Render(ObserverEvent e) => new EmailSpec(To.Select(t => t.Render(e)).ToList(), Subject.Render(e), Body.Render(e));
}

public sealed record SlackTemplate(Uri Url, Template Text, TimeSpan Timeout) : ActionTemplate
{
    public override ActionSpec Render(ObserverEvent e) => new SlackSpec(Url, Text.Render(e), Timeout);

    public override string Endpoint => Url.OriginalString;
}

public sealed record IndexTemplate(string Name, Template Text) : ActionTemplate
{
    public override ActionSpec Render(ObserverEvent e) => new IndexSpec(Name, Text.Render(e));
}

/// <summary>The built-in message search's action: nothing to render, the runner reads the event.</summary>
public sealed record MessageIndexTemplate : ActionTemplate
{
    public override ActionSpec Render(ObserverEvent e) => MessageIndexSpec.Instance;
}
