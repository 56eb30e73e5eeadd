using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Parley.Data.Conversations;
using Parley.Redis;
using Parley.Server.Delivery;
using Parley.Server.Features.Health;

namespace Parley.Server.Features.Realtime;

/// <summary>
/// Typing indicators: a client's <c>{"type":"typing","conversationId"}</c> reaches the other participants'
/// sockets on every node as <c>{"type":"typing","conversationId","userId"}</c>. Ephemeral by design: never
/// stored, no eventId, not replayed on resume, dropped whenever something is in the way (a full queue,
/// Redis down, a sender over its rate). Nodes exchange them over Redis pub/sub (<c>parley:typing</c>),
/// not the event stream, so they cost no outbox row, stream entry or acknowledgement.
/// </summary>
public sealed partial class TypingRelay(
    ConnectionHub hub, ConversationAccess access, RedisClient redis, RedisProbe probe, IOptions<RedisOptions> redisOptions,
    IOptions<DeliveryOptions> options, IOptions<HealthOptions> health, TimeProvider time, ILogger<TypingRelay> logger) : BackgroundService
{
    // Typing is worth less than anything else a node does: a burst beyond this is dropped, not queued.
    private readonly Channel<(Guid User, Guid Conversation)> _outgoing =
        Channel.CreateBounded<(Guid, Guid)>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private string ChannelName => redis.Key("typing");

    /// <summary>From a connection's receive loop: relays at most one typing frame per <see cref="DeliveryOptions.TypingMinInterval"/> per socket.</summary>
    public void Typing(RealtimeConnection from, Guid conversationId)
    {
        if (from.TryTakeTypingSlot(time.GetTimestamp(), options.Value.TypingMinInterval, time))
            _outgoing.Writer.TryWrite((from.UserId, conversationId));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = redisOptions.Value.Clone();
        settings.AbortOnConnectFail = false;
        await using var subscriber = await RedisSubscriber.ConnectAsync(settings, logger, cancellationToken: stoppingToken);
        // Subscribing waits for Redis to confirm; retried in the background while sends go on (the subscriber resubscribes after a reconnect).
        var subscribed = SubscribeAsync(subscriber, stoppingToken);
        try
        {
            await foreach (var (user, conversation) in _outgoing.Reader.ReadAllAsync(stoppingToken))
                await PublishAsync(user, conversation, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        await subscribed;
    }

    private async Task SubscribeAsync(RedisSubscriber subscriber, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await subscriber.SubscribeAsync(ChannelName, DeliverAsync, ct);
                return;
            }
            catch (RedisException)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), time, ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task PublishAsync(Guid user, Guid conversation, CancellationToken ct)
    {
        if (!probe.Answers) return;
        try
        {
            // Only a participant's typing is relayed: an outsider learns nothing and reaches no one.
            if (await access.CheckAsync(conversation, user, ct) is not (AccessLevel.Member or AccessLevel.Owner)) return;
            await redis.ExecuteAsync("PUBLISH", [ChannelName, $"{conversation:N}:{user:N}"], TimeSpan.FromMilliseconds(health.Value.RedisTimeoutMilliseconds), ct);
        }
        catch (Exception e) when (e is RedisException or Npgsql.NpgsqlException or TimeoutException)
        {
            LogDropped(logger, e.Message);
        }
    }

    private async Task DeliverAsync(RedisChannelMessage message)
    {
        var text = message.Text;
        if (text.Length != 65 || !Guid.TryParseExact(text.AsSpan(0, 32), "N", out var conversation)
            || !Guid.TryParseExact(text.AsSpan(33), "N", out var sender)) return;
        var local = hub.Users();
        if (local.Length == 0) return;
        IReadOnlyCollection<Guid>? members;
        try
        {
            members = await access.MemberIdsAsync(conversation, CancellationToken.None);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            LogDropped(logger, e.Message);
            return;
        }
        if (members is null) return;
        var frame = new OutgoingFrame(null, Encoding.UTF8.GetBytes(
            $$"""{"type":"typing","conversationId":"{{conversation}}","userId":"{{sender}}"}"""), null);
        foreach (var user in local)
        {
            if (user == sender || !members.Contains(user)) continue;
            foreach (var connection in hub.ConnectionsOf(user)) connection.Enqueue(frame);
        }
    }

    [LoggerMessage(EventId = 3301, Level = LogLevel.Debug, Message = "A typing indicator was dropped: {Reason}")]
    private static partial void LogDropped(ILogger logger, string reason);
}
