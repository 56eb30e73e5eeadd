using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Parley.Kit.Webhooks;

namespace Parley.Kit.Chaos.Observer;

/// <summary>One webhook the receiver accepted: its <c>webhook-id</c>, the row number it carries, when it arrived (drill clock, ms).</summary>
public sealed record Delivery(string WebhookId, long N, double AtMs, DateTimeOffset ReceivedAt);

/// <summary>
/// A webhook receiver for observer drills (Kestrel on 127.0.0.1, an ephemeral port). <c>POST /hook</c> verifies the
/// Standard Webhooks signature (HMAC-SHA256 over <c>{id}.{timestamp}.{body}</c>), records the delivery with the row
/// number <c>data.n</c> and answers 200; a bad signature is counted and answered 401. <c>POST /slow</c> answers 200,
/// or while <see cref="SlowHangs"/> only when the caller gives up (a receiver that would take 100 s).
/// </summary>
public sealed class CountingReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly byte[] _key;
    private readonly Stopwatch _clock;
    private readonly ConcurrentQueue<Delivery> _deliveries = new();
    private readonly ConcurrentDictionary<string, int> _slow = new();
    private TaskCompletionSource? _held;
    private int _badSignatures;
    private int _slowCalls;
    private int _holding;

    private CountingReceiver(WebApplication app, string secret, Stopwatch clock)
    {
        _app = app;
        _key = Convert.FromBase64String(secret["whsec_".Length..]);
        _clock = clock;
    }

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>While true, <c>/slow</c> holds every request for 100 s or until the caller aborts it.</summary>
    public bool SlowHangs { get; set; }

    /// <summary>Accepted <c>/hook</c> deliveries (answered 200), in arrival order.</summary>
    public IReadOnlyCollection<Delivery> Deliveries => _deliveries;

    /// <summary><c>/hook</c> requests waiting for <see cref="Release"/> now.</summary>
    public int Holding => Volatile.Read(ref _holding);

    /// <summary>From now on <c>/hook</c> requests wait for <see cref="Release"/> (an aborted one is not accepted).</summary>
    public void Hold() => Interlocked.CompareExchange(ref _held, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);

    /// <summary>Answers the held requests and stops holding.</summary>
    public void Release() => Interlocked.Exchange(ref _held, null)?.TrySetResult();

    public int BadSignatures => Volatile.Read(ref _badSignatures);

    /// <summary>Requests <c>/slow</c> received (each attempt that reached it).</summary>
    public int SlowCalls => Volatile.Read(ref _slowCalls);

    /// <summary><c>webhook-id</c>s <c>/slow</c> answered 200.</summary>
    public IReadOnlyCollection<string> SlowDone => [.. _slow.Keys];

    /// <summary>Starts a receiver for <paramref name="secret"/> (<c>whsec_</c> + base64); <paramref name="clock"/> times the deliveries.</summary>
    public static async Task<CountingReceiver> StartAsync(string secret, Stopwatch clock, CancellationToken ct = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new CountingReceiver(app, secret, clock);
        app.MapPost("/hook", (Func<HttpContext, Task<IResult>>)receiver.HookAsync);
        app.MapPost("/slow", (Func<HttpContext, Task<IResult>>)receiver.SlowAsync);
        await app.StartAsync(ct).ConfigureAwait(false);
        receiver.BaseUrl = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        return receiver;
    }

    private async Task<IResult> HookAsync(HttpContext context)
    {
        var (id, body) = await ReadVerifiedAsync(context).ConfigureAwait(false);
        if (id is null) return Results.StatusCode(StatusCodes.Status401Unauthorized);
        if (Volatile.Read(ref _held) is { } gate)
        {
            Interlocked.Increment(ref _holding);
            try
            {
                await gate.Task.WaitAsync(TimeSpan.FromSeconds(100), context.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or TimeoutException)
            {
                return Results.StatusCode(StatusCodes.Status503ServiceUnavailable); // the caller is gone: not accepted
            }
            finally
            {
                Interlocked.Decrement(ref _holding);
            }
        }
        using var json = JsonDocument.Parse(body);
        var n = json.RootElement.GetProperty("data").GetProperty("n").GetInt64();
        _deliveries.Enqueue(new Delivery(id, n, _clock.Elapsed.TotalMilliseconds, DateTimeOffset.UtcNow));
        return Results.Ok();
    }

    private async Task<IResult> SlowAsync(HttpContext context)
    {
        Interlocked.Increment(ref _slowCalls);
        var (id, _) = await ReadVerifiedAsync(context).ConfigureAwait(false);
        if (id is null) return Results.StatusCode(StatusCodes.Status401Unauthorized);
        if (SlowHangs)
        {
            await Task.Delay(TimeSpan.FromSeconds(100), context.RequestAborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return Results.StatusCode(StatusCodes.Status504GatewayTimeout);
        }
        _slow.TryAdd(id, 0);
        return Results.Ok();
    }

    /// <summary>The body and its <c>webhook-id</c> when the signature is valid; a null id (counted) when not.</summary>
    private async Task<(string? Id, byte[] Body)> ReadVerifiedAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
        var body = buffer.ToArray();
        var id = context.Request.Headers["webhook-id"].ToString();
        var timestamp = context.Request.Headers["webhook-timestamp"].ToString();
        if (WebhookSignature.IsValid(_key, id, timestamp, context.Request.Headers["webhook-signature"].ToString(), body))
            return (id, body);
        Interlocked.Increment(ref _badSignatures);
        return (null, body);
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
