using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Parley.Observer.Actions;
using Parley.Observer.Events;

namespace Parley.Observer.Tests.Actions;

/// <summary>The HTTP runners wired as <see cref="ActionServices"/> wires them, over a clock the test moves.</summary>
internal sealed class HttpRunners : IDisposable
{
    public HttpRunners(BreakerOptions? breaker = null)
    {
        Breakers = new EndpointBreakers(Options.Create(breaker ?? new BreakerOptions()), Time);
        Sender = new HttpActionSender(Breakers, Time, NullLogger<HttpActionSender>.Instance);
        Webhook = new WebhookRunner(Sender, Time);
        Slack = new SlackRunner(Sender);
    }

    public ManualTime Time { get; } = new();

    public EndpointBreakers Breakers { get; }

    public HttpActionSender Sender { get; }

    public WebhookRunner Webhook { get; }

    public SlackRunner Slack { get; }

    public void Dispose()
    {
        Sender.Dispose();
        Breakers.Dispose();
    }
}

internal static class Work
{
    public static string NewSecret() => WebhookSignature.SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static ObserverEvent Event(string id = "0/16B3748.0") =>
        new(id, "table:public.orders", "insert", DateTimeOffset.UnixEpoch, new JsonObject { ["id"] = 42, ["note"] = "ünïcode & \"quotes\"" });

    public static ActionWork Webhook(Uri url, string secret, TimeSpan? timeout = null, int attempt = 1, ObserverEvent? e = null) =>
        new(e ?? Event(), "big-orders", "notify-shop", new WebhookSpec(url, secret, timeout ?? TimeSpan.FromSeconds(5)), attempt);
}

/// <summary>A test class with a fresh receiver and fresh runners per test.</summary>
public abstract class ReceiverTest : IAsyncLifetime
{
    private protected ReceiverTest(BreakerOptions? breaker = null) => Runners = new HttpRunners(breaker);

    private protected HttpRunners Runners { get; }

    private protected Receiver Receiver { get; set; } = null!;

    public async Task InitializeAsync() => Receiver = await Receiver.StartAsync();

    public async Task DisposeAsync()
    {
        await Receiver.DisposeAsync();
        Runners.Dispose();
    }
}
