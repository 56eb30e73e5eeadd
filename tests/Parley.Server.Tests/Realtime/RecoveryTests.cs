using Parley.Server.Delivery;
using Parley.Server.Features.Realtime;

namespace Parley.Server.Tests.Realtime;

[Trait("Category", "Smoke")]
public sealed class RecoveryTests
{
    private static StreamId Id(string s) => StreamId.Parse(s);

    private static StreamState State(string? epoch, string? first, string last, string deleted = "0-0") =>
        new(epoch is null ? null : Id(epoch), first is null ? null : Id(first), Id(last), Id(deleted));

    [Theory]
    [InlineData("100-0", "100-0", "100-0", "200-0", "0-0", RecoveryDecision.Replay)]       // nothing trimmed
    [InlineData("150-3", "100-0", "100-0", "200-0", "0-0", RecoveryDecision.Replay)]       // mid-stream
    [InlineData("200-0", "100-0", "100-0", "200-0", "0-0", RecoveryDecision.Replay)]       // up to date: nothing to replay
    [InlineData("150-0", "100-0", "150-0", "200-0", "0-0", RecoveryDecision.Replay)]       // trimmed up to since
    [InlineData("150-0", "100-0", "160-0", "200-0", "0-0", RecoveryDecision.ResyncRequired)] // trimmed past since
    [InlineData("150-0", "100-0", "100-0", "200-0", "150-1", RecoveryDecision.ResyncRequired)] // deleted after since
    [InlineData("99-9", "100-0", "100-0", "200-0", "0-0", RecoveryDecision.ResyncRequired)]  // from an older epoch (Redis restarted)
    [InlineData("0-0", "100-0", "100-0", "200-0", "0-0", RecoveryDecision.ResyncRequired)]   // "everything" is not known
    [InlineData("200-1", "100-0", "100-0", "200-0", "0-0", RecoveryDecision.ResyncRequired)] // ahead of the stream
    [InlineData("200-0", "100-0", null, "200-0", "0-0", RecoveryDecision.Replay)]            // trimmed empty, since is the last
    [InlineData("150-0", "100-0", null, "200-0", "0-0", RecoveryDecision.ResyncRequired)]    // trimmed empty past since
    public void Decide_replays_only_when_nothing_after_since_can_be_lost(
        string since, string epoch, string? first, string last, string deleted, RecoveryDecision expected) =>
        Assert.Equal(expected, Recovery.Decide(Id(since), State(epoch, first, last, deleted)));

    [Fact]
    public void An_empty_new_stream_requires_resync_for_any_old_position() =>
        Assert.Equal(RecoveryDecision.ResyncRequired, Recovery.Decide(Id("5-0"), State(null, null, "0-0")));

    [Fact]
    public void Stream_ids_compare_numerically_not_as_text()
    {
        Assert.True(Id("10-0") > Id("9-0"));
        Assert.True(Id("10-2") > Id("10-1"));
        Assert.Equal("1712345678901-7", Id("1712345678901-7").ToString());
        Assert.False(StreamId.TryParse("abc", out _));
        Assert.False(StreamId.TryParse("1-", out _));
        Assert.False(StreamId.TryParse("-1", out _));
        Assert.False(StreamId.TryParse("1-2-3", out _));
    }

    [Fact]
    public void Stream_id_order_matches_tuple_order_for_random_ids()
    {
        var random = new Random(4);
        for (var i = 0; i < 1000; i++)
        {
            var a = new StreamId((ulong)random.Next(0, 5), (ulong)random.Next(0, 5));
            var b = new StreamId((ulong)random.Next(0, 5), (ulong)random.Next(0, 5));
            Assert.Equal((a.Milliseconds, a.Sequence).CompareTo((b.Milliseconds, b.Sequence)), a.CompareTo(b));
            Assert.Equal(a, StreamId.Parse(a.ToString()));
        }
    }
}

[Trait("Category", "Smoke")]
public sealed class CloseCodeTests
{
    [Fact]
    public void Close_codes_are_distinct_and_in_the_allowed_ranges()
    {
        int[] codes = [CloseCodes.Normal, CloseCodes.GoingAway, CloseCodes.UnsupportedData, CloseCodes.PolicyViolation,
            CloseCodes.MessageTooBig, CloseCodes.InternalError, CloseCodes.SlowConsumer, CloseCodes.DeadPeer,
            CloseCodes.TokenExpired, CloseCodes.SessionRevoked, CloseCodes.TooManySockets];
        Assert.Equal(codes.Length, codes.Distinct().Count());
        Assert.All(codes, c => Assert.True(c is >= 1000 and <= 1011 or >= 4000 and <= 4999, $"{c} is not a code a server may send"));
        Assert.All(codes, c => Assert.NotEqual("other", CloseCodes.Reason(c)));
    }

    [Theory]
    [InlineData(CloseCodes.GoingAway, true)]
    [InlineData(CloseCodes.SlowConsumer, true)]
    [InlineData(CloseCodes.InternalError, true)]
    [InlineData(CloseCodes.DeadPeer, true)]
    [InlineData(CloseCodes.TokenExpired, true)]
    [InlineData(CloseCodes.SessionRevoked, false)]
    [InlineData(CloseCodes.TooManySockets, false)]
    [InlineData(CloseCodes.Normal, false)]
    [InlineData(CloseCodes.PolicyViolation, false)]
    [InlineData(CloseCodes.MessageTooBig, false)]
    public void Clients_reconnect_after_server_side_closes_only(int code, bool reconnect) =>
        Assert.Equal(reconnect, CloseCodes.ShouldReconnect(code));

    [Fact]
    public void A_full_send_queue_closes_a_live_connection_as_slow_consumer_but_not_a_replaying_one()
    {
        using var socket = System.Net.WebSockets.WebSocket.CreateFromStream(new MemoryStream(), new System.Net.WebSockets.WebSocketCreationOptions { IsServer = true });
        var replaying = new RealtimeConnection(Guid.NewGuid(), Guid.NewGuid(), socket, 16, TimeProvider.System);
        var frame = new OutgoingFrame(new StreamId(1, 0), [1], null);
        for (var i = 0; i < 16; i++) Assert.True(replaying.Enqueue(frame));
        Assert.False(replaying.Enqueue(frame));
        Assert.False(replaying.IsClosing);
        Assert.False(replaying.TryGoLive(new StreamId(1, 0))); // lost live events: replay again
        Assert.True(replaying.TryGoLive(new StreamId(1, 0)));

        for (var i = 0; i < 16; i++) Assert.True(replaying.Enqueue(frame));
        Assert.False(replaying.Enqueue(frame));
        Assert.True(replaying.IsClosing);
    }

    [Theory]
    [InlineData("""{"type":"ping"}""", "ping", null)]
    [InlineData("""{"type":"other"}""", "other", null)]
    [InlineData("""{"type":"typing","conversationId":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}""", "typing", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")]
    [InlineData("""{"type":"typing","conversationId":"nope"}""", "typing", null)]
    [InlineData("""{"kind":"ping"}""", null, null)]
    [InlineData("""not json""", null, null)]
    [InlineData("""["ping"]""", null, null)]
    public void Client_frames_are_classified(string frame, string? type, string? conversation)
    {
        var parsed = ClientFrame.Parse(System.Text.Encoding.UTF8.GetBytes(frame));
        Assert.Equal(type, parsed?.Type);
        Assert.Equal(conversation is null ? null : Guid.Parse(conversation), parsed?.ConversationId);
    }
}
