using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Parley.Observer.Tests.Actions;

/// <summary>One request as a receiver saw it.</summary>
internal sealed record Received(string Path, IHeaderDictionary Headers, byte[] Body, string ConnectionId);

/// <summary>A real HTTP receiver (Kestrel on 127.0.0.1, an ephemeral port) whose answer a test sets per request.</summary>
internal sealed class Receiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Channel<Received> _received = Channel.CreateUnbounded<Received>();
    private readonly System.Collections.Concurrent.ConcurrentQueue<Received> _all = new();
    private int _count;

    private Receiver(WebApplication app) => _app = app;

    /// <summary>How the receiver answers; default 200. Set it before the request it is for.</summary>
    public Func<HttpContext, Task> Respond { get; set; } = _ => Task.CompletedTask;

    /// <summary>Requests that arrived, in order.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Every request that arrived so far.</summary>
    public IReadOnlyCollection<Received> All => _all;

    public Uri BaseUrl { get; private set; } = null!;

    public Uri Url(string path) => new(BaseUrl, path);

    public static async Task<Receiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new Receiver(app);
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            Interlocked.Increment(ref receiver._count);
            var received = new Received(context.Request.Path, new HeaderDictionary(context.Request.Headers.ToDictionary()), body.ToArray(), context.Connection.Id);
            receiver._all.Enqueue(received);
            await receiver._received.Writer.WriteAsync(received);
            await receiver.Respond(context);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        receiver.BaseUrl = new Uri(address);
        return receiver;
    }

    /// <summary>The next request that arrived (bounded wait).</summary>
    public async Task<Received> NextAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await _received.Reader.ReadAsync(timeout.Token);
    }

    /// <summary>Answers only when the client gives up: a receiver that would take 100 s.</summary>
    public static Task Hang(HttpContext context) => Task.Delay(TimeSpan.FromSeconds(100), context.RequestAborted);

    public static Func<HttpContext, Task> Status(int status, Action<HttpResponse>? headers = null) => context =>
    {
        context.Response.StatusCode = status;
        headers?.Invoke(context.Response);
        return Task.CompletedTask;
    };

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}

/// <summary>A clock a test moves by hand (the breakers' break duration), so no test waits on real time.</summary>
internal sealed class ManualTime : TimeProvider
{
    private DateTimeOffset _now = DateTimeOffset.UtcNow;

    public override DateTimeOffset GetUtcNow() => _now;

    public override long GetTimestamp() => _now.UtcTicks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public void Advance(TimeSpan by) => _now += by;
}
