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

namespace Parley.Kit.Webhooks;

/// <summary>
/// One webhook the receiver accepted: its <c>webhook-id</c>, the row it carries (<c>data.n</c>, else <c>data.id</c>), when it
/// arrived (the receiver's clock, ms) and the wall-clock time.
/// </summary>
public sealed record WebhookDelivery(string WebhookId, long Row, double AtMs, DateTimeOffset ReceivedAt);

/// <summary>
/// The webhook receiver of observer drills and observer load runs: Kestrel on 127.0.0.1, an ephemeral port. <c>POST /hook</c>
/// checks the Standard Webhooks signature with its own HMAC (<see cref="WebhookSignature"/>, not the observer's code),
/// records the delivery and answers 204; a bad signature is counted and answered 401, or 204 when the receiver was
/// started not to refuse them (a load run counts them without making the observer retry). Deliveries are counted per
/// <c>webhook-id</c> (<see cref="Duplicated"/>) and per row, with insert → received latency from the row's
/// <c>created_ms</c> when it has one (the database's clock on this machine). <see cref="Hold"/> keeps <c>/hook</c>
/// requests waiting; <c>POST /slow</c> answers 204, or while <see cref="SlowHangs"/> only when the caller gives up.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly byte[] _key;
    private readonly bool _refuseBadSignatures;
    private readonly Stopwatch _clock;
    private readonly ConcurrentQueue<WebhookDelivery> _deliveries = new();
    private readonly ConcurrentDictionary<string, int> _byWebhookId = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, double> _firstByRow = new();
    private readonly ConcurrentDictionary<string, int> _slow = new();
    private TaskCompletionSource? _held;
    private long _badSignatures;
    private long _requests;
    private long _lastArrival;
    private int _slowCalls;
    private int _holding;

    private WebhookReceiver(WebApplication app, byte[] key, bool refuseBadSignatures, Stopwatch clock)
    {
        _app = app;
        _key = key;
        _refuseBadSignatures = refuseBadSignatures;
        _clock = clock;
    }

    /// <summary>http://127.0.0.1:port/</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>http://127.0.0.1:port/hook</summary>
    public Uri Url => new(BaseUrl, "hook");

    /// <summary>Accepted <c>/hook</c> deliveries, in arrival order.</summary>
    public IReadOnlyCollection<WebhookDelivery> Deliveries => _deliveries;

    /// <summary>Rows whose first webhook arrived, with its latency in milliseconds (rows with a <c>created_ms</c>).</summary>
    public IReadOnlyDictionary<long, double> Rows => _firstByRow;

    /// <summary><c>/hook</c> requests received, well signed or not.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Unix milliseconds of the latest well-signed webhook.</summary>
    public long LastArrivalMs => Interlocked.Read(ref _lastArrival);

    public long BadSignatures => Interlocked.Read(ref _badSignatures);

    /// <summary>Deliveries beyond the first of the same <c>webhook-id</c>.</summary>
    public long Duplicated => _byWebhookId.Values.Sum(n => (long)n - 1);

    /// <summary>While true, <c>/slow</c> holds every request for 100 s or until the caller aborts it.</summary>
    public bool SlowHangs { get; set; }

    /// <summary><c>/hook</c> requests waiting for <see cref="Release"/> now.</summary>
    public int Holding => Volatile.Read(ref _holding);

    /// <summary>From now on <c>/hook</c> requests wait for <see cref="Release"/> (an aborted one is not accepted).</summary>
    public void Hold() => Interlocked.CompareExchange(ref _held, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);

    /// <summary>Answers the held requests and stops holding.</summary>
    public void Release() => Interlocked.Exchange(ref _held, null)?.TrySetResult();

    /// <summary>Requests <c>/slow</c> received (each attempt that reached it).</summary>
    public int SlowCalls => Volatile.Read(ref _slowCalls);

    /// <summary><c>webhook-id</c>s <c>/slow</c> answered.</summary>
    public IReadOnlyCollection<string> SlowDone => [.. _slow.Keys];

    /// <summary>Starts a receiver for <paramref name="secret"/> (<c>whsec_</c> + base64); <paramref name="clock"/> times the deliveries.</summary>
    public static Task<WebhookReceiver> StartAsync(string secret, Stopwatch clock, CancellationToken ct = default) =>
        StartAsync(Convert.FromBase64String(secret["whsec_".Length..]), clock, refuseBadSignatures: true, ct);

    /// <summary>Starts a receiver for <paramref name="key"/>; <paramref name="refuseBadSignatures"/>: answer them 401 rather than 204.</summary>
    public static async Task<WebhookReceiver> StartAsync(byte[] key, Stopwatch? clock, bool refuseBadSignatures, CancellationToken ct = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.Limits.MaxRequestBodySize = 16 * 1024 * 1024;
        });
        var app = builder.Build();
        var receiver = new WebhookReceiver(app, key, refuseBadSignatures, clock ?? Stopwatch.StartNew());
        app.MapPost("/hook", (Func<HttpContext, Task<IResult>>)receiver.HookAsync);
        app.MapPost("/slow", (Func<HttpContext, Task<IResult>>)receiver.SlowAsync);
        await app.StartAsync(ct).ConfigureAwait(false);
        receiver.BaseUrl = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        return receiver;
    }

    private async Task<IResult> HookAsync(HttpContext context)
    {
        var received = DateTimeOffset.UtcNow;
        Interlocked.Increment(ref _requests);
        var (id, body) = await ReadVerifiedAsync(context).ConfigureAwait(false);
        if (id is null) return Results.StatusCode(_refuseBadSignatures ? StatusCodes.Status401Unauthorized : StatusCodes.Status204NoContent);
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
        Record(id, body, received);
        return Results.StatusCode(StatusCodes.Status204NoContent);
    }

    private void Record(string id, byte[] body, DateTimeOffset received)
    {
        var receivedMs = received.ToUnixTimeMilliseconds();
        _byWebhookId.AddOrUpdate(id, 1, (_, n) => n + 1);
        for (var last = Interlocked.Read(ref _lastArrival); receivedMs > last; last = Interlocked.Read(ref _lastArrival))
            if (Interlocked.CompareExchange(ref _lastArrival, receivedMs, last) == last) break;
        using var json = JsonDocument.Parse(body);
        var data = json.RootElement.GetProperty("data");
        var row = (data.TryGetProperty("n", out var n) ? n : data.GetProperty("id")).GetInt64();
        if (data.TryGetProperty("created_ms", out var created)) _firstByRow.TryAdd(row, receivedMs - created.GetDouble());
        _deliveries.Enqueue(new WebhookDelivery(id, row, _clock.Elapsed.TotalMilliseconds, received));
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
        return Results.StatusCode(StatusCodes.Status204NoContent);
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
