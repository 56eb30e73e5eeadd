using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Parley.Kit.Load.Http;

namespace Parley.Kit.Tests.Load;

/// <summary>A bare Kestrel on a loopback port with the shapes of response the lean client must read.</summary>
public sealed class KestrelFixture : IAsyncLifetime
{
    private WebApplication? _app;

    public Uri BaseAddress { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapGet("/connection", (HttpContext context) => context.Connection.Id);
        _app.MapGet("/closing", (HttpContext context) =>
        {
            context.Response.Headers.Connection = "close";
            return context.Connection.Id;
        });
        _app.MapGet("/chunked", async (HttpContext context) =>
        {
            // No Content-Length and three flushes: Kestrel sends it chunked.
            foreach (var part in new[] { "first,", new string('m', 70_000), ",last" })
            {
                await context.Response.WriteAsync(part);
                await context.Response.Body.FlushAsync();
            }
        });
        _app.MapGet("/bytes/{size:int}", (int size) => Results.Bytes(Enumerable.Range(0, size).Select(i => (byte)i).ToArray(), "application/octet-stream"));
        _app.MapPost("/echo", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            context.Response.Headers.ETag = "\"9\"";
            context.Response.Headers.RetryAfter = "2";
            return $"{context.Request.Headers.Authorization}|{context.Request.Headers.IfMatch}|{context.Request.ContentType}|{body}";
        });
        await _app.StartAsync();
        BaseAddress = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
    }

    public async Task DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
    }
}

/// <summary>The lean client against a real Kestrel (keep-alive, chunked, limits) and scripted sockets (closes, silence).</summary>
[Trait("Category", "Integration")]
public sealed class LoopbackHttpClientTests(KestrelFixture kestrel) : IClassFixture<KestrelFixture>
{
    private LoopbackHttpClient Client(int connections = 4, int maxBody = LoopbackHttpOptions.DefaultMaxBodyBytes) =>
        new(kestrel.BaseAddress, new LoopbackHttpOptions { MaxConnections = connections, MaxBodyBytes = maxBody });

    private static string Text(LoopbackHttpResponse response) => Encoding.UTF8.GetString(response.Body);

    [Fact]
    public async Task Requests_in_turn_reuse_one_kept_alive_connection()
    {
        using var client = Client(connections: 1);

        var ids = new List<string>();
        for (var i = 0; i < 5; i++) ids.Add(Text(await client.SendAsync("GET", "connection")));

        Assert.Single(ids.Distinct());
        Assert.Equal(1, client.Connections);
    }

    [Fact]
    public async Task A_prepared_request_on_a_virtual_users_own_connection_is_sent_again_and_again()
    {
        using var shared = Client();
        using var own = shared.WithOwnConnection();
        var request = shared.Prepare("GET", "connection");

        var first = await own.SendAsync(request);
        var again = await own.SendAsync(request);

        Assert.Equal((200, Text(first)), (again.Status, Text(again)));
        Assert.Equal(0, shared.Connections);
    }

    [Fact]
    public async Task Concurrent_requests_stay_within_the_pool_bound()
    {
        using var client = Client(connections: 3);

        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => client.SendAsync("GET", "connection").AsTask()));

        Assert.All(responses, r => Assert.Equal(200, r.Status));
        Assert.InRange(responses.Select(Text).Distinct().Count(), 1, 3);
        Assert.InRange(client.Connections, 1, 3);
    }

    [Fact]
    public async Task A_chunked_body_from_kestrel_arrives_whole()
    {
        using var client = Client();

        var response = await client.SendAsync("GET", "chunked");

        Assert.Equal("first," + new string('m', 70_000) + ",last", Text(response));
    }

    [Fact]
    public async Task A_large_content_length_body_arrives_byte_for_byte_and_one_over_the_limit_fails()
    {
        using var client = Client(maxBody: 1_000_000);

        var response = await client.SendAsync("GET", "bytes/999999");
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync("GET", "bytes/1000001").AsTask());

        Assert.Equal(Enumerable.Range(0, 999_999).Select(i => (byte)i), response.Body);
        Assert.Equal(HttpRequestError.ConfigurationLimitExceeded, e.HttpRequestError);
        Assert.Equal(200, (await client.SendAsync("GET", "connection")).Status);
    }

    [Fact]
    public async Task A_server_that_says_close_gets_a_new_connection_for_the_next_request()
    {
        using var client = Client(connections: 1);

        var first = Text(await client.SendAsync("GET", "closing"));
        var second = Text(await client.SendAsync("GET", "connection"));

        Assert.NotEqual(first, second);
    }

    [Fact]
    public async Task Bearer_headers_and_body_reach_the_server_and_etag_and_retry_after_come_back()
    {
        using var client = Client();

        var response = await client.SendAsync("POST", "echo", "abc.def", "{\"x\":1}"u8.ToArray(), [("If-Match", "\"4\"")]);

        Assert.Equal("Bearer abc.def|\"4\"|application/json|{\"x\":1}", Text(response));
        Assert.Equal("\"9\"", response.ETag);
        Assert.Equal(TimeSpan.FromSeconds(2), response.RetryAfter);
    }

    /// <summary>A one-response-per-connection server: answers the first request on each connection, then closes it.</summary>
    private static async Task<(Uri Url, Task Serving)> OneShotServerAsync(CancellationToken ct)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = 0;
        var serving = Task.Run(async () =>
        {
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    using var socket = await listener.AcceptSocketAsync(ct);
                    var n = ++accepted;
                    var buffer = new byte[4096];
                    var read = 0;
                    while (!Encoding.ASCII.GetString(buffer, 0, read).Contains("\r\n\r\n", StringComparison.Ordinal))
                        read += await socket.ReceiveAsync(buffer.AsMemory(read), ct);
                    await socket.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{n}"), ct);
                    socket.Shutdown(SocketShutdown.Both);
                }
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                listener.Stop();
            }
        }, ct);
        await Task.Yield();
        return (new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/"), serving);
    }

    [Fact]
    public async Task A_get_on_a_connection_the_server_closed_is_sent_again_on_a_new_one()
    {
        using var stop = new CancellationTokenSource();
        var (url, serving) = await OneShotServerAsync(stop.Token);
        using var client = new LoopbackHttpClient(url, new LoopbackHttpOptions { MaxConnections = 1 });

        var first = await client.SendAsync("GET", "a");
        var second = await client.SendAsync("GET", "b");

        Assert.Equal(("1", "2"), (Text(first), Text(second)));
        await stop.CancelAsync();
        await serving;
    }

    [Fact]
    public async Task A_post_on_a_connection_the_server_closed_is_not_sent_twice()
    {
        using var stop = new CancellationTokenSource();
        var (url, serving) = await OneShotServerAsync(stop.Token);
        using var client = new LoopbackHttpClient(url, new LoopbackHttpOptions { MaxConnections = 1 });

        await client.SendAsync("POST", "a", body: "{}"u8.ToArray());
        // The server answered and closed; the POST may or may not have reached it, so it is the caller's to retry.
        var e = await Assert.ThrowsAsync<HttpConnectionException>(() => client.SendAsync("POST", "b", body: "{}"u8.ToArray()).AsTask());

        Assert.Equal(HttpRequestError.ConnectionError, e.HttpRequestError);
        Assert.Equal("2", Text(await client.SendAsync("POST", "c", body: "{}"u8.ToArray())));
        await stop.CancelAsync();
        await serving;
    }

    [Fact]
    public async Task A_connection_idle_past_the_idle_timeout_is_replaced_not_reused()
    {
        using var stop = new CancellationTokenSource();
        var (url, serving) = await OneShotServerAsync(stop.Token);
        using var client = new LoopbackHttpClient(url, new LoopbackHttpOptions { MaxConnections = 1, IdleTimeout = TimeSpan.FromMilliseconds(100) });

        await client.SendAsync("POST", "a", body: "{}"u8.ToArray());
        await Task.Delay(300); // idle past the timeout (the server closed it meanwhile, as Kestrel does after 130 s)
        // Unlike a POST right away (see above), this one goes out on a new connection and is answered.
        Assert.Equal("2", Text(await client.SendAsync("POST", "b", body: "{}"u8.ToArray())));
        await stop.CancelAsync();
        await serving;
    }

    [Fact]
    public async Task A_server_that_never_answers_times_out_and_a_cancelled_request_is_cancelled()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(); // accepts into the backlog, reads nothing, answers nothing
        var url = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
        using var client = new LoopbackHttpClient(url, new LoopbackHttpOptions { RequestTimeout = TimeSpan.FromMilliseconds(300) });

        var timedOut = await Assert.ThrowsAsync<TaskCanceledException>(() => client.SendAsync("GET", "silent").AsTask());
        Assert.IsType<TimeoutException>(timedOut.InnerException);

        using var patient = new LoopbackHttpClient(url, new LoopbackHttpOptions { RequestTimeout = TimeSpan.FromMinutes(1) });
        using var cancel = new CancellationTokenSource();
        var pending = patient.SendAsync("GET", "silent", ct: cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
    }
}
