using Parley.Kit.Chaos.Invariants;

namespace Parley.Chaos.Tests.Invariants;

/// <summary>The ledger-only checks, on hand-made histories: what counts as missed, duplicated, leaked, bad or hung.</summary>
[Trait("Category", "Smoke")]
public sealed class InvariantCheckerTests
{
    private static readonly Guid Conversation = Guid.NewGuid();
    private static readonly Guid Alice = Guid.NewGuid();
    private static readonly Guid Bob = Guid.NewGuid();
    private static readonly Guid Eve = Guid.NewGuid();

    private static ChaosLedger Ledger()
    {
        var ledger = new ChaosLedger();
        ledger.RecordInitialMembers(Conversation, [Alice, Bob]);
        ledger.RegisterListener("bob", Bob);
        ledger.RegisterListener("eve", Eve);
        return ledger;
    }

    private static SentMessage Send(ChaosLedger ledger, double at) => Record(ledger, new SentMessage(Guid.NewGuid(), Conversation, Alice, $"m{at}", at, at + 5));

    private static SentMessage Record(ChaosLedger ledger, SentMessage message)
    {
        ledger.Record(message);
        return message;
    }

    private static void Deliver(ChaosLedger ledger, string listener, Guid user, SentMessage message) =>
        ledger.Record(new Delivery(listener, user, Conversation, message.Id, "1-0", message.EndMs + 1));

    [Fact]
    public void A_clean_history_passes_and_counts_duplicates_without_failing()
    {
        var ledger = Ledger();
        var message = Send(ledger, 10);
        Deliver(ledger, "bob", Bob, message);
        Deliver(ledger, "bob", Bob, message);
        var report = InvariantChecker.CheckHistory(ledger);
        Assert.True(report.Passed, report.Describe());
        Assert.Equal(1, report.ExpectedDeliveries);
        Assert.Equal(1, report.DuplicateDeliveries);
    }

    [Fact]
    public void A_message_a_member_never_saw_is_a_missed_delivery()
    {
        var ledger = Ledger();
        var message = Send(ledger, 10);
        var report = InvariantChecker.CheckHistory(ledger);
        Assert.False(report.Passed);
        Assert.Equal([$"bob:{message.Id}"], report.MissedDeliveries);
    }

    [Fact]
    public void A_delivery_to_a_non_participant_is_a_leak()
    {
        var ledger = Ledger();
        var message = Send(ledger, 10);
        Deliver(ledger, "bob", Bob, message);
        Deliver(ledger, "eve", Eve, message);
        var report = InvariantChecker.CheckHistory(ledger);
        Assert.Equal([$"eve:{message.Id}"], report.Leaks);
        Assert.Contains("1 leaked", report.Summary);
    }

    [Fact]
    public void Membership_changes_in_flight_make_a_message_neither_expected_nor_a_leak()
    {
        var ledger = Ledger();
        ledger.Record(new MembershipChange(Conversation, Eve, true, 8, 12));   // Eve joins while the message is sent
        ledger.Record(new MembershipChange(Conversation, Bob, false, 20, 21)); // Bob leaves after it
        var during = Send(ledger, 10);
        var after = Send(ledger, 30);
        Deliver(ledger, "eve", Eve, during);
        Deliver(ledger, "bob", Bob, during);
        Deliver(ledger, "eve", Eve, after);
        var report = InvariantChecker.CheckHistory(ledger);
        Assert.True(report.Passed, report.Describe());
        Assert.Equal(1, report.ExpectedDeliveries); // eve ← after; bob was removed after the send, so his delivery may be refused
    }

    [Fact]
    public void A_removed_member_receiving_later_messages_is_a_leak()
    {
        var ledger = Ledger();
        ledger.Record(new MembershipChange(Conversation, Bob, false, 1, 2));
        var message = Send(ledger, 10);
        Deliver(ledger, "bob", Bob, message);
        Assert.Single(InvariantChecker.CheckHistory(ledger).Leaks);
    }

    [Fact]
    public void Only_503_with_retry_after_is_an_acceptable_5xx_and_timeouts_are_hangs()
    {
        var ledger = Ledger();
        ledger.Record(new RequestOutcome("history", 503, 0, 5, false, true, null));
        ledger.Record(new RequestOutcome("history", 503, 0, 5, false, false, null));
        ledger.Record(new RequestOutcome("send", 500, 0, 5, false, false, null));
        ledger.Record(new RequestOutcome("send", 0, 0, 10_000, true, false, "timed out"));
        ledger.Record(new RequestOutcome("send", 0, 0, 1, false, false, "ConnectionError"));
        var report = InvariantChecker.CheckHistory(ledger);
        Assert.Equal(2, report.BadStatuses.Count);
        Assert.Single(report.Hung);
        Assert.Equal(1, report.TransportErrors);
        Assert.False(report.Passed);
    }
}
