using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Parley.Kit.Webhooks;

namespace Parley.Kit.Load.Observer;

/// <summary>
/// The receiver of an observer load run: Kestrel on 127.0.0.1, <c>POST /hook</c> answered 204 at once. Checks each
/// Standard Webhooks signature with its own HMAC (not the observer's code), counts deliveries per <c>webhook-id</c>
/// and per row, and records insert → received latency from the row's <c>created_ms</c> (the database's clock on this machine).
/// </summary>
public sealed class WebhookCounter : IAsyncDisposable
{
    private readonly byte[] _key;
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _byWebhookId = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, double> _firstByRow = new();
    private long _badSignatures;
    private long _requests;
    private long _lastArrival;

    private WebhookCounter(byte[] key, WebApplication app)
    {
        _key = key;
        _app = app;
    }

    /// <summary>http://127.0.0.1:port/hook</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>Rows whose first webhook arrived, with its latency in milliseconds.</summary>
    public IReadOnlyDictionary<long, double> Rows => _firstByRow;

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Unix milliseconds of the latest well-signed webhook.</summary>
    public long LastArrivalMs => Interlocked.Read(ref _lastArrival);

    public long BadSignatures => Interlocked.Read(ref _badSignatures);

    /// <summary>Deliveries beyond the first of the same <c>webhook-id</c>.</summary>
    public long Duplicated => _byWebhookId.Values.Sum(n => (long)n - 1);

    public static async Task<WebhookCounter> StartAsync(byte[] key, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(o => o.Limits.MaxRequestBodySize = 16 * 1024 * 1024);
        var app = builder.Build();
        var counter = new WebhookCounter(key, app);
        app.MapPost("/hook", counter.ReceiveAsync);
        await app.StartAsync(ct).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        counter.Url = new Uri(new Uri(address), "/hook");
        return counter;
    }

    private async Task<IResult> ReceiveAsync(HttpRequest request)
    {
        var received = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Interlocked.Increment(ref _requests);
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer).ConfigureAwait(false);
        var body = buffer.ToArray();
        var id = request.Headers["webhook-id"].ToString();
        var timestamp = request.Headers["webhook-timestamp"].ToString();
        if (!WebhookSignature.IsValid(_key, id, timestamp, request.Headers["webhook-signature"].ToString(), body))
        {
            Interlocked.Increment(ref _badSignatures);
            return Results.StatusCode(StatusCodes.Status204NoContent);
        }
        _byWebhookId.AddOrUpdate(id, 1, (_, n) => n + 1);
        for (var last = Interlocked.Read(ref _lastArrival); received > last; last = Interlocked.Read(ref _lastArrival))
            if (Interlocked.CompareExchange(ref _lastArrival, received, last) == last) break;
        using var json = JsonDocument.Parse(body);
        var data = json.RootElement.GetProperty("data");
        _firstByRow.TryAdd(data.GetProperty("id").GetInt64(), received - data.GetProperty("created_ms").GetDouble());
        return Results.StatusCode(StatusCodes.Status204NoContent);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
