using Npgsql;

namespace Parley.Kit.Chaos.Invariants;

/// <summary>
/// Checks a <see cref="ChaosLedger"/> against the database and the API after a run: every 201 message stored exactly once and
/// readable in history; every participant's listener saw it at least once; nothing reached a non-participant; no 5xx but
/// 503 (with Retry-After); nothing hung. Membership is judged by intervals: a message counts as "for" a user only if the user
/// was a member across the whole send (no change in flight), and as a leak only if the user was surely not one.
/// </summary>
public static class InvariantChecker
{
    /// <summary>Reads every message id of a conversation through the API (paging history).</summary>
    public delegate Task<IReadOnlyCollection<Guid>> HistoryReader(Guid conversationId, CancellationToken ct);

    public static async Task<InvariantReport> CheckAsync(
        ChaosLedger ledger, string primaryConnectionString, HistoryReader readHistory, TimeSpan deliverySettle, CancellationToken ct = default)
    {
        var sent = ledger.Sent;
        var ids = sent.Select(m => m.Id).Distinct().ToArray();
        var conversations = sent.Select(m => m.ConversationId).Distinct().ToArray();

        // Deliveries first: they are still arriving while the run drains.
        var settleStart = ledger.NowMs;
        var deadline = DateTime.UtcNow + deliverySettle;
        var report = CheckHistory(ledger);
        while (report.MissedDeliveries.Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, ct).ConfigureAwait(false);
            report = CheckHistory(ledger);
        }
        var settle = report.MissedDeliveries.Count == 0 ? (ledger.NowMs - settleStart) / 1000 : deliverySettle.TotalSeconds;

        var stored = new HashSet<Guid>();
        var twice = new List<string>();
        var builder = new NpgsqlConnectionStringBuilder(primaryConnectionString) { Pooling = false, Timeout = 15, CommandTimeout = 60 };
        await using (var connection = new NpgsqlConnection(builder.ConnectionString))
        {
            await connection.OpenAsync(ct).ConfigureAwait(false);
            await using (var command = new NpgsqlCommand("SELECT id FROM messages WHERE id = ANY(@ids)", connection))
            {
                command.Parameters.AddWithValue("ids", ids);
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                while (await reader.ReadAsync(ct).ConfigureAwait(false)) stored.Add(reader.GetGuid(0));
            }
            await using (var command = new NpgsqlCommand(
                """
                SELECT sender_id, client_message_id, count(*) FROM messages
                WHERE conversation_id = ANY(@conversations) AND client_message_id IS NOT NULL
                GROUP BY 1, 2 HAVING count(*) > 1
                """, connection))
            {
                command.Parameters.AddWithValue("conversations", conversations);
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                    twice.Add($"{reader.GetGuid(0)}/{reader.GetString(1)}×{reader.GetInt64(2)}");
            }
        }
        var inHistory = new HashSet<Guid>();
        foreach (var conversation in conversations)
            inHistory.UnionWith(await readHistory(conversation, ct).ConfigureAwait(false));

        return report with
        {
            Lost = ids.Where(id => !stored.Contains(id)).ToList(),
            StoredTwice = twice,
            MissingFromHistory = ids.Where(id => stored.Contains(id) && !inHistory.Contains(id)).ToList(),
            DeliverySettleSeconds = Math.Round(settle, 2),
        };
    }

    /// <summary>The checks that need only the ledger: deliveries, leaks, statuses, hangs.</summary>
    public static InvariantReport CheckHistory(ChaosLedger ledger)
    {
        var sent = ledger.Sent.GroupBy(m => m.Id).Select(g => g.First()).ToList();
        var listeners = ledger.Listeners;
        var membership = ledger.Membership.ToLookup(c => (c.ConversationId, c.UserId));
        var deliveries = ledger.Deliveries;
        var seen = deliveries.GroupBy(d => (d.ListenerId, d.MessageId)).ToDictionary(g => g.Key, g => g.Count());
        var byId = sent.ToDictionary(m => m.Id);

        var expected = 0;
        var missed = new List<string>();
        foreach (var message in sent)
        {
            foreach (var (listener, user) in listeners)
            {
                // Removal takes effect at once, delivery included: a member removed after the send may rightly miss it.
                var changes = membership[(message.ConversationId, user)];
                if (Membership(changes, message) != Member.Surely || changes.Any(c => !c.Added && c.StartMs >= message.StartMs)) continue;
                expected++;
                if (!seen.ContainsKey((listener, message.Id))) missed.Add($"{listener}:{message.Id}");
            }
        }
        var leaks = new List<string>();
        foreach (var delivery in deliveries)
        {
            // A delivery of a message this run did not see acknowledged (e.g. a timed-out send that committed) is judged
            // by the conversation's membership at the time of the delivery instead.
            var window = byId.TryGetValue(delivery.MessageId, out var message)
                ? message
                : new SentMessage(delivery.MessageId, delivery.ConversationId, Guid.Empty, "", delivery.AtMs, delivery.AtMs);
            // Delivery checks membership when it delivers: a user (re-)added before the delivery may read the message
            // in history anyway, so only a user who was not a member from the send until the delivery is a leak.
            var changes = membership[(delivery.ConversationId, delivery.UserId)];
            if (Membership(changes, window) == Member.SurelyNot && !changes.Any(c => c.Added && c.StartMs >= 0 && c.StartMs <= delivery.AtMs && c.EndMs >= window.StartMs))
                leaks.Add($"{delivery.ListenerId}:{delivery.MessageId}");
        }
        var requests = ledger.Requests;
        return new InvariantReport
        {
            Acknowledged = sent.Count,
            Listeners = listeners.Count,
            ExpectedDeliveries = expected,
            Deliveries = deliveries.Count,
            MissedDeliveries = missed,
            DuplicateDeliveries = seen.Values.Sum(count => count - 1),
            RepublishedDuplicates = deliveries.Where(d => d.EventId != "rest").GroupBy(d => (d.ListenerId, d.MessageId)).Sum(g => g.Select(d => d.EventId).Distinct().Count() - 1),
            Leaks = leaks,
            BadStatuses = requests.Where(r => r.Status >= 500 && (r.Status != 503 || !r.RetryAfter))
                .Select(r => $"{r.Operation}→{r.Status}{(r.Status == 503 ? " without Retry-After" : "")}@{r.StartMs / 1000:0.0}s").ToList(),
            Hung = requests.Where(r => r.TimedOut).Select(r => $"{r.Operation}@{r.StartMs / 1000:0.0}s ({r.LatencyMs:0} ms)").ToList(),
            TransportErrors = requests.Count(r => r.Status == 0 && !r.TimedOut),
        };
    }

    private enum Member
    {
        Surely,
        SurelyNot,
        InDoubt,
    }

    private static Member Membership(IEnumerable<MembershipChange> changes, SentMessage message)
    {
        var ordered = changes.OrderBy(c => c.EndMs).ToList();
        if (ordered.Any(c => c.StartMs >= 0 && c.StartMs <= message.EndMs && c.EndMs >= message.StartMs))
            return Member.InDoubt; // a change was in flight while the message was sent
        var before = ordered.LastOrDefault(c => c.EndMs < message.StartMs);
        // Two changes of the same membership that overlapped each other committed in an unknown order.
        if (before is not null && ordered.Any(c => c != before && c.Added != before.Added && c.StartMs <= before.EndMs && c.EndMs >= before.StartMs && c.StartMs >= 0))
            return Member.InDoubt;
        return before is { Added: true } ? Member.Surely : Member.SurelyNot;
    }
}
