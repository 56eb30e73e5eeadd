using System.Text;

namespace Parley.Kit.Chaos.Invariants;

/// <summary>What the invariant checker found. <see cref="Passed"/> when nothing was lost, stored twice, missed, leaked, crashed or hung.</summary>
public sealed record InvariantReport
{
    public int Acknowledged { get; init; }
    public int Listeners { get; init; }
    public int ExpectedDeliveries { get; init; }
    public int Deliveries { get; init; }

    /// <summary>201 messages not in the database.</summary>
    public IReadOnlyList<Guid> Lost { get; init; } = [];

    /// <summary>(sender, clientMessageId) pairs stored more than once.</summary>
    public IReadOnlyList<string> StoredTwice { get; init; } = [];

    /// <summary>201 messages stored but not returned by paging history.</summary>
    public IReadOnlyList<Guid> MissingFromHistory { get; init; } = [];

    /// <summary>(listener, message) pairs a participant's listener never saw.</summary>
    public IReadOnlyList<string> MissedDeliveries { get; init; } = [];

    /// <summary>Deliveries beyond the first of the same message to the same listener (allowed: at-least-once).</summary>
    public int DuplicateDeliveries { get; init; }

    /// <summary>Of those, repeats under another event id: the event was published twice, not merely sent twice.</summary>
    public int RepublishedDuplicates { get; init; }

    /// <summary>Deliveries to a listener whose user was not a participant while the message was sent.</summary>
    public IReadOnlyList<string> Leaks { get; init; } = [];

    /// <summary>Answers with a 5xx other than 503, or a 503 without Retry-After.</summary>
    public IReadOnlyList<string> BadStatuses { get; init; } = [];

    /// <summary>Requests that got no answer within their timeout.</summary>
    public IReadOnlyList<string> Hung { get; init; } = [];

    /// <summary>Requests without an HTTP answer (refused, reset): reported, not a violation (a client retries them).</summary>
    public int TransportErrors { get; init; }

    /// <summary>Seconds from the check's start until every expected delivery had arrived (0 when none were missing).</summary>
    public double DeliverySettleSeconds { get; init; }

    public bool Passed => Lost.Count == 0 && StoredTwice.Count == 0 && MissingFromHistory.Count == 0 && MissedDeliveries.Count == 0
        && Leaks.Count == 0 && BadStatuses.Count == 0 && Hung.Count == 0;

    /// <summary>One line: <c>ok: 812 acked, 2436/2436 delivered (3 dup), 0 lost, 0 leaked, 0 bad 5xx, 0 hung</c>.</summary>
    public string Summary =>
        $"{(Passed ? "ok" : "VIOLATED")}: {Acknowledged} acked, {ExpectedDeliveries - MissedDeliveries.Count}/{ExpectedDeliveries} delivered ({DuplicateDeliveries} dup{(RepublishedDuplicates > 0 ? $", {RepublishedDuplicates} republished" : "")}), "
        + $"{Lost.Count} lost, {StoredTwice.Count} stored twice, {MissingFromHistory.Count} not in history, {Leaks.Count} leaked, "
        + $"{BadStatuses.Count} bad 5xx, {Hung.Count} hung, {TransportErrors} transport errors";

    /// <summary>The summary and up to 10 examples of each violation.</summary>
    public string Describe()
    {
        var text = new StringBuilder(Summary).AppendLine();
        void List<T>(string title, IReadOnlyList<T> items)
        {
            if (items.Count == 0) return;
            text.Append("  ").Append(title).Append(" (").Append(items.Count).Append("): ").AppendJoin(", ", items.Take(10)).AppendLine(items.Count > 10 ? ", …" : "");
        }
        List("lost", Lost);
        List("stored twice", StoredTwice);
        List("missing from history", MissingFromHistory);
        List("missed deliveries", MissedDeliveries);
        List("leaked", Leaks);
        List("bad statuses", BadStatuses);
        List("hung", Hung);
        return text.ToString().TrimEnd();
    }
}
