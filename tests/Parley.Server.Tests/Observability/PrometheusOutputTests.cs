using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Parley.Server.Observability;

namespace Parley.Server.Tests.Observability;

[Trait("Category", "Smoke")]
public sealed class PrometheusOutputTests
{
    [PromtoolFact]
    public void Promtool_accepts_a_rich_sample()
    {
        using var scope = new IsolatedMeter("System.Runtime");
        Meter meter = scope.Meter;
        meter.CreateCounter<long>("parley.messages.sent", "{message}", "Messages stored.").Add(3, new("conversation.kind", "group"), new("result", "ok"));
        meter.CreateCounter<double>("parley.cpu.time", "s").Add(0.75);
        meter.CreateUpDownCounter<int>("parley.sockets.active", "{socket}", "Open sockets.").Add(12, new KeyValuePair<string, object?>("node", "n\"1\""));
        meter.CreateGauge<double>("parley.pool.usage", "1", "Share of the pool in use.").Record(0.85);
        meter.CreateGauge<long>("parley.outbox.pending.count", "{row}").Record(4);
        Histogram<double> latency = meter.CreateHistogram<double>("parley.db.query.duration", "s", "Query time.");
        Histogram<long> size = meter.CreateHistogram<long>("parley.payload.size", "By", "Payload sizes.");
        Histogram<double> empty = meter.CreateHistogram<double>("parley.idle.duration", "s");
        foreach (double value in new[] { 0.0004, 0.003, 0.04, 0.2, 12.0 })
        {
            latency.Record(value, new("db.operation", "select"), new("replica", true));
            size.Record((long)(value * 100_000));
        }

        meter.CreateObservableGauge("parley.replica.lag", () => new Measurement<double>(0.5, new KeyValuePair<string, object?>("replica", "r1")), "s", "Replica lag.");
        meter.CreateObservableCounter("parley.dispatcher.batches", () => 42L, "{batch}");
        meter.CreateObservableUpDownCounter("parley.cache.entries", () => 1000, "{entry}", "Cached entries\nwith a two-line help.");
        GC.Collect();

        string text = scope.Scrape();
        (int exitCode, string output) = Promtool.CheckMetrics(text);

        Assert.True(exitCode == 0, $"promtool check metrics failed ({exitCode}):\n{output}\n--- output checked ---\n{text}");
        PrometheusAssert.WellFormed(text);
        Assert.Contains("dotnet_gc_collections_total", text, StringComparison.Ordinal);
        Assert.Contains("parley_outbox_pending_count_value 4", text, StringComparison.Ordinal);
    }

    [PromtoolFact]
    public async Task The_metrics_endpoint_serves_aspnetcore_metrics_that_promtool_accepts()
    {
        await using WebApplication app = await StartAppAsync();
        using HttpClient client = app.GetTestClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/ping")).StatusCode);

        await ScrapeUntilAsync(client, "http_route=\"/ping\"");
        using HttpResponseMessage response = await client.GetAsync("/metrics");
        string text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(response.Content.Headers.ContentType!.Parameters, p => p.Name == "version" && p.Value == "0.0.4");
        Assert.Contains("http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/ping\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("http_route=\"/metrics\"", text, StringComparison.Ordinal);
        (int exitCode, string output) = Promtool.CheckMetrics(text);
        Assert.True(exitCode == 0, $"promtool check metrics failed ({exitCode}):\n{output}\n--- output checked ---\n{text}");
    }

    [Fact]
    public async Task Each_host_exports_its_own_instruments_only()
    {
        await using WebApplication first = await StartAppAsync();
        await using WebApplication second = await StartAppAsync();
        using HttpClient firstClient = first.GetTestClient();
        using HttpClient secondClient = second.GetTestClient();
        for (int i = 0; i < 3; i++)
        {
            await firstClient.GetAsync("/ping");
        }

        await secondClient.GetAsync("/ping");
        // Hosting records a request's duration just after the client has its response.
        string firstText = await ScrapeUntilAsync(firstClient, "http_route=\"/ping\",network_protocol_version=\"1.1\",url_scheme=\"http\"} 3\n");
        string secondText = await ScrapeUntilAsync(secondClient, "http_route=\"/ping\",network_protocol_version=\"1.1\",url_scheme=\"http\"} 1\n");

        Assert.Contains("_count{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/ping\",network_protocol_version=\"1.1\",url_scheme=\"http\"} 3\n", firstText, StringComparison.Ordinal);
        Assert.Contains("_count{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/ping\",network_protocol_version=\"1.1\",url_scheme=\"http\"} 1\n", secondText, StringComparison.Ordinal);
    }

    private static async Task<string> ScrapeUntilAsync(HttpClient client, string expected)
    {
        string text = "";
        for (int attempt = 0; attempt < 100 && !text.Contains(expected, StringComparison.Ordinal); attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(50);
            }

            text = await client.GetStringAsync("/metrics");
        }

        return text;
    }

    private static async Task<WebApplication> StartAppAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddPrometheusExporter();
        WebApplication app = builder.Build();
        app.MapGet("/ping", () => "pong");
        app.MapPrometheusMetrics();
        await app.StartAsync();
        return app;
    }
}
