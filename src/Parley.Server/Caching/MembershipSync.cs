using Microsoft.Extensions.Options;
using Parley.Data.Conversations;
using Parley.Redis;
using Parley.Server.Features.Health;

namespace Parley.Server.Caching;

/// <summary>
/// Keeps every node's participant sets current: a membership change is dropped locally and
/// published; each node's subscriber drops it on arrival. The local sets are used only while the
/// subscription is up, so a node that could miss an invalidation asks the primary instead.
/// </summary>
public sealed partial class MembershipSync(
    MembershipCache cache, RedisClient redis, RedisProbe probe, IOptions<RedisOptions> options, IOptions<HealthOptions> health,
    ILogger<MembershipSync> logger) : BackgroundService
{
    private string Channel => redis.Key("membership");

    /// <summary>Called after a membership change commits and before the request answers.</summary>
    public async Task PublishAsync(Guid conversationId, CancellationToken ct)
    {
        cache.Invalidate(conversationId);
        // Other nodes' subscriptions are down too, or their entries expire within MembershipCache.MaxAge (as for a failed publish).
        if (!probe.Answers)
        {
            LogPublishFailed(logger, conversationId, "Redis is not answering");
            return;
        }
        try
        {
            await redis.ExecuteAsync("PUBLISH", [Channel, conversationId.ToString("N")], TimeSpan.FromMilliseconds(health.Value.RedisTimeoutMilliseconds), ct);
        }
        catch (RedisException e)
        {
            LogPublishFailed(logger, conversationId, e.Message);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value.Clone();
        settings.AbortOnConnectFail = false;
        await using var subscriber = await RedisSubscriber.ConnectAsync(settings, logger, cancellationToken: stoppingToken);
        subscriber.ConnectionStateChanged += (_, e) =>
        {
            // Down: stop trusting local sets. Up: the subscriber resubscribes; start from empty.
            cache.SetEnabled(e.IsConnected && subscriber.Channels.Count > 0);
            LogState(logger, e.IsConnected);
        };
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await subscriber.SubscribeAsync(Channel, OnMessage, stoppingToken);
                cache.SetEnabled(subscriber.IsConnected);
                break;
            }
            catch (RedisException)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
        try
        {
            await Task.Delay(Timeout.Infinite, stoppingToken);
        }
        finally
        {
            cache.SetEnabled(false);
        }
    }

    private void OnMessage(RedisChannelMessage message)
    {
        if (Guid.TryParse(message.Text, out var conversationId)) cache.Invalidate(conversationId);
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Could not publish the membership change of {ConversationId}: {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, Guid conversationId, string reason);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Membership subscription connected: {Connected}; local participant sets {Connected}")]
    private static partial void LogState(ILogger logger, bool connected);
}
